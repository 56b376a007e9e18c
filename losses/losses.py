"""Loss gates: forward returns a Python float (mean over the batch), backward(dout=1.0)."""
import numpy as np
from scipy.special import log_softmax

from gates.base import Gate, upstream


def _check_scores(gate, scores, ndims):
    scores = np.asarray(scores)
    name = type(gate).__name__
    if scores.ndim not in ndims or scores.shape[0] == 0:
        expected = " or ".join({1: "(N,)", 2: "(N, C)"}[n] for n in ndims)
        raise ValueError(f"{name}: scores have shape {scores.shape}; expected {expected} with N > 0")
    if scores.dtype.kind != "f":
        scores = scores.astype(np.float64)
    if not np.isfinite(scores).all():
        raise ValueError(f"{name}: scores contain NaN or inf; expected finite numbers")
    return scores


def _class_labels(gate, labels, n, classes):
    """Integer class labels of shape (n,) in [0, classes), or a ValueError saying what came."""
    labels = np.asarray(labels)
    name = type(gate).__name__
    if labels.shape != (n,):
        raise ValueError(f"{name}: labels have shape {labels.shape}; expected ({n},) integer "
                         f"class indices for scores of {n} rows")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{name}: labels have dtype {labels.dtype}; expected integer class indices")
    if labels.min() < 0 or labels.max() >= classes:
        raise ValueError(f"{name}: labels range over [{labels.min()}, {labels.max()}]; "
                         f"expected class indices in [0, {classes})")
    return labels


class SoftmaxWithLoss(Gate):
    """Mean cross-entropy of softmax(scores): -mean_i log softmax(scores_i)[y_i].

    scores: (N, C); labels: integer (N,) or one-hot / probability rows (N, C).
    backward returns (dscores, None) with dscores = (softmax - onehot) / N * dout.
    """

    rule = "(softmax - onehot) / N"

    def forward(self, scores, labels):
        scores = _check_scores(self, scores, (2,))
        n, classes = scores.shape
        labels = np.asarray(labels)
        # scipy's log_softmax subtracts the row maximum (log-sum-exp): exp(scores)
        # itself would overflow for scores of ~1e3 (float64) or ~1e2 (float32)
        log_probs = log_softmax(scores, axis=1)
        if labels.ndim == 2:
            if labels.shape != scores.shape or not np.issubdtype(labels.dtype, np.number):
                raise ValueError(f"SoftmaxWithLoss: one-hot labels have shape {labels.shape} and dtype "
                                 f"{labels.dtype}; expected numbers of shape {scores.shape}")
            self.target = labels.astype(scores.dtype, copy=False)
            loss = -np.sum(self.target * log_probs) / n
        else:
            self.target = _class_labels(self, labels, n, classes)
            loss = -log_probs[np.arange(n), self.target].sum() / n
        self.probs = np.exp(log_probs)
        return float(loss)

    def backward(self, dout=1.0):
        n = self.probs.shape[0]
        if self.target.ndim == 2:
            dscores = self.probs - self.target
        else:
            dscores = self.probs.copy()
            dscores[np.arange(n), self.target] -= 1
        return dscores * upstream(dout / n, self.probs), None


class Hinge(Gate):
    """Hinge loss, binary or multiclass (SVM).

    scores (N,) with labels in {-1, +1}: mean(max(0, margin - y * s)).
    scores (N, C) with integer labels: mean over N of sum_{j != y} max(0, s_j - s_y + margin).
    backward returns (dscores, None); at the kink (margin exactly met) the gradient is 0.
    """

    rule = "-y where the margin is violated (binary); +1 / -count per violated class (multiclass)"
    hyperparameters = ("margin",)

    def __init__(self, margin=1.0):
        self.margin = margin

    def forward(self, scores, labels):
        scores = _check_scores(self, scores, (1, 2))
        n, self.dtype = scores.shape[0], scores.dtype
        if scores.ndim == 1:
            labels = np.asarray(labels)
            if labels.shape != (n,) or not np.all((labels == 1) | (labels == -1)):
                raise ValueError(f"Hinge: binary labels must have shape ({n},) and values in {{-1, +1}}; "
                                 f"got shape {labels.shape} with values {np.unique(labels)[:5]}")
            self.y = labels.astype(scores.dtype)
            slack = self.margin - self.y * scores
            self.violated = slack > 0
            return float(np.sum(slack[self.violated]) / n)
        self.labels = _class_labels(self, labels, n, scores.shape[1])
        rows = np.arange(n)
        margins = scores - scores[rows, self.labels][:, None] + self.margin
        margins[rows, self.labels] = 0
        self.violated = margins > 0
        return float(np.sum(margins[self.violated]) / n)

    def backward(self, dout=1.0):
        n = self.violated.shape[0]
        scale = upstream(dout / n, self.dtype)
        if self.violated.ndim == 1:
            return -self.y * self.violated * scale, None
        dscores = self.violated.astype(self.dtype)
        dscores[np.arange(n), self.labels] = -self.violated.sum(axis=1)
        return dscores * scale, None


class MeanSquaredError(Gate):
    """mean((pred - target) ** 2) over every element; pred and target of the same shape.

    backward returns (dpred, dtarget) = (2 (pred - target) / size, -dpred) * dout.
    """

    rule = "2 (pred - target) / size, and its negative for target"

    def forward(self, pred, target):
        if np.shape(pred) != np.shape(target):
            raise ValueError(f"MeanSquaredError: pred has shape {np.shape(pred)} but target has "
                             f"shape {np.shape(target)}; expected the same shape")
        self.diff = np.subtract(pred, target)
        if not np.all(np.isfinite(self.diff)):
            raise ValueError("MeanSquaredError: pred or target contain NaN or inf; expected finite numbers")
        return float(np.mean(self.diff * self.diff))

    def backward(self, dout=1.0):
        dpred = self.diff * upstream(2 * dout / max(np.size(self.diff), 1), self.diff)
        return dpred, -dpred


class L2Penalty(Gate):
    """strength * sum(W ** 2), the weight-decay term; backward returns 2 * strength * W * dout."""

    rule = "2 * strength * W"
    hyperparameters = ("strength",)

    def __init__(self, strength):
        self.strength = strength

    def forward(self, W):
        self.W = np.asarray(W)
        return float(self.strength * np.sum(self.W * self.W))

    def backward(self, dout=1.0):
        return self.W * upstream(2 * self.strength * dout, self.W)
