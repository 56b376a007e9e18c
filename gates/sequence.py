"""Gates for sequences and attention: embeddings, affine maps over the last axis, layer norm,
slicing, concatenation, transposition and softmax."""
import numpy as np
from scipy.special import log_softmax

from .base import Gate, GateError, HyperparameterError, as_float, as_floats, cast_like, check_axis, hyperparameter

# --- lookups and affine maps ----------------------------------------------------

class Embedding(Gate):
    """out = W[ids]: integer ids of any shape, W (V, D) -> (*ids.shape, D).

    backward: (None, dW) with dW[v] the sum of dout over the positions whose id is v.
    """

    rule = "d{1}[id] += dout at each position holding id (rows add where an id repeats)"

    def forward(self, ids, W):
        ids, W = np.asarray(ids), as_float(self, W, "W")
        if W.ndim != 2:
            raise GateError(self, f"W has shape {W.shape}; expected (V, D)")
        if ids.dtype.kind not in "iu":
            raise GateError(self, f"ids have dtype {ids.dtype} (shape {ids.shape}); expected integers")
        if ids.size and (ids.min() < 0 or ids.max() >= W.shape[0]):
            raise GateError(self, f"ids of shape {ids.shape} range over [{ids.min()}, {ids.max()}] but W "
                                  f"has shape {W.shape}; expected ids in [0, {W.shape[0]})")
        self.ids, self.W_shape, self.dtype = ids, W.shape, W.dtype
        return W[ids]

    def backward(self, dout):
        dout = cast_like(dout, self.dtype)
        dW = np.zeros(self.W_shape, self.dtype)
        np.add.at(dW, self.ids.reshape(-1), dout.reshape(-1, self.W_shape[1]))
        return None, dW


class Linear(Gate):
    """out = x @ W + b over the last axis: x (..., D), W (D, M), b (M,) -> (..., M).

    PyTorch's ``nn.Linear`` with ``W = weight.T``; `Affine` flattens instead.
    """

    rule = "d{0} = dout @ {1}.T, d{1} = {0}.T @ dout, d{2} = sum of dout (over every axis but the last)"

    def forward(self, x, W, b):
        x, W, b = as_floats(self, "x W b", x, W, b)
        if x.ndim < 1 or np.ndim(W) != 2 or x.shape[-1] != np.shape(W)[0] or np.shape(b) != np.shape(W)[1:]:
            raise GateError(self, f"x has shape {x.shape}, W {np.shape(W)}, b {np.shape(b)}; expected "
                                  "x (..., D), W (D, M) and b (M,)")
        self.x, self.W = x, W
        out = x @ W
        out += b
        self.dtype = out.dtype
        return out

    def backward(self, dout):
        dout = cast_like(dout, self.dtype)
        dout2 = dout.reshape(-1, dout.shape[-1])
        dx = dout @ self.W.T if self.wants_grad(0) else None
        return dx, self.x.reshape(-1, self.x.shape[-1]).T @ dout2, dout2.sum(axis=0)


class LayerNorm(Gate):
    """out = gamma * (x - mean) / sqrt(var + eps) + beta, statistics over the last axis.

    x (..., D), gamma and beta (D,); as ``torch.nn.functional.layer_norm`` (biased variance).
    """

    rule = "dx = gamma/std * (dout - mean(dout) - xhat * mean(dout * xhat)), means over the last axis"
    hyperparameters = ("eps",)

    def __init__(self, eps=1e-5):
        self.eps = hyperparameter("LayerNorm", "eps", eps, low=0, low_open=True)

    def forward(self, x, gamma, beta):
        x, gamma, beta = as_floats(self, "x gamma beta", x, gamma, beta)
        if x.ndim < 1 or np.shape(gamma) != x.shape[-1:] or np.shape(beta) != x.shape[-1:]:
            raise GateError(self, f"x has shape {x.shape}, gamma {np.shape(gamma)}, beta {np.shape(beta)}; "
                                  "expected x (..., D) with gamma and beta (D,)")
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        var = np.mean(centred * centred, axis=-1, keepdims=True)
        self.inv_std = (1 / np.sqrt(var + self.eps)).astype(x.dtype, copy=False)
        self.xhat = centred * self.inv_std
        self.gamma = gamma
        return self.xhat * gamma + beta

    def backward(self, dout):
        dout = cast_like(dout, self.xhat)
        lead = tuple(range(dout.ndim - 1))
        dxhat = dout * self.gamma
        dx = self.inv_std * (dxhat - dxhat.mean(axis=-1, keepdims=True)
                             - self.xhat * np.mean(dxhat * self.xhat, axis=-1, keepdims=True))
        return dx, np.sum(dout * self.xhat, axis=lead), np.sum(dout, axis=lead)


# --- shapes: slices, concatenation, transposition ----------------------------------

def _basic_index(index):
    """``index`` as a tuple of ints, slices, Ellipsis and None, or a TypeError."""
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if not (part is None or part is Ellipsis or isinstance(part, (slice, int, np.integer))) \
                or isinstance(part, bool):
            raise HyperparameterError(f"Slice: index must be basic indexing (ints, slices, Ellipsis, None), "
                                      f"got {part!r}")
    return index


