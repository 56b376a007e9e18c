"""Elementwise arithmetic, reductions and matrix products."""
import math

import numpy as np
from scipy.special import erf

from .base import (
    Gate,
    GateError,
    HyperparameterError,
    as_float,
    as_floats,
    as_operands,
    cast_like,
    check_axis,
    hyperparameter,
    unbroadcast,
)


def _broadcast(gate, op, a, b):
    """``op(a, b)`` with numpy broadcasting, or a ValueError naming the gate and shapes."""
    try:
        return op(a, b)
    except ValueError:
        raise GateError(
            gate, f"a has shape {np.shape(a)} but b has shape {np.shape(b)}; they do not broadcast"
        ) from None


# --- binary elementwise gates (broadcasting) --------------------------------

class Add(Gate):
    """out = a + b. Distributes the upstream gradient unchanged to both inputs."""

    rule = "d/d{0} = 1, d/d{1} = 1 (distributor)"

    def forward(self, a, b):
        a, b = as_operands(self, "a b", a, b)
        out = _broadcast(self, np.add, a, b)
        self.a_shape, self.b_shape, self.dtype = np.shape(a), np.shape(b), np.result_type(out)
        return out

    def backward(self, dout):
        dout = cast_like(dout, self.dtype)
        return (unbroadcast(dout, self.a_shape) if self.wants_grad(0) else None,
                unbroadcast(dout, self.b_shape) if self.wants_grad(1) else None)


class Subtract(Gate):
    """out = a - b."""

    rule = "d/d{0} = 1, d/d{1} = -1"

    def forward(self, a, b):
        a, b = as_operands(self, "a b", a, b)
        out = _broadcast(self, np.subtract, a, b)
        self.a_shape, self.b_shape, self.dtype = np.shape(a), np.shape(b), np.result_type(out)
        return out

    def backward(self, dout):
        dout = cast_like(dout, self.dtype)
        return (unbroadcast(dout, self.a_shape) if self.wants_grad(0) else None,
                unbroadcast(-dout, self.b_shape) if self.wants_grad(1) else None)


class Multiply(Gate):
    """out = a * b. Swaps: each input's local gradient is the other input."""

    rule = "d/d{0} = {1}, d/d{1} = {0} (swapper)"

    def forward(self, a, b):
        a, b = as_operands(self, "a b", a, b)
        out = _broadcast(self, np.multiply, a, b)
        self.a, self.b, self.dtype = a, b, np.result_type(out)
        return out

    def backward(self, dout):
        dout = cast_like(dout, self.dtype)
        return (unbroadcast(dout * self.b, np.shape(self.a)) if self.wants_grad(0) else None,
                unbroadcast(dout * self.a, np.shape(self.b)) if self.wants_grad(1) else None)


class Divide(Gate):
    """out = a / b."""

    rule = "d/d{0} = 1/{1}, d/d{1} = -{0}/{1}^2"

    def forward(self, a, b):
        a, b = as_operands(self, "a b", a, b)
        self.out = _broadcast(self, np.divide, a, b)
        self.b = b
        self.a_shape = np.shape(a)
        return self.out

    def backward(self, dout):
        dout = cast_like(dout, self.out)
        da = dout / self.b
        return (unbroadcast(da, self.a_shape) if self.wants_grad(0) else None,
                unbroadcast(-da * self.out, np.shape(self.b)) if self.wants_grad(1) else None)


class Max(Gate):
    """out = maximum(a, b). Routes the gradient to the larger input; a tie splits it equally."""

    rule = "1 to the larger of {0} and {1}, 0 to the other (router); 1/2 each at a tie"

    def forward(self, a, b):
        a, b = as_operands(self, "a b", a, b)
        out = _broadcast(self, np.maximum, a, b)
        self.a_shape, self.b_shape = np.shape(a), np.shape(b)
        dtype = np.result_type(out)
        # share of the gradient that goes to a: 1, 0, or 1/2 at a tie
        self.a_share = (np.greater(a, b) + 0.5 * np.equal(a, b)).astype(dtype)
        return out

    def backward(self, dout):
        dout = cast_like(dout, self.a_share)
        da = dout * self.a_share
        return unbroadcast(da, self.a_shape), unbroadcast(dout - da, self.b_shape)


