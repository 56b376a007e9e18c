"""Activation functions: elementwise nonlinearities between layers."""
import numpy as np
from scipy.special import expit

from .base import Gate, as_float, cast_like


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
