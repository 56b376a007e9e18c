"""Activation functions: elementwise nonlinearities between layers."""
import math

import numpy as np
from scipy.special import expit, ndtr

from .base import Gate, as_float, cast_like, hyperparameter


class Sigmoid(Gate):
    """out = 1 / (1 + exp(-x)), computed stably for any finite x."""

    rule = "out * (1 - out)"

    def forward(self, x):
        x = as_float(self, x)
        # expit never overflows: exp(-x) for x = -1000 would.
        self.out = expit(x)
        return self.out

    def backward(self, dout):
        return cast_like(dout, self.out) * self.out * (1 - self.out)


class Tanh(Gate):
    """out = tanh(x)."""

    rule = "1 - out^2"

    def forward(self, x):
        x = as_float(self, x)
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        return cast_like(dout, self.out) * (1 - self.out * self.out)


class ReLU(Gate):
    """out = max(0, x). Passes the upstream gradient where x > 0; no Jacobian is built."""

    rule = "1 where {0} > 0, else 0"

    def forward(self, x):
        x = as_float(self, x)
        # the output is cached, not a mask: the graph holds the output anyway
        self.out = np.maximum(x, 0)
        return self.out

    def backward(self, dout):
        return cast_like(dout, self.out) * (self.out > 0)


class LeakyReLU(Gate):
    """out = x where x > 0, else negative_slope * x (``torch.nn.LeakyReLU``; slope at 0 too)."""

    rule = "1 where {0} > 0, else negative_slope"
    hyperparameters = ("negative_slope",)

    def __init__(self, negative_slope=0.01):
        self.negative_slope = hyperparameter("LeakyReLU", "negative_slope", negative_slope)

    def forward(self, x):
        x = as_float(self, x)
        self.slope = np.where(x > 0, x.dtype.type(1), x.dtype.type(self.negative_slope))
        return x * self.slope

    def backward(self, dout):
        return cast_like(dout, self.slope) * self.slope


class ELU(Gate):
    """out = x where x > 0, else alpha * (exp(x) - 1) (``torch.nn.ELU``)."""

    rule = "1 where {0} > 0, else out + alpha"
    hyperparameters = ("alpha",)

    def __init__(self, alpha=1.0):
        self.alpha = hyperparameter("ELU", "alpha", alpha)

    def forward(self, x):
        x = as_float(self, x)
        # expm1 keeps the digits of exp(x) - 1 for small |x|; min(x, 0) keeps exp from overflowing
        # on the positive side, which np.where would still compute
        negative = self.alpha * np.expm1(np.minimum(x, 0))
        self.positive = x > 0
        self.out = np.where(self.positive, x, negative)
        return self.out

    def backward(self, dout):
        dout = cast_like(dout, self.out)
        return dout * np.where(self.positive, 1, self.out + self.alpha)


class GELU(Gate):
    """out = x * Phi(x), Phi the standard normal CDF (``torch.nn.GELU``); with
    ``approximate="tanh"``, Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2."""

    hyperparameters = ("approximate",)
    _K = math.sqrt(2 / math.pi)

    def __init__(self, approximate="none"):
        self.approximate = hyperparameter("GELU", "approximate", approximate, "choice", choices=("none", "tanh"))

    @property
    def rule(self):
        return "Phi({0}) + {0} phi({0})" if self.approximate == "none" else "d/dx of the tanh form"

    def forward(self, x):
        x = as_float(self, x)
        self.x = x
        if self.approximate == "none":
            self.cdf = ndtr(x)          # scipy's normal CDF: accurate in both tails
        else:
            self.tanh = np.tanh(self._K * (x + 0.044715 * x ** 3))
            self.cdf = 0.5 * (1 + self.tanh)
        return x * self.cdf

    def backward(self, dout):
        dout, x = cast_like(dout, self.x), self.x
        if self.approximate == "none":
            pdf = np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
            return dout * (self.cdf + x * pdf)
        inner = self._K * (1 + 3 * 0.044715 * x * x)
        return dout * (self.cdf + 0.5 * x * (1 - self.tanh * self.tanh) * inner)
