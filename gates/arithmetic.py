"""Elementwise arithmetic, reductions and matrix products."""
import numpy as np

from .base import Gate, GateError, cast_like, unbroadcast


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
        out = _broadcast(self, np.add, a, b)
        self.a_shape, self.b_shape, self.dtype = np.shape(a), np.shape(b), np.result_type(out)
        return out

    def backward(self, dout):
        dout = cast_like(dout, self.dtype)
        return unbroadcast(dout, self.a_shape), unbroadcast(dout, self.b_shape)


class Subtract(Gate):
    """out = a - b."""

    rule = "d/d{0} = 1, d/d{1} = -1"

    def forward(self, a, b):
        out = _broadcast(self, np.subtract, a, b)
        self.a_shape, self.b_shape, self.dtype = np.shape(a), np.shape(b), np.result_type(out)
        return out

    def backward(self, dout):
        dout = cast_like(dout, self.dtype)
        return unbroadcast(dout, self.a_shape), unbroadcast(-dout, self.b_shape)


class Multiply(Gate):
    """out = a * b. Swaps: each input's local gradient is the other input."""

    rule = "d/d{0} = {1}, d/d{1} = {0} (swapper)"

    def forward(self, a, b):
        out = _broadcast(self, np.multiply, a, b)
        self.a, self.b, self.dtype = a, b, np.result_type(out)
        return out

    def backward(self, dout):
        dout = cast_like(dout, self.dtype)
        return (unbroadcast(dout * self.b, np.shape(self.a)),
                unbroadcast(dout * self.a, np.shape(self.b)))


class Divide(Gate):
    """out = a / b."""

    rule = "d/d{0} = 1/{1}, d/d{1} = -{0}/{1}^2"

    def forward(self, a, b):
        self.out = _broadcast(self, np.divide, a, b)
        self.b = b
        self.a_shape = np.shape(a)
        return self.out

    def backward(self, dout):
        dout = cast_like(dout, self.out)
        da = dout / self.b
        return unbroadcast(da, self.a_shape), unbroadcast(-da * self.out, np.shape(self.b))


class Max(Gate):
    """out = maximum(a, b). Routes the gradient to the larger input; a tie splits it equally."""

    rule = "1 to the larger of {0} and {1}, 0 to the other (router); 1/2 each at a tie"

    def forward(self, a, b):
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
        self.x = x
        return x * x

    def backward(self, dout):
        return cast_like(dout, self.x) * 2 * self.x


class Power(Gate):
    """out = x ** p for a fixed exponent p."""

    hyperparameters = ("p",)

    def __init__(self, p):
        self.p = p

    @property
    def rule(self):
        return f"{self.p} {{0}}^{self.p - 1}"

    def forward(self, x):
        self.x = x
        return np.power(x, self.p)

    def backward(self, dout):
        dout = cast_like(dout, self.x)
        return dout * self.p * np.power(self.x, self.p - 1)


class Exp(Gate):
    """out = exp(x); its derivative is its output."""

    rule = "exp({0}) = out"

    def forward(self, x):
        self.out = np.exp(x)
        return self.out

    def backward(self, dout):
        return cast_like(dout, self.out) * self.out


class Log(Gate):
    """out = log(x), natural logarithm, x > 0."""

    rule = "1/{0}"

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, dout):
        return cast_like(dout, self.x) / self.x


# --- reductions and copies ----------------------------------------------------

class Sum(Gate):
    """out = x.sum(axis, keepdims). Backward copies the upstream gradient to every summand."""

    rule = "1 for every summand (copies upstream back)"
    hyperparameters = ("axis", "keepdims")

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x_shape, self.dtype = np.shape(x), np.result_type(x)
        return np.sum(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, dout):
        dout = cast_like(dout, self.dtype)
        if self.axis is not None and not self.keepdims:
            dout = np.expand_dims(dout, self.axis)
        return np.broadcast_to(dout, self.x_shape).copy()


class Repeat(Gate):
    """out stacks ``n`` copies of x along a new axis. Backward sums the copies (adder)."""

    rule = "1 for each copy; the copies' gradients add"
    hyperparameters = ("n", "axis")

    def __init__(self, n, axis=0):
        self.n, self.axis = n, axis

    def forward(self, x):
        self.dtype = np.result_type(x)
        return np.repeat(np.expand_dims(x, self.axis), self.n, axis=self.axis)

    def backward(self, dout):
        return np.sum(cast_like(dout, self.dtype), axis=self.axis)


# --- matrix products ------------------------------------------------------------

class MatMul(Gate):
    """out = a @ b for a: (N, D), b: (D, M); returns (N, M)."""

    rule = "d{0} = dout @ {1}.T, d{1} = {0}.T @ dout"

    def forward(self, a, b):
        if np.ndim(a) != 2 or np.ndim(b) != 2 or np.shape(a)[1] != np.shape(b)[0]:
            raise GateError(self, f"a has shape {np.shape(a)} but b has shape {np.shape(b)}; "
                                    "expected 2-D a (N, D) and b (D, M)")
        self.a, self.b = a, b
        return a @ b

    def backward(self, dout):
        dout = cast_like(dout, np.result_type(self.a, self.b))
        return (dout @ self.b.T if self.wants_grad(0) else None,
                self.a.T @ dout if self.wants_grad(1) else None)
