"""Recurrent builders: a character language model, and generating text from it."""
import inspect

import numpy as np
from scipy.special import softmax

from gates import GRU, LSTM, RNN, Embedding, Linear
from gates.base import hyperparameter
from losses import SoftmaxWithLoss

from ...graph import ComputationalGraph
from ..data.sequences import PAD
from ..init import gaussian, lecun
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
    E = g.param("E", gaussian((vocab_size, embed), 0.1, seed=rng, dtype=dtype))
    states = [g.input(name) if stateful else g.const(np.zeros(hidden, dtype), name=f"{name}_zero")
              for name in (("h0", "c0") if cell == "lstm" else ("h0",))]
    Wx = g.param("Wx", lecun((embed, blocks * hidden), seed=rng, dtype=dtype))
    Wh = g.param("Wh", lecun((hidden, blocks * hidden), seed=rng, dtype=dtype))
    biases = [g.param(name, np.zeros(blocks * hidden, dtype)) for name in (("bx", "bh") if cell == "gru" else ("b",))]
    embedded = g.add(Embedding(), x, E, name="embed")
    h = g.add(gate(), embedded, *states, Wx, Wh, *biases, name="rnn")
    W_out = g.param("W_out", lecun((hidden, vocab_size), seed=rng, dtype=dtype))
    b_out = g.param("b_out", np.zeros(vocab_size, dtype))
    g.add(Linear(), h, W_out, b_out, name="scores")
    g.add(SoftmaxWithLoss(ignore_index=PAD), "scores", y, name="loss")
    return g


def zero_states(graph, batch):
    """Zeros for the states a stateful graph is fed (``h0``, ``c0``), ``(batch, H)``: H and the dtype
    are read off the ``Wh`` param wired into the recurrent gate the state feeds, whatever its name."""
    states = {}
    for node in graph.nodes:
        arguments = list(inspect.signature(node.gate.forward).parameters) if node.gate is not None else []
        if "Wh" not in arguments:
            continue
        Wh = graph.node(node.input_names[arguments.index("Wh")]).value
        for argument, source in zip(arguments, node.input_names):
            if argument in ("h0", "c0", "h_prev") and graph.node(source).kind == "input" and Wh is not None:
                states[source] = np.zeros((batch, Wh.shape[0]), Wh.dtype)
    return states


def generate(graph, prompt, steps, greedy=True, temperature=1.0, seed=None, length=None):
    """Continue ``prompt`` (ids (T,) or a batch (N, T)) by ``steps`` characters; returns the new ids.

    Each step runs the graph's ``scores`` on everything so far and takes the last
    position's most likely character (``greedy``) or samples softmax(scores / temperature)
    with ``seed``. A stateful graph starts from zero states. A graph that takes sequences
    of one ``length`` (a causal transformer) gets them padded with id 0 at the end: causal
    masking keeps the padding from reaching the positions read.
    """
    steps = hyperparameter("generate", "steps", steps, "int", low=0)
    if not greedy:
        temperature = hyperparameter("generate", "temperature", temperature, low=0, low_open=True)
    ids = np.atleast_2d(np.asarray(prompt))
    if ids.dtype.kind not in "iu" or ids.ndim != 2 or ids.shape[1] == 0:
        raise ValueError(f"generate: the prompt must be a non-empty sequence (T,) or batch (N, T) of integer "
                         f"ids, got {np.asarray(prompt).dtype} data of shape {np.shape(prompt)}")
    if length is not None and ids.shape[1] + steps - 1 > length:
        raise ValueError(f"generate: a prompt of {ids.shape[1]} ids and {steps} steps need {ids.shape[1] + steps - 1} "
                         f"positions, but the graph takes sequences of {length}")
    ids = ids.astype(np.int64)
    rng = np.random.default_rng(seed)
    fed = zero_states(graph, len(ids))
    new = []
    for _ in range(steps):
        padded = ids if length is None else np.pad(ids, ((0, 0), (0, length - ids.shape[1])))
        scores = graph.forward(output="scores", x=padded, **fed)[:, ids.shape[1] - 1]
        if greedy:
            picked = scores.argmax(axis=-1)
        else:
            probs = softmax(scores / temperature, axis=-1)
            picked = np.array([rng.choice(len(p), p=p / p.sum()) for p in probs])
        new.append(picked)
        ids = np.concatenate([ids, picked[:, None]], axis=1)
    out = np.stack(new, axis=1) if new else np.zeros((len(ids), 0), np.int64)
    return out[0] if np.ndim(prompt) == 1 else out
