"""Feed-forward builders: MLPs and a small conv net, as plain graph assembly a user could write by hand."""
import numpy as np

from gates import (
    Add,
    Affine,
    BatchNorm,
    Conv2D,
    Dropout,
    MaxPool2D,
    ReLU,
    Reshape,
    Sigmoid,
    Tanh,
)
from losses import Hinge, L2Penalty, SoftmaxWithLoss

from ...graph import ComputationalGraph
from ..init import INITIALISERS, he

ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}
LOSSES = {"softmax": SoftmaxWithLoss, "hinge": Hinge}


def choice(kind, value, options):
    if value not in options:
        raise ValueError(f"unknown {kind} {value!r}; choose one of {sorted(options)}")
    return options[value]


def _add_loss(g, loss, weights, l2):
    """Data loss on ``scores`` and labels ``y``, plus ``l2 * sum(W**2)`` for each weight, named ``loss``."""
    data_loss = g.add(choice("loss", loss, LOSSES)(), "scores", "y", name="data_loss" if l2 else "loss")
    if l2:
        terms = [data_loss] + [g.add(L2Penalty(l2), w, name=f"l2_{w}") for w in weights]
        total = terms[0]
        for k, term in enumerate(terms[1:], 1):
            total = g.add(Add(), total, term, name="loss" if k == len(terms) - 1 else f"loss_{k}")
    g.set_output("loss")
    return g


def mlp(sizes, activation="relu", loss="softmax", dropout=0.0, batchnorm=False, l2=0.0,
        init=None, seed=0, dtype=np.float64):
    """A multilayer perceptron graph: sizes (D, H1, ..., C), e.g. (64, 100, 10).

    Inputs ``x`` (N, D) and ``y`` (N,); params ``W1, b1, W2, b2, ...`` (and
    ``gamma1, beta1, ...`` with batch norm); the last affine node is named
    ``scores`` and the output ``loss`` (data loss plus ``l2 * sum W**2``).
    Hidden layers are affine - [batch norm] - activation - [dropout].
    """
    act = choice("activation", activation, ACTIVATIONS)
    initialise = INITIALISERS[init or ("he" if activation == "relu" else "xavier")]
    rng = np.random.default_rng(seed)
    g = ComputationalGraph()
    h = g.input("x")
    g.input("y")
    layers = len(sizes) - 1
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        W = g.param(f"W{k}", initialise((fan_in, fan_out), seed=rng, dtype=dtype))
        b = g.param(f"b{k}", np.zeros(fan_out, dtype))
        h = g.add(Affine(), h, W, b, name="scores" if k == layers else f"affine{k}")
        if k == layers:
            break
        if batchnorm:
            gamma = g.param(f"gamma{k}", np.ones(fan_out, dtype))
            beta = g.param(f"beta{k}", np.zeros(fan_out, dtype))
            h = g.add(BatchNorm(), h, gamma, beta, name=f"batchnorm{k}")
        h = g.add(act(), h, name=f"{activation}{k}")
        if dropout:
            h = g.add(Dropout(dropout, seed=rng), h, name=f"dropout{k}")
    return _add_loss(g, loss, [f"W{k}" for k in range(1, layers + 1)], l2)


def convnet(input_shape=(1, 8, 8), filters=16, kernel=3, hidden=100, classes=10, loss="softmax",
            dropout=0.0, l2=0.0, seed=0, dtype=np.float64):
    """conv - relu - 2x2 max pool - affine - relu - affine, on flat inputs ``x`` (N, C*H*W).

    The convolution keeps the size (stride 1, pad kernel // 2). Params
    ``W1, b1`` (conv), ``W2, b2``, ``W3, b3``; nodes ``scores`` and ``loss``
    as in `mlp`.
    """
    C, H, W = input_shape
    rng = np.random.default_rng(seed)
    g = ComputationalGraph()
    x = g.input("x")
    g.input("y")
    images = g.add(Reshape((-1, C, H, W)), x, name="images")
    W1 = g.param("W1", he((filters, C, kernel, kernel), seed=rng, dtype=dtype))
    b1 = g.param("b1", np.zeros(filters, dtype))
    h = g.add(Conv2D(stride=1, pad=kernel // 2), images, W1, b1, name="conv1")
    h = g.add(ReLU(), h, name="relu1")
    h = g.add(MaxPool2D(2, 2), h, name="pool1")
    pooled = filters * (H // 2) * (W // 2)
    W2 = g.param("W2", he((pooled, hidden), seed=rng, dtype=dtype))
    b2 = g.param("b2", np.zeros(hidden, dtype))
    h = g.add(Affine(), h, W2, b2, name="affine2")
    h = g.add(ReLU(), h, name="relu2")
    if dropout:
        h = g.add(Dropout(dropout, seed=rng), h, name="dropout2")
    W3 = g.param("W3", he((hidden, classes), seed=rng, dtype=dtype))
    b3 = g.param("b3", np.zeros(classes, dtype))
    g.add(Affine(), h, W3, b3, name="scores")
    return _add_loss(g, loss, ["W1", "W2", "W3"], l2)
