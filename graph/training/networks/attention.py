"""Attention builders, all plain graph assembly: no fused attention gate, so that every step of
softmax(Q K^T / sqrt(d)) V is a gate whose gradient can be read off and checked.

Node and param names say where they sit: ``block0.attention.weights`` is the softmax of the
first block's attention, ``block0.attention.Wq`` its query projection (``Wq = q_proj.weight.T``
in PyTorch's layout).
"""
import functools

import numpy as np

from gates import (
    LSTM,
    Add,
    Concat,
    Embedding,
    LayerNorm,
    Linear,
    MatMul,
    Multiply,
    ReLU,
    Reshape,
    Slice,
    Softmax,
    Sum,
    Transpose,
)
from gates.base import hyperparameter
from losses import SigmoidWithLoss, SoftmaxWithLoss

from ...graph import ComputationalGraph, Node
from ..data.sequences import PAD
from ..init import gaussian, lecun

MASKED = -1e9    # added to the scores a position may not attend to: its softmax weight underflows to 0


def causal_mask(length, dtype=np.float64):
    """(length, length): 0 where query t may attend to key s <= t, MASKED above the diagonal."""
    return np.triu(np.full((length, length), MASKED, dtype), k=1)


def _linear(g, x, fan_in, fan_out, name, rng, dtype):
    W = g.param(f"{name}.W", lecun((fan_in, fan_out), seed=rng, dtype=dtype))
    b = g.param(f"{name}.b", np.zeros(fan_out, dtype))
    return g.add(Linear(), x, W, b, name=name)


def _atomic(builder):
    """A builder that adds to a graph ``g`` it is given: all of it, or (when it fails) nothing."""
    @functools.wraps(builder)
    def build(g, *args, **kwargs):
        with g.atomic():
            return builder(g, *args, **kwargs)
    return build


@_atomic
def attention(g, query, key, value, width, heads, name="attention", mask=None, seed=0, dtype=np.float64):
    """Multi-head scaled dot-product attention added to ``g``; returns its output node (N, Tq, width).

    ``query`` (N, Tq, width), ``key`` and ``value`` (N, Tk, width) are nodes (the same node three
    times for self-attention). Each is projected (``{name}.q`` / ``.k`` / ``.v``), split into
    ``heads`` of width // heads (``.q_heads``: (N, heads, T, d)); then ``.scores`` = Q K^T,
    ``.scaled`` = scores / sqrt(d), ``.masked`` = + mask, ``.weights`` = softmax over the keys,
    ``.context`` = weights V; the heads are merged (``.merged``) and projected (``.out``).
    ``mask`` is a node or array that broadcasts to (N, heads, Tq, Tk): 0 to keep, MASKED to drop.
    """
    width = hyperparameter("attention", "width", width, "int", low=1)
    heads = hyperparameter("attention", "heads", heads, "int", low=1)
    if width % heads:
        raise ValueError(f"attention {name!r}: {heads} heads do not divide the width {width}; "
                         "expected width = heads * head width")
    d = width // heads
    rng = np.random.default_rng(seed)

    def split(node, which):
        projected = _linear(g, node, width, width, f"{name}.{which}", rng, dtype)
        flat = g.add(Reshape((0, 0, heads, d)), projected, name=f"{name}.{which}_split")
        return g.add(Transpose((0, 2, 1, 3)), flat, name=f"{name}.{which}_heads")

    q, k, v = split(query, "q"), split(key, "k"), split(value, "v")
    k_t = g.add(Transpose((0, 1, 3, 2)), k, name=f"{name}.k_transposed")
    scores = g.add(MatMul(), q, k_t, name=f"{name}.scores")
    # a Python float: a numpy float64 scalar would promote float32 scores to float64
    scale = g.const(float(1 / np.sqrt(d)), name=f"{name}.scale")
    scores = g.add(Multiply(), scores, scale, name=f"{name}.scaled")
    if mask is not None:
        mask = mask if isinstance(mask, Node) else g.const(np.asarray(mask, dtype), name=f"{name}.mask")
        scores = g.add(Add(), scores, mask, name=f"{name}.masked")
    weights = g.add(Softmax(axis=-1), scores, name=f"{name}.weights")
    context = g.add(MatMul(), weights, v, name=f"{name}.context")
    merged = g.add(Transpose((0, 2, 1, 3)), context, name=f"{name}.merged_heads")
    merged = g.add(Reshape((0, 0, width)), merged, name=f"{name}.merged")
    return _linear(g, merged, width, width, f"{name}.out", rng, dtype)


