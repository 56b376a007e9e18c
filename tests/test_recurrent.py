"""Recurrent networks: the gates against torch.nn modules, backpropagation through time, the
sequence data, the language model, generation, clipping and the addition task."""
import numpy as np
import pytest

import gates as G
from gates.check import check_graph
from graph import ComputationalGraph
from graph.cli import main
from graph.training import clip_grads
from graph.training.data import PAD, Vocabulary, addition, as_language_model, text_batches, tiny_corpus
from graph.training.networks import generate, language_model
from graph.training.trainer import accuracy

N, T, D, H = 3, 5, 4, 6


def _weights(rng, blocks, biases=1):
    return (0.5 * rng.standard_normal((D, blocks * H)), 0.5 * rng.standard_normal((H, blocks * H)),
            *[0.5 * rng.standard_normal(blocks * H) for _ in range(biases)])


# --- against torch.nn.RNN / LSTM / GRU with copied weights ---------------------------------

@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recurrent_layers_equal_torch_modules_with_copied_weights(torch, rng, kind):
    blocks, biases = {"RNN": (1, 1), "LSTM": (4, 1), "GRU": (3, 2)}[kind]
    x, h0, c0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    Wx, Wh, *bs = _weights(rng, blocks, biases)
    module = getattr(torch.nn, kind)(D, H, batch_first=True)
    with torch.no_grad():    # DESIGN.md's recipe, read backwards: weight_ih = Wx.T, weight_hh = Wh.T
        module.weight_ih_l0.copy_(torch.tensor(Wx.T))
        module.weight_hh_l0.copy_(torch.tensor(Wh.T))
        if kind == "GRU":
            module.bias_ih_l0.copy_(torch.tensor(bs[0]))
            module.bias_hh_l0.copy_(torch.tensor(bs[1]))
        else:   # one b = bias_ih + bias_hh: split it any way
            module.bias_ih_l0.copy_(torch.tensor(0.25 * bs[0]))
            module.bias_hh_l0.copy_(torch.tensor(0.75 * bs[0]))
    gate = getattr(G, kind)()
    inputs = (x, h0, c0, Wx, Wh, *bs) if kind == "LSTM" else (x, h0, Wx, Wh, *bs)
    out = gate.forward(*inputs)
    dout = rng.standard_normal(out.shape)
    grads = gate.backward(dout)

    tx, th0, tc0 = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    t_out, t_state = module(tx, (th0[None], tc0[None]) if kind == "LSTM" else th0[None])
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-9, atol=1e-12)
    t_h = t_state[0] if kind == "LSTM" else t_state
    np.testing.assert_allclose(gate.final_h, t_h[0].detach().numpy(), rtol=1e-9, atol=1e-12)
    if kind == "LSTM":
        np.testing.assert_allclose(gate.final_c, t_state[1][0].detach().numpy(), rtol=1e-9, atol=1e-12)
    torch_grads = [tx.grad, th0.grad] + ([tc0.grad] if kind == "LSTM" else []) + [
        module.weight_ih_l0.grad.T, module.weight_hh_l0.grad.T]
    torch_grads += [module.bias_ih_l0.grad, module.bias_hh_l0.grad] if kind == "GRU" else [module.bias_ih_l0.grad]
    assert len(grads) == len(torch_grads) == len(inputs)
    for ours, theirs in zip(grads, torch_grads):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-9, atol=1e-12)


# --- backpropagation through time -------------------------------------------------------------

