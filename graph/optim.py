"""Optimizers: ``step(params, grads)`` updates the param arrays in place, state kept per name."""
import numpy as np

#: elements per slice of an update: its temporaries stay small (and in cache)
#: instead of costing a whole param's size at the step's memory peak
CHUNK = 1 << 16


def chunks(param, *arrays):
    """Matching flat slices of ``param`` and same-shaped ``arrays``; views, so updates land in place."""
    if param.size <= CHUNK or not all(a.flags.c_contiguous for a in (param, *arrays)):
        yield (param, *arrays)
        return
    flats = [a.reshape(-1) for a in (param, *arrays)]
    for start in range(0, param.size, CHUNK):
        yield tuple(flat[start:start + CHUNK] for flat in flats)


class Optimizer:
    """Base: refuses non-finite gradients before touching any param, then updates each one."""

    def __init__(self, lr):
        self.lr = lr
        self.state = {}

    def step(self, params, grads):
        """Update every array of ``params`` in place from ``grads`` (dicts keyed by param name)."""
        for name in params:
            grad = grads.get(name)
            if grad is None:
                raise ValueError(f"{type(self).__name__}.step: no gradient for param {name!r}")
            if np.shape(grad) != params[name].shape:
                raise ValueError(f"{type(self).__name__}.step: gradient of {name!r} has shape "
                                 f"{np.shape(grad)} but the param has shape {params[name].shape}")
            if not np.all(np.isfinite(grad)):
                raise FloatingPointError(f"{type(self).__name__}.step: the gradient of {name!r} holds "
                                         "NaN or inf; no param was changed")
        for name, param in params.items():
            self.update(name, param, np.asarray(grads[name]))

    def update(self, name, param, grad):
        raise NotImplementedError

    def _slot(self, name, param, key="v"):
        """A zero-initialised state array of ``param``'s shape and dtype."""
        return self.state.setdefault(name, {}).setdefault(key, np.zeros_like(param))


class SGD(Optimizer):
    """param -= lr * grad."""

    def update(self, name, param, grad):
        for p, g in chunks(param, grad):
            p -= self.lr * g


class Momentum(Optimizer):
    """v = momentum * v + grad; param -= lr * v (torch.optim.SGD with momentum)."""

    def __init__(self, lr, momentum=0.9):
        super().__init__(lr)
        self.momentum = momentum

    def update(self, name, param, grad):
        for p, g, v in chunks(param, grad, self._slot(name, param)):
            v *= self.momentum
            v += g
            p -= self.lr * v


class RMSProp(Optimizer):
    """cache = decay * cache + (1 - decay) * grad^2; param -= lr * grad / (sqrt(cache) + eps)."""

    def __init__(self, lr, decay=0.99, eps=1e-8):
        super().__init__(lr)
        self.decay, self.eps = decay, eps

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
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

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
