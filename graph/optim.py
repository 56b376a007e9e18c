"""Optimizers: ``step(params, grads)`` updates the param arrays in place, state kept per name."""
import numpy as np


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
            self.update(name, param, grads[name])

    def update(self, name, param, grad):
        raise NotImplementedError

    def _slot(self, name, param, key="v"):
        """A zero-initialised state array of ``param``'s shape and dtype."""
        return self.state.setdefault(name, {}).setdefault(key, np.zeros_like(param))


class SGD(Optimizer):
    """param -= lr * grad."""

    def update(self, name, param, grad):
        param -= self.lr * grad


class Momentum(Optimizer):
    """v = momentum * v + grad; param -= lr * v (torch.optim.SGD with momentum)."""

    def __init__(self, lr, momentum=0.9):
        super().__init__(lr)
        self.momentum = momentum

    def update(self, name, param, grad):
        v = self._slot(name, param)
        v *= self.momentum
        v += grad
        param -= self.lr * v


class RMSProp(Optimizer):
    """cache = decay * cache + (1 - decay) * grad^2; param -= lr * grad / (sqrt(cache) + eps)."""

    def __init__(self, lr, decay=0.99, eps=1e-8):
        super().__init__(lr)
        self.decay, self.eps = decay, eps

    def update(self, name, param, grad):
        cache = self._slot(name, param)
        cache *= self.decay
        cache += (1 - self.decay) * grad * grad
        param -= self.lr * grad / (np.sqrt(cache) + self.eps)


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
        m *= self.beta1
        m += (1 - self.beta1) * grad
        v *= self.beta2
        v += (1 - self.beta2) * grad * grad
        m_hat = m / (1 - self.beta1 ** t)
        v_hat = v / (1 - self.beta2 ** t)
        param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