def test_an_rnn_unrolled_from_rnnstep_gates_sharing_params_equals_the_rnn_gate(rng):
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, b = _weights(rng, 1)
    g = ComputationalGraph()
    xs, h = g.input("x"), g.input("h0")
    params = [g.param("Wx", Wx), g.param("Wh", Wh), g.param("b", b)]
    for t in range(T):
        x_t = g.add(G.Slice((slice(None), t)), xs, name=f"x{t}")
        h = g.add(G.RNNStep(), x_t, h, *params, name=f"h{t + 1}")
    g.add(G.Sum(), h, name="loss")
    g.forward(x=x, h0=h0)
    unrolled = g.backward()

    rnn = G.RNN()
    hs = rnn.forward(x, h0, Wx, Wh, b)
    dout = np.zeros_like(hs)
    dout[:, -1] = 1      # the loss sums the last state only
    dx, dh0, dWx, dWh, db = rnn.backward(dout)
    np.testing.assert_allclose(g.value(f"h{T}"), rnn.final_h, rtol=1e-12)
    for name, want in {"x": dx, "h0": dh0, "Wx": dWx, "Wh": dWh, "b": db}.items():
        np.testing.assert_allclose(unrolled[name], want, rtol=1e-10, atol=1e-12)
    check_graph(g, x=x, h0=h0)    # and the unrolled graph against centred differences


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_truncated_bptt_carries_final_states_between_batches(rng, kind):
    blocks, biases = {"RNN": (1, 1), "LSTM": (4, 1), "GRU": (3, 2)}[kind]
    x, h0 = rng.standard_normal((N, 2 * T, D)), np.zeros((N, H))
    weights = _weights(rng, blocks, biases)
    states = (h0, h0) if kind == "LSTM" else (h0,)
    whole = getattr(G, kind)().forward(x, *states, *weights)
    first, second = getattr(G, kind)(), getattr(G, kind)()
    a = first.forward(x[:, :T], *states, *weights)
    carried = (first.final_h, first.final_c) if kind == "LSTM" else (first.final_h,)
    b = second.forward(x[:, T:], *carried, *weights)
    np.testing.assert_allclose(np.concatenate([a, b], axis=1), whole, rtol=1e-12)


def test_final_states_are_copies_the_next_forward_does_not_change(rng):
    lstm = G.LSTM()
    Wx, Wh, b = _weights(rng, 4)
    lstm.forward(rng.standard_normal((N, T, D)), np.zeros((N, H)), np.zeros((N, H)), Wx, Wh, b)
    kept = lstm.final_h
    before = kept.copy()
    lstm.forward(rng.standard_normal((N, T, D)), kept, lstm.final_c, Wx, Wh, b)
    np.testing.assert_array_equal(kept, before)


def test_bad_recurrent_input_names_the_node_and_the_shapes(rng):
    g = language_model(vocab_size=5, embed=3, hidden=4)
    with pytest.raises(ValueError, match=r"^embed \(Embedding\): ids of shape \(1, 3\) range over \[0, 7\]"):
        g.forward(x=np.array([[0, 7, 1]]), y=np.array([[0, 1, 1]]))
    with pytest.raises(ValueError, match=r"^rnn \(LSTM\): x has shape \(1, 0, 3\).*length 0"):
        g.forward(x=np.zeros((1, 0), np.int64), y=np.zeros((1, 0), np.int64))
    stateful = language_model(vocab_size=5, embed=3, hidden=4, stateful=True)
    with pytest.raises(ValueError, match=r"^rnn \(LSTM\): .*h0 \(2, 3\)"):
        stateful.forward(x=np.zeros((2, 3), np.int64), y=np.zeros((2, 3), np.int64),
                         h0=np.zeros((2, 3)), c0=np.zeros((2, 3)))


# --- clipping -----------------------------------------------------------------------------

@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grads_equals_torch_clip_grad_norm(torch, rng, max_norm):
    grads = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    tensors = [torch.tensor(g.copy(), requires_grad=True) for g in grads.values()]
    for t, g in zip(tensors, grads.values()):
        t.grad = torch.tensor(g.copy())
    theirs = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    ours = clip_grads(grads, max_norm)
    assert ours == pytest.approx(theirs.item(), rel=1e-12)
    for t, g in zip(tensors, grads.values()):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12)


def test_clip_grads_refuses_a_nan_norm_and_changes_nothing():
    grads = [np.array([1.0, np.nan]), np.array([100.0])]
    with pytest.raises(FloatingPointError, match="NaN or inf"):
        clip_grads(grads, 1.0)
    assert grads[1][0] == 100.0
    with pytest.raises(ValueError, match="max_norm"):
        clip_grads(grads, -1)


def test_clip_grads_keeps_float32(rng):
    g = rng.standard_normal(10).astype(np.float32) * 100
    clip_grads([g], 1.0)
    assert g.dtype == np.float32 and np.linalg.norm(g) == pytest.approx(1.0, rel=1e-5)


# --- data -------------------------------------------------------------------------------

def test_addition_problems_are_right_split_without_overlap_and_padded_in_the_question():
    data = addition(digits=2, seed=3)
    parts = [set(data[p]) for p in ("train", "val", "test")]
    assert sum(map(len, parts)) == 10_000 and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    for text in data["test"][:50]:
        a, rest = text.split("+")
        b, answer = rest.split("=")
        assert int(answer[::-1]) == int(a) + int(b) and len(answer) == 3
    y = data["y_test"]
    assert (y[:, :data["question_length"] - 1] == PAD).all() and (y[:, data["question_length"] - 1:] >= 0).all()


