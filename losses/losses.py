"""Loss gates: forward returns a Python float (mean over the batch), backward(dout=1.0)."""
import numpy as np
from scipy.special import expit

from gates.base import Gate, GateError, all_finite, as_float, as_floats, cast_like, hyperparameter


def float_scores(gate, scores, min_ndim=1):
    """Scores as a float array (the gates' dtype rule), finite, with at least one element."""
    scores = as_float(gate, scores, "scores")
    if scores.ndim < min_ndim or scores.size == 0:
        raise GateError(gate, f"scores have shape {scores.shape}; expected at least {min_ndim} "
                              "axis and at least one element")
    if not all_finite(scores):
        raise GateError(gate, f"scores of shape {scores.shape} contain NaN or inf; expected finite numbers")
    return scores


def class_labels(gate, labels, shape, classes, ignore_index=None):
    """Integer class labels of ``shape`` in [0, classes) (or equal to ``ignore_index``)."""
    labels = np.asarray(labels)
    if labels.shape != shape:
        raise GateError(gate, f"labels have shape {labels.shape}; expected {shape} integer class indices "
                              f"for scores of shape {shape + (classes,)}")
    if labels.dtype.kind not in "iu":
        raise GateError(gate, f"labels have dtype {labels.dtype}; expected integer class indices")
    counted = labels if ignore_index is None else labels[labels != ignore_index]
    # one reduction: seen as unsigned, a negative label is huge, so max() >= classes catches both ends
    unsigned = counted.view(counted.dtype.str.replace("i", "u")) if counted.dtype.kind == "i" else counted
    if counted.size and unsigned.max() >= classes:
        ignored = "" if ignore_index is None else f" (or ignore_index {ignore_index})"
        raise GateError(gate, f"labels range over [{counted.min()}, {counted.max()}]; "
                              f"expected class indices in [0, {classes}){ignored}")
    return labels


class SoftmaxWithLoss(Gate):
    """Mean cross-entropy of softmax over the last axis: -mean log softmax(scores)[label].

    scores: (..., C); labels: integer (...) or probability rows (..., C) that sum to 1.
    Positions labelled ``ignore_index`` count for nothing; the mean is over the rest
    (PyTorch's ``cross_entropy``). backward: (dscores, None), dscores = (softmax - onehot) / count.
    """

    rule = "(softmax - onehot) / count"
    hyperparameters = ("ignore_index",)

    def __init__(self, ignore_index=None):
        self.ignore_index = hyperparameter("SoftmaxWithLoss", "ignore_index", ignore_index, "int", optional=True)

    def forward(self, scores, labels):
        scores = float_scores(self, scores)
        classes = scores.shape[-1]
        flat = scores.reshape(-1, classes)
        # Softmax written out with the row maximum subtracted (log-sum-exp), rather than
        # scipy.special.log_softmax: the same stable form, and faster on the training hot
        # path (benchmarks/mlp_step.py). Shifted scores are <= 0, so exp never overflows;
        # a shift of -2e308 overflows to -inf, whose exp is the right 0 (hence errstate).
        with np.errstate(over="ignore"):
            shifted = flat - flat.max(axis=1, keepdims=True)
        self.probs = np.exp(shifted)
        total = self.probs.sum(axis=1, keepdims=True)
        self.probs /= total
        self.shape = scores.shape
        labels = np.asarray(labels)
        if labels.ndim == scores.ndim and labels.shape != scores.shape:
            raise GateError(self, f"one-hot labels have shape {labels.shape}; expected {scores.shape} "
                                  f"(or integer class indices of shape {scores.shape[:-1]})")
        if labels.shape == scores.shape:    # one-hot or probability rows
            self.target = self._probability_rows(labels, flat.dtype)
            self.rows = self.ignored = None
            self.count = len(flat)
            return float(-np.sum(self.target * (shifted - np.log(total))) / self.count)
        labels = class_labels(self, labels, scores.shape[:-1], classes, self.ignore_index).reshape(-1)
        self.ignored = None if self.ignore_index is None else labels == self.ignore_index
        self.rows = np.arange(len(flat)) if self.ignored is None else np.flatnonzero(~self.ignored)
        self.target = labels if self.ignored is None else labels[self.rows]
        self.count = len(self.rows)
        if self.count == 0:
            raise GateError(self, f"every one of the {labels.size} labels is ignore_index "
                                  f"{self.ignore_index}; there is nothing to average")
        # -log softmax at the labels only: shifted[label] - log(total), no full log-probability array
        totals = total[:, 0] if self.ignored is None else total[self.rows, 0]
        picked = shifted[self.rows, self.target] - np.log(totals)
        return float(-picked.sum() / self.count)

    def _probability_rows(self, labels, dtype):
        if labels.dtype.kind not in "iuf" or not np.isfinite(labels).all() or labels.min() < 0:
            raise GateError(self, f"probability labels of shape {labels.shape} hold NaN, inf or negative "
                                  "numbers; expected rows of probabilities")
        sums = labels.reshape(-1, labels.shape[-1]).sum(axis=1)
        tolerance = max(1e-6, 10 * np.sqrt(np.finfo(dtype).eps))
        if not np.allclose(sums, 1.0, rtol=0, atol=tolerance):
            worst = sums[np.argmax(np.abs(sums - 1))]
            raise GateError(self, f"probability labels of shape {labels.shape} have a row summing to "
                                  f"{worst:.6g}; expected every row to sum to 1 (one-hot or a distribution)")
        return labels.reshape(-1, labels.shape[-1]).astype(dtype, copy=False)

    def backward(self, dout=1.0):
        scale = cast_like(dout / self.count, self.probs)
        if self.rows is None:
            dscores = self.probs - self.target
        else:
            dscores = self.probs.copy()
            dscores[self.rows, self.target] -= 1
            if self.ignored is not None:
                dscores[self.ignored] = 0     # padding positions send no gradient
        dscores *= scale
        return dscores.reshape(self.shape), None