@_atomic
def transformer_block(g, x, width, heads, hidden, name="block", mask=None, seed=0, dtype=np.float64):
    """A pre-norm transformer block added to ``g``; returns its output node (N, T, width).

    x + attention(LayerNorm(x)) is ``{name}.residual1``; then + Linear(ReLU(Linear(LayerNorm(.))))
    with ``hidden`` units is ``{name}.residual2``.
    """
    rng = np.random.default_rng(seed)

    def norm(node, which):
        gamma = g.param(f"{name}.{which}.gamma", np.ones(width, dtype))
        beta = g.param(f"{name}.{which}.beta", np.zeros(width, dtype))
        return g.add(LayerNorm(), node, gamma, beta, name=f"{name}.{which}")

    attended = attention(g, *(norm(x, "ln1"),) * 3, width, heads, name=f"{name}.attention", mask=mask,
                         seed=rng, dtype=dtype)
    h = g.add(Add(), x, attended, name=f"{name}.residual1")
    up = _linear(g, norm(h, "ln2"), width, hidden, f"{name}.mlp1", rng, dtype)
    down = _linear(g, g.add(ReLU(), up, name=f"{name}.relu"), hidden, width, f"{name}.mlp2", rng, dtype)
    return g.add(Add(), h, down, name=f"{name}.residual2")


def transformer(vocab_size, length, width=64, heads=4, hidden=256, blocks=2, seed=0, dtype=np.float64):
    """A causal transformer language model over sequences of exactly ``length`` ids.

    Inputs ``x`` (N, length) ids and ``y`` (N, length) next-id labels (PAD where nothing is
    asked); token embedding ``E`` plus learned positions ``P``; ``blocks`` transformer blocks
    (``block0``, ...) with a causal mask; a final LayerNorm, ``scores`` and ``loss``.
    """
    rng = np.random.default_rng(seed)
    g = ComputationalGraph()
    x, y = g.input("x"), g.input("y")
    E = g.param("E", gaussian((vocab_size, width), 0.1, seed=rng, dtype=dtype))
    P = g.param("P", gaussian((length, width), 0.1, seed=rng, dtype=dtype))
    h = g.add(Add(), g.add(Embedding(), x, E, name="embed"), P, name="embed_positions")
    mask = g.const(causal_mask(length, dtype), name="causal_mask")
    for k in range(blocks):
        h = transformer_block(g, h, width, heads, hidden, name=f"block{k}", mask=mask, seed=rng, dtype=dtype)
    gamma, beta = g.param("ln.gamma", np.ones(width, dtype)), g.param("ln.beta", np.zeros(width, dtype))
    h = g.add(LayerNorm(), h, gamma, beta, name="ln")
    W = g.param("W_out", lecun((width, vocab_size), seed=rng, dtype=dtype))
    g.add(Linear(), h, W, g.param("b_out", np.zeros(vocab_size, dtype)), name="scores")
    g.add(SoftmaxWithLoss(ignore_index=PAD), "scores", y, name="loss")
    return g


