"""Layers: affine maps, reshapes, dropout and batch normalisation."""
import math

import numpy as np

from .base import Gate, GateError, HyperparameterError, as_float, as_floats, cast_like, hyperparameter


class Affine(Gate):
    """out = x2 @ W + b, where x: (N, d1, ..., dk) is seen as x2: (N, D), D = d1*...*dk.

    W: (D, M), b: (M,); returns (N, M). dx comes back in x's shape.
    """

    rule = "d{0} = dout @ {1}.T, d{1} = {0}.T @ dout, d{2} = sum of dout over N"

    def forward(self, x, W, b):
        x, W, b = as_floats(self, "x W b", x, W, b)
        if x.ndim < 2 or np.ndim(W) != 2:
            raise GateError(self, f"x has shape {x.shape} and W has shape {np.shape(W)}; "
                                    "expected x (N, D, ...) and W (D, M)")
        # the row length spelled out, not -1: numpy cannot infer it for an empty batch
        x2 = x.reshape(x.shape[0], math.prod(x.shape[1:]))   # a view when x is contiguous
        if x2.shape[1] != W.shape[0]:
            expected = "x.shape[1] == W.shape[0]" if x.ndim == 2 else "prod(x.shape[1:]) == W.shape[0]"
            raise GateError(self, f"x has shape {x.shape} but W has shape {W.shape}; expected {expected}")
        if np.shape(b) != (W.shape[1],):
            raise GateError(self, f"W has shape {W.shape} but b has shape {np.shape(b)}; "
                                    f"expected b of shape ({W.shape[1]},)")
        self.x2, self.x_shape, self.W = x2, x.shape, W
        out = x2 @ W
        out += b      # into the fresh product: one allocation fewer than x2 @ W + b
        self.dtype = out.dtype
        return out

    def backward(self, dout):
        dout = cast_like(dout, self.dtype)
        dx = (dout @ self.W.T).reshape(self.x_shape) if self.wants_grad(0) else None
        return dx, self.x2.T @ dout, dout.sum(axis=0)


class Flatten(Gate):
    """out = x reshaped from (N, d1, ..., dk) to (N, d1*...*dk)."""

    rule = "reshape dout back to x's shape"

    def forward(self, x):
        x = as_float(self, x)
        if x.ndim == 0:
            raise GateError(self, "x is a scalar (shape ()); expected a batch (N, d1, ..., dk)")
        self.x_shape, self.dtype = x.shape, x.dtype
        return np.reshape(x, (x.shape[0], math.prod(x.shape[1:])))

    def backward(self, dout):
        return np.reshape(cast_like(dout, self.dtype), self.x_shape)


class Reshape(Gate):
    """out = x reshaped to ``shape``: one entry may be -1 (inferred), and 0 keeps the input's
    size on that axis (ONNX's convention), so ``Reshape((0, 0, heads, -1))`` splits the last
    axis of (N, T, D) into heads whatever N and T are."""

    rule = "reshape dout back to x's shape"
    hyperparameters = ("shape",)

    def __init__(self, shape):
        shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
        if not isinstance(shape, (tuple, list)) or not all(
                isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= -1 for n in shape) \
                or list(shape).count(-1) > 1:
            raise HyperparameterError(f"Reshape: shape must be integers >= -1 (one of them at most -1), "
                                      f"got {shape!r}")
        self.shape = tuple(int(n) for n in shape)

    def forward(self, x):
        x = as_float(self, x)
        self.x_shape, self.dtype = x.shape, x.dtype
        if any(n == 0 and k >= x.ndim for k, n in enumerate(self.shape)):
            raise GateError(self, f"x has shape {x.shape}; shape {self.shape} keeps (0) an axis x does not have")
        shape = tuple(x.shape[k] if n == 0 else n for k, n in enumerate(self.shape))
        try:
            return np.reshape(x, shape)
        except ValueError:
            raise GateError(self, f"x has shape {self.x_shape} ({np.size(x)} elements), "
                                    f"which cannot be reshaped to {self.shape}") from None

    def backward(self, dout):
        return np.reshape(cast_like(dout, self.dtype), self.x_shape)


