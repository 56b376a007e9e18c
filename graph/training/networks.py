"""Network builders: plain graph assembly, the same a user could write by hand."""
import numpy as np

from gates import (
    GRU,
    LSTM,
    RNN,
    Add,
    Affine,
    BatchNorm,
    Conv2D,
    Dropout,
    Embedding,
    Linear,
    MaxPool2D,
    ReLU,
    Reshape,
    Sigmoid,
    Tanh,
)
from losses import Hinge, L2Penalty, SoftmaxWithLoss

from ..graph import ComputationalGraph
from .data.sequences import PAD
from .init import INITIALISERS, he

ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}
LOSSES = {"softmax": SoftmaxWithLoss, "hinge": Hinge}


def _choice(kind, value, options):
    if value not in options:
        raise ValueError(f"unknown {kind} {value!r}; choose one of {sorted(options)}")
    return options[value]


def _add_loss(g, loss, weights, l2):
    """Data loss on ``scores`` and labels ``y``, plus ``l2 * sum(W**2)`` for each weight, named ``loss``."""
    data_loss = g.add(_choice("loss", loss, LOSSES)(), "scores", "y", name="data_loss" if l2 else "loss")
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
    act = _choice("activation", activation, ACTIVATIONS)
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


CELLS = {"rnn": (RNN, 1), "lstm": (LSTM, 4), "gru": (GRU, 3)}


def language_model(vocab_size, embed=32, hidden=128, cell="lstm", stateful=False, seed=0, dtype=np.float64):
    """Embedding -> RNN / LSTM / GRU -> Linear -> SoftmaxWithLoss(ignore_index=PAD), as a graph.

    Inputs ``x`` (N, T) character ids and ``y`` (N, T) next-character labels (PAD where
    nothing is asked). Params ``E`` (V, embed), ``Wx``, ``Wh``, ``b`` (``bx``, ``bh`` for a
    GRU) in PyTorch's layouts, ``W_out``, ``b_out``; nodes ``embed``, ``rnn``, ``scores``,
    ``loss``. The initial state is zero; with ``stateful`` it is fed instead, as inputs
    ``h0`` (and ``c0``), so that one batch can continue where the last one ended.
    """
    gate, blocks = _choice("cell", cell, CELLS)
    rng = np.random.default_rng(seed)
    g = ComputationalGraph()
    x, y = g.input("x"), g.input("y")
    E = g.param("E", (rng.standard_normal((vocab_size, embed)) * 0.1).astype(dtype))
    states = [g.input(name) if stateful else g.const(np.zeros(hidden, dtype), name=f"{name}_zero")
              for name in (("h0", "c0") if cell == "lstm" else ("h0",))]
    Wx = g.param("Wx", (rng.standard_normal((embed, blocks * hidden)) / np.sqrt(embed)).astype(dtype))
    Wh = g.param("Wh", (rng.standard_normal((hidden, blocks * hidden)) / np.sqrt(hidden)).astype(dtype))
    biases = [g.param(name, np.zeros(blocks * hidden, dtype)) for name in (("bx", "bh") if cell == "gru" else ("b",))]
    embedded = g.add(Embedding(), x, E, name="embed")
    h = g.add(gate(), embedded, *states, Wx, Wh, *biases, name="rnn")
    W_out = g.param("W_out", (rng.standard_normal((hidden, vocab_size)) / np.sqrt(hidden)).astype(dtype))
    b_out = g.param("b_out", np.zeros(vocab_size, dtype))
    g.add(Linear(), h, W_out, b_out, name="scores")
    g.add(SoftmaxWithLoss(ignore_index=PAD), "scores", y, name="loss")
    return g


def generate(graph, prompt, steps, greedy=True, temperature=1.0, seed=None):
    """Continue ``prompt`` (ids (T,) or a batch (N, T)) by ``steps`` characters; returns the new ids.

    Each step runs the graph's ``scores`` on everything so far and takes the last
    position's most likely character (``greedy``) or samples softmax(scores / temperature)
    with ``seed``. A stateful graph starts from zero states. The gates' modes are kept.
    """
    ids = np.atleast_2d(np.asarray(prompt, dtype=np.int64))
    rng = np.random.default_rng(seed)
    fed = {node.name: np.zeros((len(ids), graph.params["Wh"].shape[0]), graph.params["Wh"].dtype)
           for node in graph.nodes if node.kind == "input" and node.name in ("h0", "c0")}
    new = []
    for _ in range(steps):
        scores = graph.forward(output="scores", x=ids, **fed)[:, -1]
        if greedy:
            choice = scores.argmax(axis=-1)
        else:
            logits = scores / temperature
            probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
            probs /= probs.sum(axis=-1, keepdims=True)
            choice = np.array([rng.choice(len(p), p=p) for p in probs])
        new.append(choice)
        ids = np.concatenate([ids, choice[:, None]], axis=1)
    out = np.stack(new, axis=1) if new else np.zeros((len(ids), 0), np.int64)
    return out[0] if np.ndim(prompt) == 1 else out
