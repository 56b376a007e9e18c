"""Numerical gradient checking: centred differences against a gate's backward."""
import copy

import numpy as np

from .base import float_array
from .diagnosis import GradientMismatch, diagnose

__all__ = ["numerical_gradient", "rel_error", "check_gate", "check_graph", "GradientMismatch", "diagnose"]


def numerical_gradient(f, x, h=1e-5, indices=None):
    """Centred differences (f(x + h) - f(x - h)) / 2h of scalar ``f`` at each element of ``x``.

    ``x`` is perturbed in place and restored after each probe. ``indices`` (a list of
    index tuples) probes only those elements; the others stay 0. An integer array
    cannot hold ``x + h``, so it raises TypeError.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"numerical_gradient needs a float numpy array to perturb, got "
                        f"{type(x).__name__} of dtype {np.result_type(x)}")
    grad = np.zeros_like(x)
    for index in (np.ndindex(x.shape) if indices is None else indices):
        old = x[index]
        x[index] = old + h
        plus = float(f(x))
        x[index] = old - h
        minus = float(f(x))
        x[index] = old
        grad[index] = (plus - minus) / (2 * h)
    return grad


def rel_error(a, b):
    """The largest elementwise |a - b| / max(1e-8, |a| + |b|)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)), initial=0.0))


def _is_float(value):
    return np.issubdtype(np.result_type(value), np.floating)


def _as_float64(value, what):
    """A float64 copy of a float input, by the one dtype rule (probes never touch the caller's
    array); integers and booleans (labels, ids, masks) as they are: they are not probed."""
    if np.result_type(value).kind in "iub":
        return value
    return np.array(float_array(value, what), dtype=np.float64)


def _probes(shape, max_probes, seed=0):
    """All indices of ``shape``, or ``max_probes`` of them drawn with a fixed seed."""
    size = int(np.prod(shape, dtype=np.int64))
    if max_probes is None or size <= max_probes:
        return None
    flat = np.random.default_rng(seed).choice(size, max_probes, replace=False)
    return [tuple(int(i) for i in np.unravel_index(k, shape)) for k in np.sort(flat)]