def seq2seq(source_vocab, target_vocab, embed=16, hidden=128, seed=0, dtype=np.float64):
    """An LSTM encoder, and an LSTM decoder that attends to every encoder state (DLfS2's AttentionSeq2seq).

    Inputs ``source`` (N, Ts) ids, ``target_in`` (N, Tt) ids (the answer so far, after a start
    id) and ``y`` (N, Tt) labels. The decoder starts from the encoder's last state; at each step
    ``attention.weights`` = softmax over the source positions of decoder_t . encoder_s,
    ``attention.context`` their weighted sum, and [context, decoder_t] gives ``scores``.
    """
    rng = np.random.default_rng(seed)
    g = ComputationalGraph()
    source, target_in, y = g.input("source"), g.input("target_in"), g.input("y")
    zeros = g.const(np.zeros(hidden, dtype), name="zero_state")

    def lstm(x, vocab, h0, name):
        E = g.param(f"{name}.E", gaussian((vocab, embed), 0.1, seed=rng, dtype=dtype))
        Wx = g.param(f"{name}.Wx", lecun((embed, 4 * hidden), seed=rng, dtype=dtype))
        Wh = g.param(f"{name}.Wh", lecun((hidden, 4 * hidden), seed=rng, dtype=dtype))
        b = g.param(f"{name}.b", np.zeros(4 * hidden, dtype))
        embedded = g.add(Embedding(), x, E, name=f"{name}.embed")
        return g.add(LSTM(), embedded, h0, zeros, Wx, Wh, b, name=name)

    encoder = lstm(source, source_vocab, zeros, "encoder")
    last = g.add(Slice((slice(None), -1)), encoder, name="encoder.final")
    decoder = lstm(target_in, target_vocab, last, "decoder")
    keys = g.add(Transpose((0, 2, 1)), encoder, name="attention.keys")
    scores = g.add(MatMul(), decoder, keys, name="attention.scores")
    weights = g.add(Softmax(axis=-1), scores, name="attention.weights")
    context = g.add(MatMul(), weights, encoder, name="attention.context")
    both = g.add(Concat(axis=-1), context, decoder, name="attention.concat")
    W = g.param("W_out", lecun((2 * hidden, target_vocab), seed=rng, dtype=dtype))
    g.add(Linear(), both, W, g.param("b_out", np.zeros(target_vocab, dtype)), name="scores")
    g.add(SoftmaxWithLoss(ignore_index=PAD), "scores", y, name="loss")
    return g


def skip_gram(vocab_size, dim=32, seed=0, dtype=np.float64):
    """Skip-gram with negative sampling from Embedding, Multiply, Sum and SigmoidWithLoss.

    Inputs ``center`` (N,) word ids, ``context`` (N, 1 + K) ids (the true context word, then K
    sampled ones) and ``labels`` (N, 1 + K) (1, then K zeros). ``score`` = W_in[center] . W_out[context];
    the loss pushes true pairs' scores up and sampled pairs' down. ``W_in`` rows are the word vectors.
    """
    rng = np.random.default_rng(seed)
    g = ComputationalGraph()
    center, context, labels = g.input("center"), g.input("context"), g.input("labels")
    W_in = g.param("W_in", gaussian((vocab_size, dim), 0.1, seed=rng, dtype=dtype))
    W_out = g.param("W_out", np.zeros((vocab_size, dim), dtype))
    h = g.add(Reshape((0, 1, dim)), g.add(Embedding(), center, W_in, name="center_vector"), name="center_row")
    u = g.add(Embedding(), context, W_out, name="context_vectors")
    score = g.add(Sum(axis=-1), g.add(Multiply(), h, u, name="products"), name="score")
    g.add(SigmoidWithLoss(), score, labels, name="loss")
    return g


def translate(graph, source, start, steps):
    """Greedy decoding with a `seq2seq` graph: ids (N, steps) for ``source`` (N, Ts).

    Each step runs ``scores`` on the answer so far (beginning with ``start``) and appends
    each row's most likely next id.
    """
    answer = np.full((len(source), 1), start, dtype=np.int64)
    for _ in range(steps):
        scores = graph.forward(output="scores", source=source, target_in=answer)
        answer = np.concatenate([answer, scores[:, -1].argmax(axis=-1)[:, None]], axis=1)
    return answer[:, 1:]