def test_vocabulary_round_trips_and_names_unknown_characters():
    vocab = Vocabulary("abc ")
    assert vocab.decode(vocab.encode("cab a")) == "cab a"
    with pytest.raises(ValueError, match=r"\['z'\]"):
        vocab.encode("abz")


def test_tiny_corpus_is_fixed_sized_and_text_batches_continue_each_other():
    text = tiny_corpus()
    assert text == tiny_corpus() and 50_000 < len(text) < 200_000
    vocab = Vocabulary(text)
    x, y = text_batches(vocab.encode(text[:1000]), 20)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    np.testing.assert_array_equal(x[1:, 0], y[:-1, -1])


# --- the language model, generation, training ----------------------------------------------

@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_language_models_pass_check_graph(rng, cell):
    g = language_model(vocab_size=6, embed=3, hidden=4, cell=cell, seed=1)
    x, y = as_language_model(["abcab", "bcaab"], Vocabulary("abc"), answer_from=2)
    errors = check_graph(g, x=x, y=y)     # raises unless every param's gradient is allclose
    assert errors["x"] is None and errors["y"] is None and set(g.params) <= set(errors)


def test_a_stateful_model_fed_zero_states_equals_the_stateless_one(rng):
    x, y = rng.integers(0, 5, (2, 4)), rng.integers(0, 5, (2, 4))
    plain, stateful = language_model(5, 3, 4, seed=2), language_model(5, 3, 4, stateful=True, seed=2)
    zeros = np.zeros((2, 4))
    assert plain.forward(x=x, y=y) == stateful.forward(x=x, y=y, h0=zeros, c0=zeros)


def test_generate_is_greedy_or_seeded_and_batched(rng):
    g = language_model(vocab_size=7, embed=4, hidden=8, seed=0)
    prompt = np.array([1, 2, 3])
    greedy = generate(g, prompt, 5)
    assert greedy.shape == (5,) and np.array_equal(greedy, generate(g, prompt, 5))
    np.testing.assert_array_equal(generate(g, np.stack([prompt, prompt]), 5), [greedy, greedy])
    sampled = generate(g, prompt, 30, greedy=False, seed=4)
    np.testing.assert_array_equal(sampled, generate(g, prompt, 30, greedy=False, seed=4))
    assert not np.array_equal(sampled, generate(g, prompt, 30, greedy=False, seed=5))


def test_accuracy_on_sequences_skips_padding_and_refuses_mismatched_shapes():
    g = language_model(vocab_size=4, embed=2, hidden=3, seed=0)
    x = np.array([[0, 1, 2], [2, 1, 0]])
    predicted = g.forward(output="scores", x=x).argmax(-1)
    y = predicted.copy()
    y[0, 0] = PAD
    y[1, 2] = (y[1, 2] + 1) % 4       # one wrong of the five counted
    assert accuracy(g, x, y) == pytest.approx(0.8)
    with pytest.raises(ValueError, match=r"y has shape \(2, 1\) but the predictions .* have shape \(2, 3\)"):
        accuracy(g, x, y[:, :1])


@pytest.mark.slow
def test_gategraph_train_addition_reaches_95_percent(tmp_path, capsys):
    out = tmp_path / "addition.npz"
    assert main(["train", "--task", "addition", "--out", str(out), "--quiet", "--dtype", "float32"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("test accuracy: ") and float(last.split(": ")[1]) >= 0.95
    assert out.exists()


def test_the_recurrent_loops_sigmoid_is_stable_and_matches_expit():
    from scipy.special import expit

    from gates.recurrent import sigmoid_
    x = np.array([-1e4, -100.0, -20.0, -1.0, 0.0, 1e-3, 3.0, 100.0, 1e4])
    for dtype in (np.float32, np.float64):
        with np.errstate(all="raise"):              # no overflow, no invalid value anywhere
            y = sigmoid_(x.astype(dtype))
        assert y.dtype == dtype and np.all((y >= 0) & (y <= 1))
        np.testing.assert_allclose(y, expit(x), atol=2e-7 if dtype == np.float32 else 1e-15)
    g = G.LSTM()
    with np.errstate(all="raise"):
        h = g.forward(np.full((2, 3, 4), 1e4), np.zeros(5), np.zeros(5), np.ones((4, 20)), np.ones((5, 20)),
                      np.zeros(20))
    assert np.all(np.isfinite(h))