class Dropout(Gate):
    """Inverted dropout: while training, out = x * mask / (1 - p), mask ~ Bernoulli(1 - p).

    ``p`` is the probability of *dropping* a unit (PyTorch's convention, not
    the keep probability of the original paper). When not training, out = x.
    ``seed`` is an int, None, or a ``numpy.random.Generator`` to share.
    """

    rule = "mask / (1 - p) while training, 1 otherwise"
    hyperparameters = ("p",)

    def __init__(self, p=0.5, seed=None):
        self.p = hyperparameter("Dropout", "p (the probability of dropping)", p, low=0, high=1)
        self.rng = np.random.default_rng(seed)

    def forward(self, x):
        x = as_float(self, x)
        self.dtype = x.dtype
        if not self.training or self.p == 0:
            self.mask = None
            return x
        uniform = self.rng.random(x.shape, dtype=x.dtype)      # float32 or float64, as_float made sure
        # p == 1 drops everything; dividing by 1 - p = 0 would make NaNs of the zeros
        scale = 0.0 if self.p == 1 else 1.0 / (1.0 - self.p)
        self.mask = (uniform >= self.p) * x.dtype.type(scale)
        return x * self.mask

    def backward(self, dout):
        if self.mask is None:
            return cast_like(dout, self.dtype)
        return cast_like(dout, self.mask) * self.mask


class BatchNorm(Gate):
    """out = gamma * (x - mean) / sqrt(var + eps) + beta, statistics per feature.

    x: (N, D) with gamma, beta: (D,), statistics over N; or x: (N, C, H, W)
    with gamma, beta: (C,), statistics over N, H, W (spatial batch norm).
    Training uses the batch's mean and biased variance and updates
    ``running_mean = momentum * running_mean + (1 - momentum) * mean``
    (likewise ``running_var``, with the unbiased variance as PyTorch does);
    evaluation uses the running statistics.
    """

    rule = "dx = gamma/std * (dout - mean(dout) - xhat * mean(dout * xhat))"
    hyperparameters = ("eps", "momentum")

    def __init__(self, eps=1e-5, momentum=0.9):
        self.eps = hyperparameter("BatchNorm", "eps", eps, low=0, low_open=True)
        self.momentum = hyperparameter("BatchNorm", "momentum", momentum, low=0, high=1)
        self.running_mean = self.running_var = None

    def forward(self, x, gamma, beta):
        x, gamma, beta = as_floats(self, "x gamma beta", x, gamma, beta)
        if x.ndim not in (2, 4):
            raise GateError(self, f"x has shape {x.shape}; expected (N, D) or (N, C, H, W)")
        features = x.shape[1]
        if np.shape(gamma) != (features,) or np.shape(beta) != (features,):
            raise GateError(self, f"x has shape {x.shape} but gamma has shape {np.shape(gamma)} "
                                    f"and beta {np.shape(beta)}; expected both of shape ({features},)")
        # statistics over every axis but the feature (channel) axis
        self.axes = (0,) if x.ndim == 2 else (0, 2, 3)
        self.bshape = (1, features) + (1,) * (x.ndim - 2)   # broadcasts a (features,) array
        if self.running_mean is None:
            self.running_mean = np.zeros(features, x.dtype)
            self.running_var = np.ones(features, x.dtype)
        self.batch_statistics = self.training   # what backward differentiates, whatever the mode is by then
        if self.batch_statistics and x.size // max(features, 1) < 2:
            # one value per feature has no variance: PyTorch refuses it too, rather than output beta
            raise GateError(self, f"x has shape {x.shape}: {x.size // max(features, 1)} value(s) per feature; "
                                  "training needs more than 1 to compute batch statistics (or call eval())")
        if self.batch_statistics:
            mean = x.mean(axis=self.axes)
            var = x.var(axis=self.axes)
            count = x.size // features
            m = self.momentum
            self.running_mean = m * self.running_mean + (1 - m) * mean
            self.running_var = m * self.running_var + (1 - m) * var * (count / max(count - 1, 1))
        else:
            mean = self.running_mean.astype(x.dtype, copy=False)
            var = self.running_var.astype(x.dtype, copy=False)
        self.inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype, copy=False)
        self.xhat = (x - mean.reshape(self.bshape)) * self.inv_std.reshape(self.bshape)
        self.gamma = gamma
        return self.xhat * self.gamma.reshape(self.bshape) + np.reshape(beta, self.bshape)

    def backward(self, dout):
        dout = cast_like(dout, self.xhat)
        dgamma = np.sum(dout * self.xhat, axis=self.axes)
        dbeta = np.sum(dout, axis=self.axes)
        scale = (self.gamma * self.inv_std).reshape(self.bshape)
        if not self.batch_statistics:    # running statistics are constants here
            return dout * scale, dgamma, dbeta
        count = dout.size // dout.shape[1]
        # compact form of the chain through mean and variance
        dx = scale * (dout - (dbeta.reshape(self.bshape) + self.xhat * dgamma.reshape(self.bshape)) / count)
        return dx, dgamma, dbeta
