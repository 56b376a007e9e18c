"""Optimizers: ``step(params, grads)`` updates the param arrays in place, state kept per name."""
import math

import numpy as np

from gates.base import FLOATS, DtypeError, all_finite, computed_dtype, dtype_refusal, hyperparameter

_NO_STATE = {}    # what a param without state has: looked up, never written

#: elements per slice of an update: its temporaries stay small (and in cache)
#: instead of costing a whole param's size at the step's memory peak
CHUNK = 1 << 16


def chunks(param, *arrays):
    """Matching flat slices of ``param`` and same-shaped ``arrays``; views, so updates land in place."""
    if param.size <= CHUNK or not all(a.flags.c_contiguous for a in (param, *arrays)):
        return ((param, *arrays),)
    flats = [a.reshape(-1) for a in (param, *arrays)]
    return [tuple(flat[start:start + CHUNK] for flat in flats) for start in range(0, param.size, CHUNK)]


def _hyperparameter(owner, name, value, low=0.0, high=None, low_open=True):
    """A finite number in (low, high) (or [low, high)): `gates.base.hyperparameter` for optimizers."""
    return float(hyperparameter(owner, name, value, low=low, high=high, low_open=low_open, high_open=True))


def clip_grads(grads, max_norm):
    """Scale every gradient in place so that their global L2 norm is at most ``max_norm``.

    ``grads`` is a dict (name -> array) or a sequence of arrays; None entries are skipped.
    Returns the norm before clipping, as ``torch.nn.utils.clip_grad_norm_`` does (same
    factor ``max_norm / (norm + 1e-6)``). A NaN or inf norm raises FloatingPointError
    and changes nothing. Every gradient counts in the norm, but an array that two params
    share (``W + V`` sends one array to both) is scaled once; a dict's numpy scalars, which
    cannot change in place, are replaced by scaled ones.
    """
    max_norm = _hyperparameter("clip_grads", "max_norm", max_norm)
    entries = list(grads.items()) if isinstance(grads, dict) else list(enumerate(grads))
    entries = [(key, g) for key, g in entries if g is not None]
    norm = math.sqrt(sum(float(np.vdot(g, g).real) for _, g in entries))
    if not math.isfinite(norm):
        raise FloatingPointError("clip_grads: the gradients' norm is NaN or inf; nothing was changed")
    factor = max_norm / (norm + 1e-6)
    if factor < 1:
        if not isinstance(grads, dict) and any(not isinstance(g, np.ndarray) for _, g in entries):
            raise TypeError("clip_grads: a sequence of gradients must hold arrays, which it scales in place; "
                            "pass a dict to have numbers replaced")
        scaled = set()
        for key, g in entries:
            if not isinstance(g, np.ndarray):
                grads[key] = np.result_type(g).type(g * factor)
            elif id(g) not in scaled:
                scaled.add(id(g))
                g *= g.dtype.type(factor)
    return norm


