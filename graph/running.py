"""Running one gate inside a graph: blame its node on failure, check what it returns, sum at branches."""
import numpy as np

from gates import GateError
from gates.base import DtypeError, all_finite, computed_dtype, dtype_refusal
from gates.base import float_array as rule_float_array


def blamed(error, where):
    """``error`` with ``where`` (the node and the pass) at the front of its message, same type if possible."""
    if isinstance(error, GateError):
        return error.at(where)
    try:
        return type(error)(f"{where}: {error}")
    except Exception:     # an exception class that takes other arguments
        return RuntimeError(f"{where}: {type(error).__name__}: {error}")


def checked_feeds(plan, feeds, node_called):
    """The feeds, each checked to name an input and to hold numbers (lists become arrays);
    every input the plan needs must be fed."""
    checked = {}
    for name, value in feeds.items():
        node = node_called(name)
        if node.kind != "input":
            raise ValueError(f"{name!r} is a {node.kind}, not an input; only inputs are fed")
        if not (type(value) is np.ndarray or isinstance(value, (int, float, np.number))) or isinstance(value, bool):
            try:
                value = np.asarray(value)
            except (ValueError, TypeError) as error:     # ragged nested lists, and the like
                raise TypeError(f"input {name!r} was fed a {type(value).__name__} that is not an array of "
                                f"numbers ({error})") from None
        dtype = value.dtype if type(value) is np.ndarray else np.result_type(value)
        if computed_dtype(dtype) is None:
            # integers and booleans are fed as they are: labels and ids stay integers
            raise DtypeError(None, dtype_refusal(f"input {name!r}", dtype, np.shape(value)))
        checked[name] = value
    missing = [name for name in plan.inputs if name not in checked]
    if missing:
        raise ValueError(f"missing feed for input(s) {missing}; forward needs "
                         f"{plan.inputs} to compute {plan.output.name!r}")
    return checked


class GradientSums:
    """dL/d(node) for the nodes backward has reached, summed where a node feeds several gates.

    A gate's gradient is kept by reference until a second one arrives; the sum is
    then a fresh array, added into in place after that, never into a gate's array.
    """

    def __init__(self, output, seed):
        self.sums = {output.name: seed}
        self.owned = set()

    def get(self, name):
        return self.sums.get(name)

    def pop(self, name):
        return self.sums.pop(name, None)

    def add(self, node, parent, grad):
        value = parent.value
        if not (type(grad) is np.ndarray and type(value) is np.ndarray and grad.shape == value.shape
                and (grad.dtype == value.dtype or value.dtype.kind != "f")):
            grad = check_grad(node, parent, grad)   # the usual case above is decided without the call
        name = parent.name
        if name not in self.sums:
            self.sums[name] = grad
        elif name in self.owned:
            self.sums[name] += grad
        else:
            self.sums[name] = self.sums[name] + grad
            self.owned.add(name)


def run_gate(node, step, method, *args, needs=None):
    """``method(*args)`` of the node's gate; any failure is re-raised naming the node and the pass.

    ``needs`` (backward only) tells the gate which inputs want a gradient, for this call alone.
    """
    if needs is not None:
        node.gate.needs_input_grad = needs
    try:
        return method(*args)
    except Exception as error:
        where = node.label if step == "forward" else f"{node.label}, backward"
        raise blamed(error, where) from error
    finally:
        if needs is not None:
            node.gate.needs_input_grad = None   # a gate called by hand again wants all


def as_tuple(node, parents, downstream):
    if not isinstance(downstream, tuple) or len(downstream) != len(parents):
        raise ValueError(f"{node.label}: backward must return a tuple of {len(parents)} "
                         f"gradients, one per input, got {type(downstream).__name__}")
    return downstream


def seed(out, dout):
    """dL/d(output) to start from: ones shaped like the output, or ``dout`` checked against it."""
    value = out.value
    if dout is None:
        return np.ones_like(value) if isinstance(value, np.ndarray) else np.result_type(value).type(1)
    kind = np.asarray(dout).dtype
    if computed_dtype(kind) is None:
        raise DtypeError(None, "dout must be a number or an array of numbers: " + dtype_refusal(
            f"a {type(dout).__name__}", kind, np.shape(dout)))
    if np.shape(dout) != np.shape(value):
        raise ValueError(f"dout has shape {np.shape(dout)} but the output {out.label} has shape "
                         f"{np.shape(value)}; expected the same shape")
    dtype = np.result_type(value)
    return np.asarray(dout, dtype=dtype if np.issubdtype(dtype, np.floating) else None)


def check_grad(node, parent, grad):
    """``grad`` if it has its input's shape and float dtype; otherwise a ValueError naming the gate.

    A number (0-d) beside arrays is computed weak (``x * np.float64(2)`` stays float32), so its
    gradient comes in the arrays' dtype: it is handed back in the number's own dtype.
    """
    value = parent.value
    want = np.shape(value)
    if np.shape(grad) != want:
        raise ValueError(f"{node.label}: backward returned a gradient of shape {np.shape(grad)} "
                         f"for input {parent.name!r} of shape {want}; each gradient must have "
                         "its input's shape")
    dtype = getattr(parent.value, "dtype", None)
    if dtype is not None and dtype.kind == "f" and getattr(grad, "dtype", None) != dtype:
        if want == () and np.result_type(grad).kind == "f":
            return np.asarray(grad, dtype=dtype)
        raise ValueError(f"{node.label}: backward returned a {np.result_type(grad)} gradient for "
                         f"input {parent.name!r} of dtype {dtype} (inputs of mixed float dtypes "
                         "promote; feed arrays of the params' dtype)")
    return grad


def float_array(value, what):
    """``value`` by the one dtype rule (`gates.base.float_array`), finite, and never the caller's
    list or number: a param, constant or feed kept by the graph."""
    array = rule_float_array(value, what)
    if not all_finite(array):
        raise ValueError(f"{what} of shape {array.shape} holds NaN or inf; expected finite numbers")
    return array if isinstance(value, np.ndarray) else array.copy()