class Slice(Gate):
    """out = x[index], basic indexing only; backward puts dout into zeros shaped like x."""

    rule = "dout where the slice took {0}, 0 elsewhere"
    hyperparameters = ("index",)

    def __init__(self, index):
        self.index = _basic_index(index)

    def forward(self, x):
        x = as_float(self, x)
        try:
            out = x[self.index]
        except IndexError as error:
            raise GateError(self, f"x has shape {x.shape}; index {self.index!r} does not fit ({error})") from None
        self.x_shape, self.dtype = x.shape, x.dtype
        return out

    def backward(self, dout):
        dx = np.zeros(self.x_shape, self.dtype)
        dx[self.index] = cast_like(dout, self.dtype)
        return dx


class Concat(Gate):
    """out = concatenate(xs, axis) for any number of inputs; backward splits dout back."""

    rule = "each input gets its own block of dout"
    hyperparameters = ("axis",)

    def __init__(self, axis=0):
        self.axis = hyperparameter("Concat", "axis", axis, "int")

    def forward(self, *xs):
        xs = [as_float(self, x, f"input {k}") for k, x in enumerate(xs)]
        if not xs:
            raise GateError(self, "no inputs; expected one or more arrays")
        try:
            out = np.concatenate(xs, axis=self.axis)
        except (ValueError, np.exceptions.AxisError):
            shapes = ", ".join(str(np.shape(x)) for x in xs)
            raise GateError(self, f"inputs have shapes {shapes}; expected equal shapes except along "
                                  f"axis {self.axis}") from None
        self.cuts = np.cumsum([np.shape(x)[self.axis] for x in xs])[:-1]
        self.dtype = out.dtype
        return out

    def backward(self, dout):
        dout = cast_like(dout, self.dtype)
        parts = tuple(np.split(dout, self.cuts, axis=self.axis))
        return parts if len(parts) > 1 else parts[0]


class Transpose(Gate):
    """out = numpy.transpose(x, axes); backward applies the inverse permutation."""

    rule = "transpose dout back with the inverse permutation"
    hyperparameters = ("axes",)

    def __init__(self, axes=None):
        self.axes = hyperparameter("Transpose", "axes", axes, "axes", optional=True)

    def forward(self, x):
        x = as_float(self, x)
        axes = tuple(range(x.ndim))[::-1] if self.axes is None else self.axes
        if len(axes) != x.ndim or not all(-x.ndim <= a < x.ndim for a in axes) \
                or sorted(a % x.ndim for a in axes) != list(range(x.ndim)):
            raise GateError(self, f"x has shape {x.shape}; axes {self.axes} are not a permutation of "
                                  f"its {x.ndim} axes")
        self.inverse = tuple(np.argsort([a % x.ndim for a in axes]))
        self.dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        return np.transpose(x, axes)

    def backward(self, dout):
        return np.transpose(cast_like(dout, self.dtype), self.inverse)


# --- softmax ---------------------------------------------------------------------

class Softmax(Gate):
    """out = exp(x) / sum(exp(x)) along ``axis``, with the maximum subtracted first (stable).

    Masks work by adding a large negative number (-1e9) where masked; a slice that
    is entirely -inf (masked everywhere) has no softmax and is refused, not turned into NaN.
    """

    rule = "out * (dout - sum(dout * out, axis))"
    hyperparameters = ("axis",)

    def __init__(self, axis=-1):
        self.axis = hyperparameter(type(self).__name__, "axis", axis, "int")

    def forward(self, x):
        x = as_float(self, x)
        if x.ndim == 0:
            raise GateError(self, "x is a scalar; expected an array with the softmax axis")
        check_axis(self, x, self.axis)
        top = x.max(axis=self.axis, keepdims=True)
        if not np.isfinite(top).all():
            raise GateError(self, f"x of shape {x.shape} has a slice along axis {self.axis} that is all "
                                  "-inf (fully masked), or holds NaN or +inf; mask with a large negative "
                                  "number such as -1e9, and leave at least one position unmasked")
        with np.errstate(under="ignore"):
            exp = np.exp(x - top)
        self.out = exp / exp.sum(axis=self.axis, keepdims=True)
        return self.out

    def backward(self, dout):
        dout = cast_like(dout, self.out)
        return self.out * (dout - np.sum(dout * self.out, axis=self.axis, keepdims=True))


class LogSoftmax(Softmax):
    """out = x - logsumexp(x) along ``axis``, stable for any finite x (scipy's ``log_softmax``).

    backward: dout - exp(out) * sum(dout, axis), with exp(out) the softmax.
    """

    rule = "dout - exp(out) * sum(dout, axis)"

    def forward(self, x):
        x = as_float(self, x)
        if x.ndim == 0:
            raise GateError(self, "x is a scalar; expected an array with the softmax axis")
        check_axis(self, x, self.axis)
        if not np.all(np.isfinite(np.max(x, axis=self.axis))):
            raise GateError(self, f"x of shape {x.shape} has a slice along axis {self.axis} that is all "
                                  "-inf (fully masked), or holds NaN or +inf; expected finite numbers")
        self.out = log_softmax(x, axis=self.axis)
        return self.out

    def backward(self, dout):
        dout = cast_like(dout, self.out)
        return dout - np.exp(self.out) * np.sum(dout, axis=self.axis, keepdims=True)