class SigmoidWithLoss(Gate):
    """Mean binary cross-entropy on logits: mean(max(s, 0) - s y + log(1 + exp(-|s|))).

    scores and labels of the same shape, labels in {0, 1} (PyTorch's
    ``binary_cross_entropy_with_logits``). backward: (dscores, None), (sigmoid(s) - y) / count.
    """

    rule = "(sigmoid - label) / count"

    def forward(self, scores, labels):
        scores = float_scores(self, scores, min_ndim=0)
        labels = np.asarray(labels)
        if labels.shape != scores.shape:
            raise GateError(self, f"labels have shape {labels.shape} but scores have shape {scores.shape}; "
                                  "expected the same shape")
        if labels.dtype.kind not in "iubf" or not np.all((labels == 0) | (labels == 1)):
            raise GateError(self, f"labels of shape {labels.shape} must be 0 or 1; got values "
                                  f"{np.unique(labels)[:5]}")
        self.labels = labels.astype(scores.dtype, copy=False)
        # the stable form: log(1 + exp(s)) - s y, with exp taken only of -|s| <= 0
        loss = np.maximum(scores, 0) - scores * self.labels + np.log1p(np.exp(-np.abs(scores)))
        self.probs = expit(scores)
        return float(np.sum(loss / loss.size))    # divided first: terms near 1e308 must not overflow the sum

    def backward(self, dout=1.0):
        return (self.probs - self.labels) * cast_like(dout / self.probs.size, self.probs), None


class Hinge(Gate):
    """Hinge loss, binary or multiclass (SVM).

    scores (N,) with labels in {-1, +1}: mean(max(0, margin - y * s)).
    scores (N, C) with integer labels: mean over N of sum_{j != y} max(0, s_j - s_y + margin).
    backward returns (dscores, None); at the kink (margin exactly met) the gradient is 0.
    """

    rule = "-y where the margin is violated (binary); +1 / -count per violated class (multiclass)"
    hyperparameters = ("margin",)

    def __init__(self, margin=1.0):
        self.margin = hyperparameter("Hinge", "margin", margin)

    def forward(self, scores, labels):
        scores = float_scores(self, scores)
        if scores.ndim > 2:
            raise GateError(self, f"scores have shape {scores.shape}; expected (N,) or (N, C)")
        n, self.dtype = scores.shape[0], scores.dtype
        if scores.ndim == 1:
            labels = np.asarray(labels)
            if labels.shape != (n,) or not np.all((labels == 1) | (labels == -1)):
                raise GateError(self, f"binary labels must have shape ({n},) and values in {{-1, +1}}; "
                                      f"got shape {labels.shape} with values {np.unique(labels)[:5]}")
            self.y = labels.astype(scores.dtype)
            slack = self.margin - self.y * scores
            self.violated = slack > 0
            return float(np.sum(slack[self.violated]) / n)
        self.labels = class_labels(self, labels, (n,), scores.shape[1])
        rows = np.arange(n)
        margins = scores - scores[rows, self.labels][:, None] + self.margin
        margins[rows, self.labels] = 0
        self.violated = margins > 0
        return float(np.sum(margins[self.violated]) / n)

    def backward(self, dout=1.0):
        n = self.violated.shape[0]
        scale = cast_like(dout / n, self.dtype)
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
            raise GateError(self, f"pred has shape {np.shape(pred)} but target has shape "
                                  f"{np.shape(target)}; expected the same shape")
        if np.size(pred) == 0:
            raise GateError(self, f"pred and target of shape {np.shape(pred)} are empty; "
                                  "a mean over no elements is undefined")
        self.diff = np.subtract(*as_floats(self, "pred target", pred, target))
        if not all_finite(self.diff):
            raise GateError(self, f"pred or target of shape {np.shape(pred)} contain NaN or inf; "
                                  "expected finite numbers")
        return float(np.mean(self.diff * self.diff))

    def backward(self, dout=1.0):
        dpred = self.diff * cast_like(2 * dout / np.size(self.diff), self.diff)
        return dpred, -dpred


class L2Penalty(Gate):
    """strength * sum(W ** 2), the weight-decay term; backward returns 2 * strength * W * dout."""

    rule = "2 * strength * W"
    hyperparameters = ("strength",)

    def __init__(self, strength):
        self.strength = hyperparameter("L2Penalty", "strength", strength, low=0)

    def forward(self, W):
        self.W = as_float(self, W, "W")
        return float(self.strength * np.sum(self.W * self.W))

    def backward(self, dout=1.0):
        return self.W * cast_like(2 * self.strength * dout, self.W)
