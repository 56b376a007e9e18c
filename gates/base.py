"""The `Gate` base class and the helpers every gate shares."""
import math

import numpy as np


class NotForwardedError(RuntimeError, AttributeError):
    """A gate was asked for something its forward pass caches before forward ran.

    A RuntimeError by contract; also an AttributeError so that `hasattr`,
    `getattr(gate, name, default)` and `copy` keep working on a fresh gate.
    """


class Gate:
    """One operation of a computational graph: a local derivative you can read.

    Subclasses implement

    - ``forward(*inputs)``: take numpy arrays (or Python scalars), cache on
      ``self`` what backward needs, return one array or scalar;
    - ``backward(dout)``: take dL/d(output), shaped like the output, and
      return dL/d(input) for each input in order: a tuple when the gate has
      two or more inputs, the bare gradient when it has one, ``None`` for an
      input that carries no gradient (integer labels). Each gradient has its
      input's shape (undo broadcasting with `unbroadcast`) and dtype; backward
      never writes into ``dout`` or the cache.

    Backward is vectorised: no Jacobian matrix is ever built (a ReLU passes ``dout``
    where ``x > 0``, it does not multiply by a diagonal matrix). The dtype of the inputs
    is kept: float32 in, float32 out and float32 gradients, even for a float64-scalar
    ``dout`` (`cast_like`); integers are computed in float64 (`as_float`). A gate whose
    inputs do not fit raises `GateError` naming itself and the shapes.

    Before backward the graph sets ``needs_input_grad``, one bool per input;
    a gate may return None for an input that needs no gradient, to skip work
    (an Affine layer fed data needs no dx). Outside a graph it is None: all.

    Hyperparameters go to ``__init__`` (``Dropout(p=0.5)``, ``Conv2D(stride=1, pad=1)``)
    and are checked there; learned arrays (weights, biases, batch-norm scale and shift)
    are forward inputs, never hidden attributes: ``Affine().forward(x, W, b)``, and the
    graph holds them as params. Gates that differ between training and testing
    (``Dropout``, ``BatchNorm``) read ``self.training``, True by default, which the graph
    sets on all its gates. Calling backward before forward raises RuntimeError naming the gate.
    """

    training = True
    #: the local gradient in words, shown by ComputationalGraph.explain();
    #: {0}, {1}, ... stand for the names of the inputs
    rule = ""
    #: names of the __init__ arguments, shown by repr
    hyperparameters = ()
    #: which inputs want a gradient in the coming backward (None: all), set by the graph
    needs_input_grad = None

    def wants_grad(self, i):
        """Whether input ``i`` needs a gradient in this backward."""
        return self.needs_input_grad is None or self.needs_input_grad[i]

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __getattr__(self, name):
        # Only reached when normal lookup fails: in practice, backward reading
        # a cache that forward has not written yet.
        if name.startswith("__"):
            raise AttributeError(name)
        raise NotForwardedError(
            f"{type(self).__name__} has no cached {name!r}: call forward before backward"
        )

    def __repr__(self):
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.hyperparameters)
        return f"{type(self).__name__}({args})"


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the adjoint of numpy broadcasting."""
    if np.shape(grad) == shape:
        return grad
    lead = np.ndim(grad) - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1)
    return np.sum(grad, axis=tuple(range(lead)) + stretched).reshape(shape)


FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_F32, _F64 = FLOATS      # numpy's own singletons: an identity test is the cheapest check


def all_finite(array):
    """Whether every element of a float array is finite, in one BLAS pass where possible.

    sum(a * a) through ``numpy.dot`` is finite exactly when every element is, unless a
    square overflows (|a| > 1e154 in float64, 1e19 in float32): only then is the
    elementwise test needed. On a 784x256 gradient this takes about 11 us against 15 us for
    ``numpy.isfinite(a).all()`` and 29 us for a sum (the optimizers check every gradient
    of every step); tests/test_hardening.py checks it on NaN, inf and huge finite values.
    """
    if array.dtype.kind in "iub":
        return True
    if array.size < 1 << 14:
        # small: one reduction, cheaper than entering errstate; a sum is finite whenever every
        # element is, so only a NaN/inf sum (or one that overflowed) needs the elementwise test
        return math.isfinite(np.add.reduce(array, axis=None)) or bool(np.isfinite(array).all())
    flat = array.reshape(-1)
    with np.errstate(over="ignore"):    # an overflowing square is the case the fallback settles
        squares = np.dot(flat, flat)
    return bool(np.isfinite(squares)) or bool(np.isfinite(array).all())


def as_float(gate, x, name="x"):
    """``x`` as a float32 or float64 array: the one dtype rule of every gate.

    Integers and booleans are computed in float64 (a tie of integers must split 1/2,
    not 0/1); complex, object, float16 and non-numeric data are refused, naming the
    gate, the input and its shape, rather than silently losing information.
    """
    if type(x) is np.ndarray and ((dtype := x.dtype) is _F64 or dtype is _F32):
        return x                  # the usual case, kept cheap: it runs in every forward
    array = np.asarray(x)
    if array.dtype in FLOATS:     # compared by value: float32/64 of the other byte order too
        return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))
    if array.dtype.kind in "iub":
        return array.astype(np.float64)
    raise GateError(gate, f"{name} has dtype {array.dtype} (shape {array.shape}); expected float32 or "
                          "float64 numbers (integers and booleans are computed in float64; complex, "
                          "float16 and object arrays are not supported)")


def check_axis(gate, x, axis):
    """``axis`` (an int, a tuple or None) fits ``x``, or a GateError naming the gate and the shape."""
    for a in (() if axis is None else axis if isinstance(axis, tuple) else (axis,)):
        if not -x.ndim <= a < max(x.ndim, 1) or (x.ndim == 0 and a not in (0, -1)):
            raise GateError(gate, f"x has shape {x.shape}; axis {axis} is out of its range")


def as_floats(gate, names, *values):
    """`as_float` of each value, named by the words of ``names``: ``a, b = as_floats(self, "a b", a, b)``."""
    for value in values:
        if type(value) is not np.ndarray or ((dtype := value.dtype) is not _F64 and dtype is not _F32):
            return tuple(as_float(gate, value, name) for name, value in zip(names.split(), values))
    return values                 # the usual case, decided without a call per value


def as_operands(gate, names, *values):
    """`as_floats` for the operands of an elementwise gate, but a Python number stays one.

    numpy's promotion treats a Python number as weak (float32 * 0.5 is float32), where a
    0-d float64 array would promote float32 to float64: ``x * 0.5`` in a float32 graph
    must stay float32. Gates that read an input's shape take `as_floats` instead.
    """
    for value in values:
        if type(value) is not np.ndarray or ((dtype := value.dtype) is not _F64 and dtype is not _F32):
            return tuple(float(value) if type(value) in (float, int, bool) else as_float(gate, value, name)
                         for name, value in zip(names.split(), values))
    return values                 # the usual case, as in as_floats


def cast_like(dout, like):
    """``dout`` as an array of the float dtype of ``like`` (an array, scalar or dtype).

    A float64 scalar or array must not promote float32 gradients to float64
    (numpy's promotion rules would), so gates cast the upstream gradient once.
    """
    dtype = like if isinstance(like, np.dtype) else np.result_type(like)
    if type(dout) is np.ndarray and dout.dtype == dtype:
        return dout               # the usual case, kept cheap: it runs in every backward
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    if np.ndim(dout) == 0:
        return dtype.type(dout)   # a numpy scalar, as numpy's own scalar arithmetic gives
    return np.asarray(dout, dtype=dtype)


class GateError(ValueError):
    """A gate's inputs do not fit. Carries the gate as data, so a graph can name the node.

    ``str(error)`` reads ``Affine: x has shape (2, 5) but ...``; the graph raises
    ``error.at(node)`` instead, which puts the node's label in front of ``detail``.
    """

    def __init__(self, gate, detail, where=None):
        self.gate, self.detail = gate, detail
        self.where = where or type(gate).__name__
        super().__init__(f"{self.where}: {detail}")

    def at(self, label):
        """The same error, blamed on the node ``label`` (``layer1 (Affine)``)."""
        return type(self)(self.gate, self.detail, where=label)
