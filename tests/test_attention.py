"""Attention and transformers built from gates: against PyTorch, numerically, and their errors."""
import numpy as np
import pytest

import gates as G
from gates.check import check_graph
from graph import ComputationalGraph
from graph.training.networks import MASKED, attention, causal_mask, seq2seq, skip_gram, transformer, transformer_block

N, T, WIDTH, HEADS, HIDDEN = 2, 5, 8, 2, 16


def _block_graph(mask=None, block=True, dtype=np.float64):
    g = ComputationalGraph()
    x = g.input("x")
    if block:
        transformer_block(g, x, WIDTH, HEADS, HIDDEN, name="block", mask=mask, seed=3, dtype=dtype)
    else:
        attention(g, x, x, x, WIDTH, HEADS, name="attention", mask=mask, seed=3, dtype=dtype)
    return g


def _torch_attention(torch, p, x, name, causal):
    """The same attention in torch, with scaled_dot_product_attention at its core."""
    def heads(which):
        h = x @ p[f"{name}.{which}.W"] + p[f"{name}.{which}.b"]
        return h.reshape(N, T, HEADS, WIDTH // HEADS).transpose(1, 2)
    context = torch.nn.functional.scaled_dot_product_attention(heads("q"), heads("k"), heads("v"), is_causal=causal)
    merged = context.transpose(1, 2).reshape(N, T, WIDTH)
    return merged @ p[f"{name}.out.W"] + p[f"{name}.out.b"]


def _torch_block(torch, p, x, causal):
    F = torch.nn.functional
    ln1 = F.layer_norm(x, (WIDTH,), p["block.ln1.gamma"], p["block.ln1.beta"], eps=1e-5)
    h = x + _torch_attention(torch, p, ln1, "block.attention", causal)
    ln2 = F.layer_norm(h, (WIDTH,), p["block.ln2.gamma"], p["block.ln2.beta"], eps=1e-5)
    up = torch.relu(ln2 @ p["block.mlp1.W"] + p["block.mlp1.b"])
    return h + up @ p["block.mlp2.W"] + p["block.mlp2.b"]


@pytest.mark.parametrize("block", [False, True], ids=["attention", "transformer block"])
@pytest.mark.parametrize("causal", [False, True], ids=["no mask", "causal"])
def test_against_torch_with_copied_weights(torch, rng, block, causal):
    g = _block_graph(mask=causal_mask(T) if causal else None, block=block)
    for value in g.params.values():        # LayerNorm's ones and zeros would hide a swapped gamma/beta
        value += 0.1 * rng.standard_normal(value.shape)
    x = rng.standard_normal((N, T, WIDTH))
    out = g.forward(x=x)
    dout = rng.standard_normal(out.shape)
    grads = g.backward(dout)

    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in g.params.items()}
    tx = torch.tensor(x, requires_grad=True)
    t_out = (_torch_block if block else lambda t, p, x, c: _torch_attention(t, p, x, "attention", c))(
        torch, tensors, tx, causal)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grads["x"], tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, tensor in tensors.items():
        np.testing.assert_allclose(grads[name], tensor.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_the_causal_mask_leaves_each_position_blind_to_later_ones(rng):
    g = _block_graph(mask=causal_mask(T), block=False)
    g.forward(x=rng.standard_normal((N, T, WIDTH)))
    weights = g.value("attention.weights")
    assert weights.shape == (N, HEADS, T, T)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0)
    assert np.all(weights[..., np.triu_indices(T, k=1)[0], np.triu_indices(T, k=1)[1]] == 0)


def test_the_block_passes_check_graph_and_keeps_float32(rng):
    g = _block_graph(mask=causal_mask(T))
    g.add(G.Sum(), "block.residual2", name="total")
    check_graph(g, x=rng.standard_normal((N, T, WIDTH)))
    g32 = _block_graph(mask=causal_mask(T), dtype=np.float32)
    out = g32.forward(x=rng.standard_normal((N, T, WIDTH)).astype(np.float32))
    grads = g32.backward(np.ones_like(out))
    assert out.dtype == np.float32 and all(v.dtype == np.float32 for v in grads.values())