# --- unary elementwise gates --------------------------------------------------

class Square(Gate):
    """out = x ** 2."""

    rule = "2 {0}"

    def forward(self, x):
        x = as_float(self, x)
        self.x = x
        return x * x

    def backward(self, dout):
        return cast_like(dout, self.x) * 2 * self.x


class Power(Gate):
    """out = x ** p for a fixed exponent p."""

    hyperparameters = ("p",)

    def __init__(self, p):
        # a plain Python number: a numpy float64 exponent would promote float32 x to float64
        self.p = hyperparameter("Power", "p", p)

    @property
    def rule(self):
        return f"{self.p} {{0}}^{self.p - 1}"

    def forward(self, x):
        x = as_float(self, x)
        self.x = x
        return np.power(x, self.p)

    def backward(self, dout):
        dout = cast_like(dout, self.x)
        if self.p == 0:           # x ** 0 is constant: 0 everywhere, also at x = 0 (0 * 0 ** -1 is NaN)
            return np.zeros_like(dout * self.x)
        return dout * self.p * np.power(self.x, self.p - 1)


class Exp(Gate):
    """out = exp(x); its derivative is its output."""

    rule = "exp({0}) = out"

    def forward(self, x):
        x = as_float(self, x)
        self.out = np.exp(x)
        return self.out

    def backward(self, dout):
        return cast_like(dout, self.out) * self.out


class Log(Gate):
    """out = log(x), natural logarithm, x > 0."""

    rule = "1/{0}"

    def forward(self, x):
        x = as_float(self, x)
        self.x = x
        return np.log(x)

    def backward(self, dout):
        return cast_like(dout, self.x) / self.x


class Abs(Gate):
    """out = |x|; gradient sign(x), 0 at x = 0 (as ``torch.abs``)."""

    rule = "sign({0}) (0 at 0)"

    def forward(self, x):
        x = as_float(self, x)
        self.sign = np.sign(x)
        return np.abs(x)

    def backward(self, dout):
        return cast_like(dout, self.sign) * self.sign


class Erf(Gate):
    """out = erf(x), the error function; its derivative is 2 / sqrt(pi) exp(-x^2). (ONNX builds the
    exact GELU from it: a model imported from ONNX may hold one.)"""

    rule = "2/sqrt(pi) exp(-{0}^2)"

    def forward(self, x):
        self.x = as_float(self, x)
        return erf(self.x)

    def backward(self, dout):
        return cast_like(dout, self.x) * (2 / math.sqrt(math.pi)) * np.exp(-self.x * self.x)


class Clip(Gate):
    """out = x clamped to [min, max] (either bound may be None), as ``torch.clamp``: gradient 1
    inside the range and on its bounds, 0 outside."""

    rule = "1 where min <= {0} <= max, else 0"
    hyperparameters = ("min", "max")

    def __init__(self, min=None, max=None):
        self.min = hyperparameter("Clip", "min", min, optional=True)
        self.max = hyperparameter("Clip", "max", max, optional=True)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise HyperparameterError(f"Clip: min must not exceed max, got min={min!r}, max={max!r}")

    def forward(self, x):
        x = as_float(self, x)
        inside = np.ones(x.shape, bool)
        if self.min is not None:
            inside &= x >= self.min
        if self.max is not None:
            inside &= x <= self.max
        self.inside = inside.astype(x.dtype)
        return np.clip(x, self.min, self.max) if (self.min, self.max) != (None, None) else x.copy()

    def backward(self, dout):
        return cast_like(dout, self.inside) * self.inside


# --- reductions and copies ----------------------------------------------------

class Sum(Gate):
    """out = x.sum(axis, keepdims). Backward copies the upstream gradient to every summand."""

    rule = "1 for every summand (copies upstream back)"
    hyperparameters = ("axis", "keepdims")

    def __init__(self, axis=None, keepdims=False):
        name = type(self).__name__
        self.axis = hyperparameter(name, "axis", axis, "axis", optional=True)
        self.keepdims = hyperparameter(name, "keepdims", keepdims, "bool")

    def forward(self, x):
        x = as_float(self, x)
        check_axis(self, x, self.axis)
        self.x_shape, self.dtype = np.shape(x), np.result_type(x)
        return self.reduce(x)

    def reduce(self, x):
        return np.sum(x, axis=self.axis, keepdims=self.keepdims)

    def upstream_kept(self, dout):
        """``dout`` with the reduced axes put back (as keepdims=True would have left them)."""
        dout = cast_like(dout, self.dtype)
        if self.axis is not None and not self.keepdims:
            dout = np.expand_dims(dout, self.axis)
        return dout

    def backward(self, dout):
        return np.broadcast_to(self.upstream_kept(dout), self.x_shape).copy()


