"""Every built-in loss with inputs to check it on and a plain-numpy reference (see ``gates.catalogue``)."""
import numpy as np
from scipy.special import logsumexp

from gates.catalogue import GateSpec

from . import losses as L


def _softmax_loss(s, y):
    log_probs = s - logsumexp(s, axis=1, keepdims=True)
    return -np.mean(log_probs[np.arange(len(y)), y])


def _multiclass_hinge(s, y, margin=1.0):
    margins = np.maximum(0, s - s[np.arange(len(y)), y][:, None] + margin)
    return (margins.sum() - margin * len(y)) / len(y)   # minus the j == y terms, each = margin


LOSSES = [
    GateSpec(L.SoftmaxWithLoss, ((6, 4), (6,)), ("normal", "labels:4"), _softmax_loss),
    GateSpec(L.Hinge, ((6, 4), (6,)), ("normal", "labels:4"), _multiclass_hinge),
    GateSpec(L.Hinge, ((6,), (6,)), ("normal", "signs"), lambda s, y: np.mean(np.maximum(0, 1 - y * s)),
             "Hinge(binary)"),
    GateSpec(L.MeanSquaredError, ((5, 3), (5, 3)), ("normal", "normal"), lambda p, t: np.mean((p - t) ** 2)),
    GateSpec(lambda: L.L2Penalty(0.1), ((4, 3),), ("normal",), lambda W: 0.1 * np.sum(W ** 2)),
]
