"""Recurrent builders: a character language model, and generating text from it."""
import numpy as np

from gates import GRU, LSTM, RNN, Embedding, Linear
from losses import SoftmaxWithLoss

from ...graph import ComputationalGraph
from ..data.sequences import PAD
from .feedforward import choice

CELLS = {"rnn": (RNN, 1), "lstm": (LSTM, 4), "gru": (GRU, 3)}


def language_model(vocab_size, embed=32, hidden=128, cell="lstm", stateful=False, seed=0, dtype=np.float64):
    """Embedding -> RNN / LSTM / GRU -> Linear -> SoftmaxWithLoss(ignore_index=PAD), as a graph.

    Inputs ``x`` (N, T) character ids and ``y`` (N, T) next-character labels (PAD where
    nothing is asked). Params ``E`` (V, embed), ``Wx``, ``Wh``, ``b`` (``bx``, ``bh`` for a
    GRU) in PyTorch's layouts, ``W_out``, ``b_out``; nodes ``embed``, ``rnn``, ``scores``,
    ``loss``. The initial state is zero; with ``stateful`` it is fed instead, as inputs
    ``h0`` (and ``c0``), so that one batch can continue where the last one ended.
    """
    gate, blocks = choice("cell", cell, CELLS)
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


def generate(graph, prompt, steps, greedy=True, temperature=1.0, seed=None, length=None):
    """Continue ``prompt`` (ids (T,) or a batch (N, T)) by ``steps`` characters; returns the new ids.

    Each step runs the graph's ``scores`` on everything so far and takes the last
    position's most likely character (``greedy``) or samples softmax(scores / temperature)
    with ``seed``. A stateful graph starts from zero states. A graph that takes sequences
    of one ``length`` (a causal transformer) gets them padded with id 0 at the end: causal
    masking keeps the padding from reaching the positions read.
    """
    ids = np.atleast_2d(np.asarray(prompt, dtype=np.int64))
    rng = np.random.default_rng(seed)
    fed = {node.name: np.zeros((len(ids), graph.params["Wh"].shape[0]), graph.params["Wh"].dtype)
           for node in graph.nodes if node.kind == "input" and node.name in ("h0", "c0")}
    new = []
    for _ in range(steps):
        padded = ids if length is None else np.pad(ids, ((0, 0), (0, length - ids.shape[1])))
        scores = graph.forward(output="scores", x=padded, **fed)[:, ids.shape[1] - 1]
        if greedy:
            picked = scores.argmax(axis=-1)
        else:
            logits = scores / temperature
            probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
            probs /= probs.sum(axis=-1, keepdims=True)
            picked = np.array([rng.choice(len(p), p=p) for p in probs])
        new.append(picked)
        ids = np.concatenate([ids, picked[:, None]], axis=1)
    out = np.stack(new, axis=1) if new else np.zeros((len(ids), 0), np.int64)
    return out[0] if np.ndim(prompt) == 1 else out
