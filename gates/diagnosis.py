"""What is wrong with a gradient: the classic backprop mistakes, recognised from the numbers alone.

`diagnose` compares an analytic gradient with the numerical one (and with the inputs, the upstream
gradient and the other inputs' numerical gradients) and names the first pattern that fits, with
one sentence a student can act on; a wrong gradient of no pattern gets ``None``, never a guess.
`GradientMismatch` is what `check_gate` and `check_graph` raise, carrying the diagnosis.
"""
import numpy as np

RTOL, ATOL = 1e-6, 1e-8      # check_gate's rule: |a - n| <= atol + rtol |n|


class GradientMismatch(AssertionError):
    """An analytic gradient that is not the numerical one: ``gate`` (class name or node label),
    ``input`` (index, or name in a graph), ``analytic``, ``numeric``, and the diagnosis ``kind`` and
    ``hint``; the message ends with the line ``kind: hint``."""

    def __init__(self, message, gate, input, analytic, numeric, kind, hint):
        self.gate, self.input, self.analytic, self.numeric = gate, input, analytic, numeric
        self.kind, self.hint = kind, hint
        super().__init__(f"{message}\n{kind or 'no known pattern'}: {hint}")


def _close(a, b, rtol=RTOL, atol=ATOL):
    """Every element of ``a`` within check_gate's tolerance of ``b`` (same shape)."""
    return np.shape(a) == np.shape(b) and bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def _summed_axes(grad_shape, shape):
    """The axes summing over which turns a gradient of ``grad_shape`` into one of ``shape`` (the adjoint
    of broadcasting), or None when no such sum exists."""
    lead = len(grad_shape) - len(shape)
    if lead < 0 or any(n not in (1, m) for n, m in zip(shape, grad_shape[lead:])):
        return None
    return tuple(range(lead)) + tuple(lead + k for k, n in enumerate(shape) if n == 1 and grad_shape[lead + k] != 1)


def _where(wrong, x):
    """A simple condition on input ``x`` that picks out exactly the ``wrong`` elements, or None."""
    if x is None or np.shape(x) != wrong.shape or not np.issubdtype(np.asarray(x).dtype, np.number):
        return None
    x = np.asarray(x, dtype=np.float64)
    conditions = {"x < 0": x < 0, "x <= 0": x <= 0, "x == 0": x == 0, "x > 0": x > 0, "x >= 0": x >= 0,
                  "x is the maximum": x == x.max()}
    if x.ndim >= 1:
        conditions["x is its row's maximum"] = x == x.max(axis=-1, keepdims=True)
        conditions["x is not its row's maximum"] = x != x.max(axis=-1, keepdims=True)
    return next((name for name, mask in conditions.items() if np.array_equal(mask, wrong)), None)


def _hint_of_scale(c, inputs):
    batch = next((np.shape(x)[0] for x in inputs or () if np.ndim(x) >= 1), None)
    if batch and batch > 1:
        if abs(c - batch) <= 1e-6 * batch:
            return (f"the gradient is {batch:g} times too large: {batch} is the batch size, so a mean was "
                    "differentiated as a sum (divide by the batch size)")
        if abs(c - 1 / batch) <= 1e-6 / batch:
            return (f"the gradient is {batch:g} times too small: {batch} is the batch size, so a sum was "
                    "differentiated as a mean (do not divide by the batch size)")
    return f"the gradient is {c:.6g} times the right one: a constant factor of the local gradient is wrong"


