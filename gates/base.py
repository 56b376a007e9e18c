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


# --- the one dtype rule -------------------------------------------------------------

def computed_dtype(dtype):
    """The dtype data of ``dtype`` is computed in, by the one dtype rule, or None if it is refused.

    float32 and float64 are kept (either byte order, computed in the native one); integers
    and booleans are computed in float64 (a tie of integers must split 1/2, not 0/1);
    complex (its imaginary part would be lost), float16, object and text are refused.
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize in (4, 8):     # float32/64 of either byte order
        return _F32 if dtype.itemsize == 4 else _F64
    if dtype.kind in "iub":
        return _F64
    return None


def dtype_refusal(what, dtype, shape):
    """The one message for data the dtype rule refuses: ``what`` names it (``x``, ``param 'W'``)."""
    return (f"{what} has dtype {dtype} (shape {tuple(shape)}); expected float32 or float64 numbers "
            "(integers and booleans are computed in float64; complex, float16, object and text are "
            "not supported)")


def float_array(value, what, gate=None):
    """``value`` as a float32 or float64 array of the native byte order, by the one dtype rule.

    Used by every gate (through `as_float`), feed, param, constant, loaded file and optimizer
    slot. Refused data raises `DtypeError` naming ``what`` (and the gate, when there is one).
    A float array of the native byte order is returned as it is, never copied.
    """
    array = np.asarray(value)
    dtype = array.dtype
    if dtype is _F64 or dtype is _F32:
        return array
    target = computed_dtype(dtype) if dtype.kind != "O" else None
    if target is None:
        raise DtypeError(gate, dtype_refusal(what, dtype, array.shape))
    return array.astype(target)


def as_float(gate, x, name="x"):
    """``x`` as a float32 or float64 array: `float_array` for a gate's input, named by ``name``."""
    if type(x) is np.ndarray and ((dtype := x.dtype) is _F64 or dtype is _F32):
        return x                  # the usual case, kept cheap: it runs in every forward
    return float_array(x, name, gate)


# --- the one hyperparameter validator ------------------------------------------------

class HyperparameterError(ValueError, TypeError):
    """A hyperparameter refused when the gate, loss, optimizer or builder is made: a ValueError
    and, since the value is often of the wrong kind altogether, a TypeError."""


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _bounds(low, high, low_open, high_open):
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '>='} {low}"
    if low is None:
        return f" {'<' if high_open else '<='} {high}"
    return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def hyperparameter(owner, name, value, kind="number", low=None, high=None, low_open=False, high_open=False,
                   optional=False, choices=()):
    """``value`` checked and made plain (Python int, float, tuple), or a `HyperparameterError`
    ``"{owner}: {name} must be ..., got {value!r}"``: the one check of every gate, loss,
    optimizer, builder and data set, run once, when it is made.

    ``kind`` is ``"int"``, ``"number"`` (finite real), ``"pair"`` (an int or a pair of ints,
    returned as ``(h, w)``; PyTorch's convention for sizes, strides and pads), ``"axis"`` (an
    int, or a tuple of distinct ints; its range is checked against the input by `check_axis`),
    ``"axes"`` (a tuple of ints: a permutation), ``"bool"`` or ``"choice"`` (one of ``choices``).
    ``low``/``high`` bound ints, numbers and each int of a pair (closed unless
    ``low_open``/``high_open``). ``optional`` lets None through.
    """
    if optional and value is None:
        return None
    bounds = _bounds(low, high, low_open, high_open)

    def within(number):
        return not ((low is not None and (number < low or (low_open and number == low)))
                    or (high is not None and (number > high or (high_open and number == high))))

    positive = low == 1 and high is None and not low_open     # reads better than "an integer >= 1"
    if kind == "int":
        ok = _is_int(value) and within(value)
        what = "a positive integer" if positive else f"an integer{bounds}"
        plain = int(value) if ok else None
    elif kind == "number":
        ok = _is_real(value) and math.isfinite(value) and within(value)
        what = f"a finite number{bounds}"
        plain = (int(value) if _is_int(value) else float(value)) if ok else None
    elif kind == "pair":
        pair = (value, value) if _is_int(value) else value
        ok = (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(_is_int(n) and within(n) for n in pair))
        what = ("a positive integer" if positive else f"an integer{bounds}") + " or a pair (h, w) of them"
        plain = tuple(int(n) for n in pair) if ok else None
    elif kind == "axis":
        axes = value if isinstance(value, tuple) else (value,)
        ints = all(_is_int(a) for a in axes)
        ok = ints and len({int(a) for a in axes}) == len(axes) and (axes or isinstance(value, tuple))
        what = "an integer axis or a tuple of distinct integer axes" + (" (or None)" if optional else "")
        plain = (tuple(int(a) for a in value) if isinstance(value, tuple) else int(value)) if ok else None
    elif kind == "axes":
        ok = isinstance(value, (tuple, list)) and all(_is_int(a) for a in value) and \
            len({int(a) for a in value}) == len(value)
        what = "a tuple of distinct integer axes (a permutation)" + (" (or None)" if optional else "")
        plain = tuple(int(a) for a in value) if ok else None
    elif kind == "choice":
        ok = isinstance(value, str) and value in choices
        what, plain = "one of " + ", ".join(map(repr, choices)), value
    elif kind == "bool":
        ok, what = isinstance(value, (bool, np.bool_)), "True or False"
        plain = bool(value) if ok else None
    else:
        raise ValueError(f"unknown hyperparameter kind {kind!r}")
    if not ok:
        raise HyperparameterError(f"{owner}: {name} must be {what}, got {value!r}")
    return plain


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


def is_number(value):
    """Whether ``value`` is a number: a Python or numpy scalar, or a 0-d array."""
    return type(value) in (float, int, bool) or isinstance(value, np.generic) or (
        type(value) is np.ndarray and value.ndim == 0)


def as_operands(gate, names, *values):
    """`as_floats` for the operands of an elementwise gate, where numbers stay weak.

    numpy's promotion treats a Python number as weak (float32 * 0.5 is float32), but a numpy
    scalar or 0-d float64 array as strong (it would promote float32 to float64): so a number
    of any kind (`is_number`) beside an array is passed on as a Python number, and
    ``x * np.float64(2)`` in a float32 graph stays float32. Between numbers alone numpy's own
    promotion holds. Gates that read an input's shape take `as_floats` instead.
    """
    for value in values:
        if type(value) is not np.ndarray or value.ndim == 0 or (
                (dtype := value.dtype) is not _F64 and dtype is not _F32):
            break
    else:
        return values             # the usual case, decided without a call per value
    numbers = [is_number(value) for value in values]
    beside_an_array = not all(numbers)
    return tuple(_weak_number(gate, name, value) if number and (beside_an_array or type(value) in (float, int, bool))
                 else as_float(gate, value, name) for name, value, number in zip(names.split(), values, numbers))


def _weak_number(gate, name, value):
    """A number as a Python float, after the dtype rule has had its say on it."""
    return float(as_float(gate, value, name)) if type(value) not in (float, int, bool) else float(value)


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


class DtypeError(GateError, TypeError):
    """Data the one dtype rule refuses (complex, float16, object, text).

    A `GateError` (so a ValueError, blamed on its node by the graph) raised by gates, and a
    TypeError; outside a gate (a feed, a param, a file) ``gate`` is None and the message is
    the detail alone.
    """

    def __init__(self, gate, detail, where=None):
        if gate is None and where is None:
            self.gate, self.detail, self.where = None, detail, None
            ValueError.__init__(self, detail)
        else:
            super().__init__(gate, detail, where)
