"""Every built-in loss with inputs to check it on and a plain-numpy reference (see ``gates.catalogue``)."""
import numpy as np
from scipy.special import logsumexp

from gates.catalogue import ErrorInput, GateSpec

from . import losses as L


def _softmax_loss(s, y, ignore_index=None):
    log_probs = (s - logsumexp(s, axis=-1, keepdims=True)).reshape(-1, s.shape[-1])
    y = y.reshape(-1)
    keep = np.ones(len(y), bool) if ignore_index is None else y != ignore_index
    return -np.mean(log_probs[np.flatnonzero(keep), y[keep]])


def _multiclass_hinge(s, y, margin=1.0):
    margins = np.maximum(0, s - s[np.arange(len(y)), y][:, None] + margin)
    return (margins.sum() - margin * len(y)) / len(y)   # minus the j == y terms, each = margin


def _torch_hinge(torch, s, y):   # written out: torch's multi_margin_loss also divides by C
    margins = (s - s.gather(1, y[:, None]) + 1.0).clamp(min=0)
    return (margins.sum() - s.shape[0]) / s.shape[0]


def _torch_cross_entropy(ignore_index=-100):
    def reference(torch, s, y):
        if y.shape == s.shape:
            return torch.nn.functional.cross_entropy(s.reshape(-1, s.shape[-1]), y.reshape(-1, s.shape[-1]))
        return torch.nn.functional.cross_entropy(s.reshape(-1, s.shape[-1]), y.reshape(-1), ignore_index=ignore_index)
    return reference


def _padded_labels(rng_seed=0):
    """Labels (2, 5) over 4 classes with the padding id -1 at the ends of the sequences."""
    y = np.random.default_rng(rng_seed).integers(0, 4, (2, 5))
    y[0, 3:], y[1, 4:] = -1, -1
    return y


LOSSES = [
    GateSpec(L.SoftmaxWithLoss, ((6, 4), (6,)), ("normal", "labels:4"), _softmax_loss,
             torch=_torch_cross_entropy(),
             errors=(ErrorInput((np.zeros((3, 4)), np.array([0, 1, 4])), r"expected class indices in \[0, 4\)"),
                     ErrorInput((np.zeros((3, 4)), np.array([0.0, 1.0, 2.0])), "integer"),
                     ErrorInput((np.zeros((3, 4)), np.array([0, 1])), r"shape \(2,\); expected \(3,\)"),
                     ErrorInput((np.array([[0.0, np.nan]]), np.array([0])), "NaN"),
                     ErrorInput((np.zeros((2, 3)), np.array([[0.5, 0.2, 0.2], [0, 0, 1.0]])), r"summing to 0\.9"),
                     ErrorInput((np.zeros((1, 2)), np.array([[np.nan, 1.0]])), "NaN"))),
    GateSpec(L.SoftmaxWithLoss, ((2, 3, 4), (2, 3)), ("normal", "labels:4"), _softmax_loss,
             torch=_torch_cross_entropy(), label="SoftmaxWithLoss(sequence)"),
    GateSpec(L.SoftmaxWithLoss, ((3, 4), (3, 4)), ("normal", "probs"),
             lambda s, t: -np.sum(t * (s - logsumexp(s, axis=1, keepdims=True))) / len(s),
             torch=_torch_cross_entropy(), label="SoftmaxWithLoss(probabilities)", tags=frozenset({"fixed-labels"})),
    GateSpec(lambda: L.SoftmaxWithLoss(ignore_index=-1), ((2, 5, 4), (2, 5)), ("normal", "padded"),
             lambda s, y: _softmax_loss(s, y, -1), torch=_torch_cross_entropy(-1),
             errors=(ErrorInput((np.zeros((2, 4)), np.array([-1, -1])), "nothing to average",
                                make=lambda: L.SoftmaxWithLoss(ignore_index=-1)),)),
    GateSpec(L.SigmoidWithLoss, ((3, 4), (3, 4)), ("normal", "binary"),
             lambda s, y: np.mean(np.logaddexp(0, s) - s * y),
             torch=lambda t, s, y: t.nn.functional.binary_cross_entropy_with_logits(s, y.to(s.dtype)),
             errors=(ErrorInput((np.zeros(3), np.array([0, 1, 2])), r"must be 0 or 1"),
                     ErrorInput((np.zeros(3), np.array([0, 1])),
                                r"labels have shape \(2,\) but scores have shape \(3,\)"))),
    GateSpec(L.Hinge, ((6, 4), (6,)), ("normal", "labels:4"), _multiclass_hinge, torch=_torch_hinge,
             errors=(ErrorInput((np.zeros((2, 3)), np.array([0, 3])), r"\[0, 3\)"),
                     ErrorInput((np.array([np.inf, 0.0]), np.array([1, -1])), "NaN or inf"))),
    GateSpec(L.Hinge, ((6,), (6,)), ("normal", "signs"), lambda s, y: np.mean(np.maximum(0, 1 - y * s)),
             "Hinge(binary)", torch=lambda t, s, y: (1 - y * s).clamp(min=0).mean(),
             errors=(ErrorInput((np.zeros(3), np.array([1, 0, -1])), r"\{-1, \+1\}"),)),
    GateSpec(L.MeanSquaredError, ((5, 3), (5, 3)), ("normal", "normal"), lambda p, t: np.mean((p - t) ** 2),
             torch=lambda t, p, y: t.nn.functional.mse_loss(p, y),
             errors=(ErrorInput((np.zeros((2, 3)), np.zeros(3)),
                                r"pred has shape \(2, 3\) but target has shape \(3,\)"),
                     ErrorInput((np.zeros((0, 3)), np.zeros((0, 3))), "empty"))),
    GateSpec(lambda: L.L2Penalty(0.1), ((4, 3),), ("normal",), lambda W: 0.1 * np.sum(W ** 2),
             torch=lambda t, W: 0.1 * (W ** 2).sum()),
]