def test_softmax_backward_read_off_the_graph_is_y_times_dout_minus_its_weighted_mean(rng):
    g = _block_graph(block=False)
    g.forward(x=rng.standard_normal((N, T, WIDTH)))
    g.backward(rng.standard_normal((N, T, WIDTH)))
    y, upstream = g.value("attention.weights"), g.grad("attention.weights")
    (downstream,) = g.node("attention.weights").downstream
    np.testing.assert_allclose(downstream, y * (upstream - np.sum(upstream * y, axis=-1, keepdims=True)))


def test_heads_that_do_not_divide_the_width_are_refused():
    with pytest.raises(ValueError, match="3 heads do not divide the width 8"):
        attention(ComputationalGraph(), "x", "x", "x", 8, 3)


def test_a_mask_of_the_wrong_shape_names_the_node(rng):
    g = _block_graph(mask=causal_mask(3), block=False)
    with pytest.raises(ValueError, match=r"^attention.masked \(Add\): a has shape \(2, 2, 5, 5\) but b has shape "
                                         r"\(3, 3\); they do not broadcast"):
        g.forward(x=rng.standard_normal((N, T, WIDTH)))


def test_a_fully_masked_row_is_an_error_not_nan(rng):
    g = ComputationalGraph()
    x, mask = g.input("x"), g.input("mask")
    attention(g, x, x, x, WIDTH, HEADS, mask=mask)
    everything = np.full((T, T), -np.inf)
    with pytest.raises(ValueError, match=r"^attention.weights \(Softmax\): .*all -inf \(fully masked\)"):
        g.forward(x=rng.standard_normal((N, T, WIDTH)), mask=everything)
    x = rng.standard_normal((N, T, WIDTH))
    g.forward(x=x, mask=np.zeros((T, T)))
    unmasked = g.value("attention.weights")
    g.forward(x=x, mask=np.full((T, T), MASKED))   # a constant on a whole row leaves its softmax as it was
    np.testing.assert_allclose(g.value("attention.weights"), unmasked, rtol=1e-6)


def test_the_builders_give_finite_losses_and_pass_check_graph(rng):
    lm = transformer(7, 4, width=8, heads=2, hidden=8, blocks=1, seed=0)
    errors = check_graph(lm, x=rng.integers(0, 7, (2, 4)), y=rng.integers(0, 7, (2, 4)))
    assert errors["x"] is None and "block0.attention.Wq" not in errors and "block0.attention.q.W" in errors
    s2s = seq2seq(6, 5, embed=3, hidden=4, seed=0)
    check_graph(s2s, source=rng.integers(0, 6, (2, 4)), target_in=rng.integers(0, 5, (2, 3)),
                y=rng.integers(0, 5, (2, 3)))
    sg = skip_gram(9, dim=3, seed=0)
    sg.params["W_out"][...] = rng.standard_normal((9, 3))
    labels = np.zeros((4, 3), np.int64)
    labels[:, 0] = 1
    check_graph(sg, center=rng.integers(0, 9, 4), context=rng.integers(0, 9, (4, 3)), labels=labels)


def test_the_trainer_feeds_a_dict_of_named_inputs():
    from graph.training import Adam, Trainer
    from graph.training.data import dates
    from graph.training.networks import translate
    data = dates(n=300, seed=1)
    V = len(data["vocab"])
    g = seq2seq(V, V, embed=4, hidden=8, seed=0)
    x = {"source": data["source_train"], "target_in": data["target_in_train"]}
    x_val = {"source": data["source_val"], "target_in": data["target_in_val"]}
    history = Trainer(g, Adam(0.01), batch_size=32, epochs=3, progress="silent").fit(
        x, data["y_train"], x_val, data["y_val"])
    assert history["loss"][-1] < history["loss"][0]
    assert translate(g, data["source_test"][:5], data["start"], 10).shape == (5, 10)
    with pytest.raises(ValueError, match="different numbers of examples"):
        Trainer(g, Adam(0.01), progress="silent").fit({"source": x["source"][:5], "target_in": x["target_in"]},
                                                       data["y_train"], x_val, data["y_val"])