class Optimizer:
    """Base: checks every param and gradient before changing any, then updates each one in place.

    A step is all or nothing: a gradient that is missing, misshapen, complex or not
    finite, a param that is read-only or not float, or state kept for a param of
    another shape (one optimizer shared by two graphs) raises before any array changes.
    """

    def __init__(self, lr):
        self.lr = lr
        self.state = {}

    @property
    def lr(self):
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = _hyperparameter(type(self).__name__, "lr", value, low_open=False)   # 0 freezes

    def step(self, params, grads):
        """Update every array of ``params`` in place from ``grads`` (dicts keyed by param name)."""
        if not (isinstance(params, dict) and isinstance(grads, dict)):
            raise TypeError(f"{type(self).__name__}.step takes two dicts keyed by param name (g.params, "
                            f"g.grads), got {type(params).__name__} and {type(grads).__name__}")
        for name, param in params.items():
            self._check(name, param, grads.get(name))
        for name, param in params.items():
            grad = grads[name]
            self.update(name, param, grad if type(grad) is np.ndarray else np.asarray(grad))

    def _check(self, name, param, grad):
        if not (type(grad) is np.ndarray and type(param) is np.ndarray and grad.shape == param.shape
                and grad.dtype == param.dtype and param.dtype in FLOATS and param.flags.writeable):
            self._check_slowly(name, param, grad)     # says what is wrong, or lets a fitting grad pass
        if not all_finite(np.asarray(grad)):
            raise FloatingPointError(f"{type(self).__name__}.step, param {name!r}: the gradient holds NaN or inf; "
                                     "no param was changed")
        for key, slot in self.state.get(name, _NO_STATE).items():
            if isinstance(slot, np.ndarray) and slot.shape != param.shape:
                raise ValueError(f"{type(self).__name__}.step, param {name!r}: this optimizer keeps {key!r} of "
                                 f"shape {slot.shape} for a param of this name, but the param has shape "
                                 f"{param.shape} (use one optimizer per graph); no param was changed")

    def _check_slowly(self, name, param, grad):
        owner = f"{type(self).__name__}.step, param {name!r}"
        if grad is None:
            raise ValueError(f"{owner}: no gradient; no param was changed")
        # a param is updated in place, so it must already be what the dtype rule computes in
        if not (isinstance(param, np.ndarray) and param.dtype in FLOATS and param.flags.writeable):
            raise TypeError(f"{owner}: the param must be a writeable float32 or float64 array, got "
                            f"{type(param).__name__} {getattr(param, 'dtype', '')}; no param was changed")
        if computed_dtype(np.result_type(grad)) is None:
            raise DtypeError(None, f"{owner}: " + dtype_refusal("the gradient", np.result_type(grad),
                                                                  np.shape(grad)) + "; no param was changed")
        if np.shape(grad) != param.shape:
            raise ValueError(f"{owner}: the gradient has shape {np.shape(grad)} but the param has shape "
                             f"{param.shape}; no param was changed")

    def reset(self):
        """Forget every param's state (moments, step counts), as after loading other params."""
        self.state.clear()

    def update(self, name, param, grad):
        raise NotImplementedError

    def _slot(self, name, param, key="v"):
        """A zero-initialised state array of ``param``'s shape and dtype."""
        return self.state.setdefault(name, {}).setdefault(key, np.zeros_like(param))


class SGD(Optimizer):
    """param -= lr * grad."""

    def update(self, name, param, grad):
        if param.size <= CHUNK:       # most params: no slicing to set up
            param -= self.lr * grad
            return
        for p, g in chunks(param, grad):
            p -= self.lr * g


class Momentum(Optimizer):
    """v = momentum * v + grad; param -= lr * v (torch.optim.SGD with momentum)."""

    def __init__(self, lr, momentum=0.9):
        super().__init__(lr)
        self.momentum = _hyperparameter("Momentum", "momentum", momentum, high=1, low_open=False)

    def update(self, name, param, grad):
        for p, g, v in chunks(param, grad, self._slot(name, param)):
            v *= self.momentum
            v += g
            p -= self.lr * v


class RMSProp(Optimizer):
    """cache = decay * cache + (1 - decay) * grad^2; param -= lr * grad / (sqrt(cache) + eps)."""

    def __init__(self, lr, decay=0.99, eps=1e-8):
        super().__init__(lr)
        self.decay = _hyperparameter("RMSProp", "decay", decay, high=1, low_open=False)
        self.eps = _hyperparameter("RMSProp", "eps", eps, low_open=False)

    def update(self, name, param, grad):
        for p, g, cache in chunks(param, grad, self._slot(name, param)):
            cache *= self.decay
            cache += (1 - self.decay) * g * g
            p -= self.lr * g / (np.sqrt(cache) + self.eps)


class Adam(Optimizer):
    """Adam with bias correction; eps is added after the square root.

    m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    param -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
    """

    def __init__(self, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1 = _hyperparameter("Adam", "beta1", beta1, high=1, low_open=False)
        self.beta2 = _hyperparameter("Adam", "beta2", beta2, high=1, low_open=False)
        self.eps = _hyperparameter("Adam", "eps", eps, low_open=False)

    def update(self, name, param, grad):
        m, v = self._slot(name, param, "m"), self._slot(name, param, "v")
        t = self.state[name]["t"] = self.state[name].get("t", 0) + 1
        correction1, correction2 = 1 - self.beta1 ** t, 1 - self.beta2 ** t
        for p, g, m_, v_ in chunks(param, grad, m, v):
            m_ *= self.beta1
            m_ += (1 - self.beta1) * g
            v_ *= self.beta2
            v_ += (1 - self.beta2) * g * g
            p -= self.lr * (m_ / correction1) / (np.sqrt(v_ / correction2) + self.eps)