def diagnose(analytic, numeric, inputs, dout, index, others=None):
    """``(kind, hint)`` for input ``index``'s wrong ``analytic`` gradient against its ``numeric`` one.

    ``inputs`` are the forward inputs, ``dout`` the upstream gradient, ``others`` the numerical
    gradients of the other inputs by index. ``kind`` is the first of "shape", "zero", "upstream",
    "swapped", "sign", "scale", "transpose", "partial" that fits (check_gate's tolerances), else None.
    """
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    x = inputs[index] if inputs is not None and index is not None and 0 <= index < len(inputs) else None
    if a.shape != n.shape:
        axes = _summed_axes(a.shape, n.shape)
        hint = f"the gradient has shape {a.shape} but the input has shape {n.shape}"
        if axes is not None:
            return "shape", (f"{hint}: the input was broadcast in forward, so sum its gradient over axes "
                             f"{axes} (unbroadcast) to give it the input's shape")
        if a.ndim >= 2 and a.shape[:-2] + a.shape[-2:][::-1] == n.shape:
            return "shape", f"{hint}, its transpose: swap the factors of the product (or transpose it)"
        return "shape", f"{hint}; each input's gradient must have that input's shape"
    significant = np.abs(n) > ATOL
    if not np.any(np.abs(a) > ATOL) and np.any(significant):
        return "zero", ("the gradient is all zeros where the numerical one is not: the local gradient or "
                        "the upstream gradient (dout) is missing from the product")
    if dout is not None:
        try:
            upstream = np.broadcast_to(np.asarray(dout, dtype=np.float64), a.shape)
        except ValueError:
            upstream = None
        if upstream is not None and _close(a, upstream) and not _close(a, n):
            return "upstream", ("the gradient equals the upstream gradient (dout): it was passed through "
                                "without multiplying by the local gradient")
    for j, other in sorted((others or {}).items()):
        if j != index and other is not None and np.shape(other) == a.shape and np.any(np.abs(other) > ATOL) \
                and _close(a, np.asarray(other, dtype=np.float64)):
            return "swapped", (f"the gradient is input {j}'s: the two inputs' local gradients are exchanged "
                               f"(for a product, input {index}'s gradient is dout times the other input)")
    if np.any(significant) and _close(a, -n):
        return "sign", "the gradient has the wrong sign: flip the sign of the local gradient"
    if np.any(significant):
        c = float(np.sum(a * n) / np.sum(n * n))
        if abs(c) > 1e-12 and abs(c - 1) > 1e-6 and abs(c + 1) > 1e-6 and _close(a, c * n):
            return "scale", _hint_of_scale(c, inputs)
    if a.ndim >= 2 and a.shape[-1] == a.shape[-2] and _close(a, np.swapaxes(n, -1, -2)) and not _close(a, n):
        return "transpose", ("the gradient is the transpose of the right one: swap the order of the "
                             "matrix product (dout @ W.T rather than W.T @ dout, x.T @ dout rather than dout.T @ x)")
    wrong = np.abs(a - n) > ATOL + RTOL * np.abs(n)
    right_where_it_matters = ~wrong & (significant | (np.abs(a) > ATOL))
    if np.any(wrong) and np.any(right_where_it_matters):
        count, total = int(wrong.sum()), wrong.size
        condition = _where(wrong, x)
        where = (f"exactly where {condition}: a mask or a kink on the wrong side, check which elements pass "
                 "the gradient") if condition else \
            f"at {[tuple(int(i) for i in k) for k in np.argwhere(wrong)[:3]]}{' ...' if count > 3 else ''}"
        return "partial", f"{count} of {total} elements are wrong, {where}"
    passed, needed = np.abs(a) > ATOL, significant
    if np.any(passed) and np.any(needed) and not np.any(passed & needed) and np.all(passed | needed | (x == 0)
                                                                                     if x is not None else True):
        condition = _where(passed, x)
        if condition:                      # the gradient passes exactly where it should be blocked
            return "partial", (f"{int(passed.sum())} of {a.size} elements are wrong: the mask is on the wrong side "
                               f"of the kink, the gradient passes where {condition} and is blocked everywhere else")
    worst = np.argsort(-np.abs(a - n), axis=None)[:3]
    listed = ", ".join(f"{tuple(int(i) for i in np.unravel_index(k, a.shape))}: analytic {a.flat[k]:.6g}, "
                       f"numerical {n.flat[k]:.6g}" for k in worst)
    return None, f"no known mistake fits; the worst elements are {listed}"