class Mean(Sum):
    """out = x.mean(axis, keepdims): `Sum` divided by the count of summands."""

    rule = "1/count for every summand"

    def reduce(self, x):
        out = np.mean(x, axis=self.axis, keepdims=self.keepdims)
        self.count = max(x.size // max(np.size(out), 1), 1)
        return out

    def backward(self, dout):
        return np.broadcast_to(self.upstream_kept(dout) / self.count, self.x_shape).copy()


class Amax(Sum):
    """out = x.max(axis, keepdims), as ``torch.amax``: the gradient goes to the maxima of each
    slice, split equally where several elements tie for it."""

    rule = "1/k to each of the k maxima, 0 elsewhere (router)"

    def reduce(self, x):
        if x.size == 0:
            raise GateError(self, f"x has shape {x.shape}: an empty array has no maximum")
        top = np.amax(x, axis=self.axis, keepdims=True)
        hits = x == top
        self.share = hits / np.sum(hits, axis=self.axis, keepdims=True, dtype=x.dtype)
        return top if self.keepdims else np.squeeze(top, axis=self.axis) if self.axis is not None \
            else top.reshape(())

    def backward(self, dout):
        return self.upstream_kept(dout) * self.share


class Repeat(Gate):
    """out stacks ``n`` copies of x along a new axis. Backward sums the copies (adder)."""

    rule = "1 for each copy; the copies' gradients add"
    hyperparameters = ("n", "axis")

    def __init__(self, n, axis=0):
        self.n = hyperparameter("Repeat", "n", n, "int", low=1)
        self.axis = hyperparameter("Repeat", "axis", axis, "int")

    def forward(self, x):
        x = as_float(self, x)
        self.dtype = np.result_type(x)
        return np.repeat(np.expand_dims(x, self.axis), self.n, axis=self.axis)

    def backward(self, dout):
        return np.sum(cast_like(dout, self.dtype), axis=self.axis)


# --- matrix products ------------------------------------------------------------

class MatMul(Gate):
    """out = a @ b with ``numpy.matmul`` semantics: a (..., n, k), b (..., k, m) -> (..., n, m).

    Leading (batch) axes broadcast, and their gradients are summed back to each input's
    shape; a 1-D a or b is a row or column vector, as in numpy.
    """

    rule = "d{0} = dout @ {1}.T, d{1} = {0}.T @ dout (over the last two axes)"

    def forward(self, a, b):
        a, b = as_floats(self, "a b", a, b)
        try:
            out = np.matmul(a, b)
        except ValueError:
            raise GateError(self, f"a has shape {a.shape} but b has shape {b.shape}; expected a (..., n, k) "
                                  "and b (..., k, m) with the same k and batch axes that broadcast") from None
        self.a, self.b, self.dtype = a, b, out.dtype
        return out

    def backward(self, dout):
        a, b = self.a, self.b
        dout = cast_like(dout, self.dtype)
        if a.ndim == 2 and b.ndim == 2:      # the common case, without the general reshaping below
            return (dout @ b.T if self.wants_grad(0) else None,
                    a.T @ dout if self.wants_grad(1) else None)
        a2 = a[None] if a.ndim == 1 else a              # a row vector (1, k)
        b2 = b[:, None] if b.ndim == 1 else b           # a column vector (k, 1)
        dout2 = dout.reshape(np.matmul(a2, b2).shape)   # put back the axes numpy dropped for vectors
        da = unbroadcast(dout2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape) \
            if self.wants_grad(0) else None
        db = unbroadcast(np.swapaxes(a2, -1, -2) @ dout2, b2.shape).reshape(b.shape) \
            if self.wants_grad(1) else None
        return da, db