def _compare(what, analytic, numeric, rtol, atol, indices=None, mismatch=None):
    """The rel_error of analytic against numeric; `GradientMismatch` naming ``what`` when not allclose.

    ``mismatch(analytic, numeric)`` gives the error's (gate, input, inputs, dout, index, others)
    for `diagnose`; it sees the probed elements only when ``indices`` limits the probes.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    gate, input_, inputs, dout, index, others = mismatch() if mismatch else (what, None, None, None, None, None)
    if analytic.shape != numeric.shape:
        kind, hint = diagnose(analytic, numeric, inputs, dout, index, others)
        raise GradientMismatch(f"{what}: analytic gradient has shape {analytic.shape} but the input has shape "
                               f"{numeric.shape}", gate, input_, analytic, numeric, kind, hint)
    if indices is not None:      # compare the probed elements only
        rows = tuple(np.array(axis) for axis in zip(*indices))
        analytic, numeric = analytic[rows], numeric[rows]
        inputs, dout, index, others = None, None, None, None      # patterns need whole arrays
    if not np.all(np.isfinite(numeric)):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(numeric))[0])
        raise GradientMismatch(f"{what}: the numerical gradient is {float(numeric[where])} at index "
                               f"{where if indices is None else indices[where[0]]} (the forward is not finite "
                               "within h of this point), so the analytic gradient cannot be checked there",
                               gate, input_, analytic, numeric, None, "check at a point where the forward is finite")
    error = rel_error(analytic, numeric)
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if np.any(excess > 0) or not np.all(np.isfinite(analytic)):
        flat = np.argmax(np.where(np.isfinite(excess), excess, np.inf))
        worst = tuple(int(i) for i in np.unravel_index(flat, numeric.shape))
        where = worst if indices is None else indices[flat]
        kind, hint = diagnose(analytic, numeric, inputs, dout, index, others)
        raise GradientMismatch(
            f"{what}: analytic and numerical gradients differ; worst at index {where}: "
            f"analytic {float(analytic[worst]):.10g}, numerical {float(numeric[worst]):.10g} "
            f"(allowed |difference| <= {atol} + {rtol} * |numerical|); max rel_error {error:.3e}",
            gate, input_, analytic, numeric, kind, hint)
    return error


def check_gate(gate, *inputs, dout=None, h=1e-5, rtol=1e-6, atol=1e-8, max_probes=None, fixed=()):
    """Check every analytic input gradient of ``gate`` against centred differences in float64.

    The checked function is ``sum(forward(*inputs) * dout)``; ``dout=None`` is a
    standard-normal array (fixed seed) shaped like the output. Float inputs are
    probed, others (integer labels) must get a None gradient. Passes when every
    element satisfies ``|analytic - numeric| <= atol + rtol * |numeric|``;
    returns the worst rel_error per input (None for those not probed), and
    otherwise raises AssertionError naming the gate, the input and the worst element.
    ``max_probes`` limits the probes to that many elements per input (drawn with a fixed seed).
    ``fixed`` lists inputs held as they are, not probed (float labels: one-hot rows that a
    probe would push off the simplex).
    """
    name = type(gate).__name__
    inputs = [_as_float64(x, f"{name}, input {i}") for i, x in enumerate(inputs)]
    # A gate may be stochastic (Dropout) or stateful (BatchNorm's running
    # statistics): every evaluation starts from a copy of the same state.
    snapshot = copy.deepcopy(gate)
    out = gate.forward(*inputs)
    if dout is None:
        dout = np.random.default_rng(0).standard_normal(np.shape(out))
    dout = np.asarray(dout, dtype=np.float64)
    dout_before = dout.copy()
    analytic = gate.backward(dout)
    if len(inputs) == 1:
        analytic = (analytic,)
    if len(analytic) != len(inputs):
        raise AssertionError(f"{name}.backward returned {len(analytic)} gradients for {len(inputs)} inputs")
    if not np.array_equal(dout, dout_before):
        raise AssertionError(f"{name}.backward wrote into dout")

    def objective(*probe_inputs):
        # a probe may step past a domain's edge (log near 0): its NaN is reported by _compare,
        # not raised as a warning from inside the probe
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return np.sum(copy.deepcopy(snapshot).forward(*probe_inputs) * dout)

    numerics = {}
    for i, (x, grad) in enumerate(zip(inputs, analytic)):
        if i in fixed:
            continue
        if not _is_float(x):
            if grad is not None:
                raise TypeError(f"{name}: input {i} has dtype {np.result_type(x)}; check_gate takes integer "
                                "inputs for labels, which carry no gradient, but backward returned one for it. "
                                "To check the gradient of this input, pass it as floats (x.astype(float))")
            continue
        indices = _probes(np.shape(x), max_probes, seed=i)
        numerics[i] = (indices, numerical_gradient(lambda xi, i=i: objective(*inputs[:i], xi, *inputs[i + 1:]), x,
                                                   h, indices))
    # every numerical gradient first: a wrong one is diagnosed against the others too ("swapped")
    others = {i: numeric for i, (indices, numeric) in numerics.items() if indices is None}
    errors = []
    for i, grad in enumerate(analytic):
        if i not in numerics:
            errors.append(None)
            continue
        indices, numeric = numerics[i]
        errors.append(_compare(f"{name}, input {i}", grad, numeric, rtol, atol, indices,
                               lambda i=i: (name, i, inputs, dout, i, others)))
    return tuple(errors)


def check_graph(graph, h=1e-5, rtol=1e-6, atol=1e-8, **feeds):
    """``check_gate`` for a whole graph with a scalar output, over every float input and param.

    Params must be float64; they are probed in place and restored. Inputs the
    graph gives no gradient (labels, inputs the output does not use) are not
    probed. Returns a dict from leaf name to worst rel_error (None where not probed).
    """
    for name, value in graph.params.items():
        if value.dtype != np.float64:
            raise TypeError(f"check_graph needs float64 params; {name!r} is {value.dtype}")
    feeds = {name: _as_float64(value, f"input {name!r}") for name, value in feeds.items()}
    # Each evaluation runs on a copy of the graph as it is now, so stochastic
    # gates draw the same masks as the analytic pass.
    snapshot = copy.deepcopy(graph)
    out = graph.forward(**feeds)
    if np.shape(out) != ():
        raise ValueError(f"check_graph needs a scalar output, got shape {np.shape(out)}")
    analytic = graph.backward()

    def objective(**probe_feeds):
        return float(copy.deepcopy(snapshot).forward(**probe_feeds))

    numerics = {}      # leaf name -> (what, value, numerical gradient), inputs then params
    for name, value in feeds.items():
        if _is_float(value) and analytic.get(name) is not None:   # not labels: they get no gradient by design
            numerics[name] = (f"graph input {name!r}", value,
                              numerical_gradient(lambda v, name=name: objective(**{**feeds, name: v}), value, h))
    for name in graph.params:
        numerics[name] = (f"graph param {name!r}", graph.params[name],
                          numerical_gradient(lambda _: objective(**feeds), snapshot.params[name], h))
    values = [value for _, value, _ in numerics.values()]
    others = {k: numeric for k, (_, _, numeric) in enumerate(numerics.values())}
    errors = {name: None for name in feeds}
    for k, (name, (what, _, numeric)) in enumerate(numerics.items()):
        errors[name] = _compare(what, analytic[name], numeric, rtol, atol,
                                mismatch=lambda k=k, name=name: ("graph", name, values, None, k, others))
    return errors
