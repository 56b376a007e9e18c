"""One set of rules for every gate: hyperparameters checked when made, one dtype rule wherever data
enters, numbers that stay weak beside arrays, node methods, and the kinks of the peers' gates."""
import io

import numpy as np
import pytest

import gates as G
import losses as L
from gates.check import check_gate, check_graph
from graph import SGD, Adam, ComputationalGraph
from graph.training import data, networks
from graph.training.trainer import accuracy, predict

# --- hyperparameters: refused in __init__, naming the owner, the name and the value ---------------

REFUSED = [
    ("Concat", "axis", 1.5, lambda: G.Concat(axis=1.5)),
    ("Softmax", "axis", 0.5, lambda: G.Softmax(axis=0.5)),
    ("LogSoftmax", "axis", "x", lambda: G.LogSoftmax(axis="x")),
    ("Transpose", "axes", (2, 1, 0.7), lambda: G.Transpose((2, 1, 0.7))),
    ("Transpose", "axes", (0, 0), lambda: G.Transpose((0, 0))),
    ("Sum", "axis", "x", lambda: G.Sum(axis="x")),
    ("Mean", "axis", (0, 0), lambda: G.Mean(axis=(0, 0))),
    ("Amax", "keepdims", "yes", lambda: G.Amax(keepdims="yes")),
    ("Dropout", "p (the probability of dropping)", "a", lambda: G.Dropout("a")),
    ("Dropout", "p (the probability of dropping)", 1.5, lambda: G.Dropout(1.5)),
    ("Power", "p", np.nan, lambda: G.Power(np.nan)),
    ("Repeat", "n", 2.0, lambda: G.Repeat(2.0)),
    ("Conv2D", "stride", (3,), lambda: G.Conv2D(stride=(3,))),
    ("Conv2D", "stride", (0, 1), lambda: G.Conv2D(stride=(0, 1))),
    ("Conv2D", "pad", (1, -1), lambda: G.Conv2D(pad=(1, -1))),
    ("ConvTranspose2D", "stride", 1.5, lambda: G.ConvTranspose2D(stride=1.5)),
    ("MaxPool2D", "size", (2, 0), lambda: G.MaxPool2D(size=(2, 0))),
    ("AvgPool2D", "stride", True, lambda: G.AvgPool2D(stride=True)),
    ("LeakyReLU", "negative_slope", "a", lambda: G.LeakyReLU("a")),
    ("ELU", "alpha", np.inf, lambda: G.ELU(np.inf)),
    ("GELU", "approximate", "exact", lambda: G.GELU(approximate="exact")),
    ("Clip", "min", "0", lambda: G.Clip(min="0")),
    ("LayerNorm", "eps", 0, lambda: G.LayerNorm(eps=0)),
    ("BatchNorm", "momentum", 2, lambda: G.BatchNorm(momentum=2)),
    ("Hinge", "margin", None, lambda: L.Hinge(margin=None)),
    ("L2Penalty", "strength", -1, lambda: L.L2Penalty(-1)),
    ("SoftmaxWithLoss", "ignore_index", 0.5, lambda: L.SoftmaxWithLoss(ignore_index=0.5)),
    ("SGD", "lr", "0.1", lambda: SGD("0.1")),
    ("Adam", "beta2", 1.0, lambda: Adam(0.1, beta2=1.0)),
    ("attention", "heads", 0, lambda: networks.attention(ComputationalGraph(), None, None, None, 8, 0)),
    ("addition", "digits", 4, lambda: data.addition(digits=4)),
    ("digit_strings", "task", "shuffle", lambda: data.digit_strings(task="shuffle")),
    ("dates", "n", 0, lambda: data.dates(n=0)),
]


@pytest.mark.parametrize("owner, name, value, make", REFUSED, ids=[f"{o}-{n}-{v!r}" for o, n, v, _ in REFUSED])
def test_hyperparameters_are_refused_when_made_naming_owner_name_and_value(owner, name, value, make):
    with pytest.raises(G.HyperparameterError) as raised:
        make()
    message = str(raised.value)
    assert message.startswith(f"{owner}: {name} must be ") and message.endswith(f"got {value!r}")
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, TypeError)


def test_hyperparameters_are_kept_as_plain_python_values():
    assert G.Conv2D(stride=2, pad=(1, 0)).stride == (2, 2) and G.Conv2D(pad=(1, 0)).pad == (1, 0)
    assert G.MaxPool2D(np.int64(3), 1, 1).size == (3, 3)
    assert type(G.Power(np.float64(2)).p) is float and type(G.Concat(np.int32(1)).axis) is int
    assert G.Sum(axis=[0, 1] if False else (0, 1)).axis == (0, 1)


@pytest.mark.parametrize("make, match", [
    (lambda: G.Clip(1.0, 0.0), r"Clip: min must not exceed max"),
    (lambda: G.MaxPool2D(size=2, pad=2), r"MaxPool2D: pad must be at most half the window size"),
    (lambda: G.AvgPool2D(size=(3, 2), pad=(1, 2)), r"AvgPool2D: pad must be at most half"),
    (lambda: G.Reshape((2, -1, -1)), r"Reshape: shape must be integers"),
    (lambda: data.addition(fractions=(0.5, 0.5)), r"addition: fractions must be three numbers"),
    (lambda: data.stratified_split(np.zeros(10), fractions=(0.0, 0.5, 0.5)), r"with a training part > 0"),
])
def test_hyperparameters_that_do_not_fit_each_other_are_refused_when_made(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_an_axis_is_checked_against_the_input_naming_the_gate():
    for gate in (G.Mean(axis=2), G.Amax(axis=-3), G.LogSoftmax(axis=2), G.Sum(axis=(0, 5))):
        with pytest.raises(G.GateError, match=rf"^{type(gate).__name__}: x has shape \(3, 4\).*out of its range"):
            gate.forward(np.ones((3, 4)))
    with pytest.raises(G.GateError, match=r"^Transpose: x has shape \(2, 3, 4\); axes \(0, 1, 5\) are not a perm"):
        G.Transpose((0, 1, 5)).forward(np.ones((2, 3, 4)))


# --- the one dtype rule ----------------------------------------------------------------------------

def _npz(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize("dtype", [">f8", ">f4", "<f8", "<f4"])
def test_both_byte_orders_are_accepted_wherever_data_enters(tmp_path, dtype):
    native = np.dtype(dtype).newbyteorder("=")
    x = np.arange(6, dtype=dtype).reshape(2, 3) / 7
    out = G.Tanh().forward(x)
    assert out.dtype == native and out.dtype.isnative
    g = ComputationalGraph()
    W = g.param("W", np.ones((3, 2), dtype))
    g.add(G.MatMul(), g.input("x"), W).sum()
    assert g.params["W"].dtype == native
    assert g.forward(x=x) == pytest.approx(float(np.sum(x @ np.ones((3, 2)))))
    grads = g.backward()
    SGD(0.1).step(g.params, {"W": grads["W"].astype(dtype)})
    path = tmp_path / "params.npz"
    path.write_bytes(_npz({"W": np.full((3, 2), 0.5, dtype)}))
    g.load(path)
    np.testing.assert_array_equal(g.params["W"], np.full((3, 2), 0.5))


@pytest.mark.parametrize("value", [np.ones(2, complex), np.ones(2, np.float16), np.array(["a", "b"])])
def test_one_refusal_wherever_data_enters(tmp_path, value):
    g = ComputationalGraph()
    g.add(G.Exp(), g.input("x"))
    W = np.ones(2)
    entries = {"gate": lambda: G.Exp().forward(value), "feed": lambda: g.forward(x=value),
               "param": lambda: g.param("W", value), "constant": lambda: g.const(value),
               "optimizer": lambda: SGD(0.1).step({"W": W}, {"W": value}),
               "check": lambda: check_gate(G.Exp(), value)}
    for enter in entries.values():
        with pytest.raises(G.DtypeError, match=rf"has dtype {value.dtype} \(shape \(2,\)\); expected float32 or "
                                               "float64 numbers"):
            enter()
    np.testing.assert_array_equal(W, np.ones(2))
    g2 = ComputationalGraph()
    g2.param("W", np.ones(2))
    path = tmp_path / "params.npz"
    path.write_bytes(_npz({"W": value}))
    with pytest.raises(ValueError, match=rf"has dtype {value.dtype} \(shape \(2,\)\); expected float32"):
        g2.load(path)


NUMBERS = [
    ("x * np.float64(2)", lambda x: x * np.float64(2), lambda v: v * 2),
    ("x * np.array(2.)", lambda x: x * np.array(2.0), lambda v: v * 2),
    ("x + np.int64(2)", lambda x: x + np.int64(2), lambda v: v + 2),
    ("x / np.sqrt(4.)", lambda x: x / np.sqrt(4.0), lambda v: v / 2),
    ("x ** np.float64(2)", lambda x: x ** np.float64(2), lambda v: v ** 2),
    ("np.float64(3) - x", lambda x: np.float64(3) - x, lambda v: 3 - v),
    ("max(x, np.float64(0.5))", lambda x: x.graph.add(G.Max(), x, x.graph.const(np.float64(0.5))),
     lambda v: np.maximum(v, 0.5)),
]


@pytest.mark.parametrize("label, build, reference", NUMBERS, ids=[n[0] for n in NUMBERS])
def test_numbers_of_any_kind_beside_a_float32_node_stay_float32(label, build, reference):
    g = ComputationalGraph()
    x = g.input("x")
    build(x).sum()
    value = np.array([0.25, 1.5, 3.0], np.float32)
    out = g.forward(x=value)
    assert out.dtype == np.float32
    assert out == pytest.approx(float(np.sum(reference(value.astype(np.float64)))), rel=1e-6)
    dx = g.backward()["x"]
    assert dx.dtype == np.float32 and dx.shape == (3,)


def test_a_fed_float64_number_gets_its_gradient_in_float64():
    g = ComputationalGraph()
    (g.input("x") * g.input("s")).sum()
    assert g.forward(x=np.ones(3, np.float32), s=np.float64(2.0)).dtype == np.float32
    grads = g.backward()
    assert grads["x"].dtype == np.float32 and np.result_type(grads["s"]) == np.float64 and grads["s"] == 3.0


def test_between_numbers_alone_numpy_promotion_holds():
    assert np.result_type(G.Multiply().forward(np.float32(2), np.float64(3))) == np.float64
    assert np.result_type(G.Multiply().forward(np.float32(2), 3.0)) == np.float32


def test_x_to_the_zero_has_gradient_zero_at_zero_as_torch(torch):
    gate = G.Power(0)
    x = np.array([0.0, 0.0, 2.0])
    np.testing.assert_array_equal(gate.forward(x), [1.0, 1.0, 1.0])
    t = torch.tensor(x, requires_grad=True)
    (t ** 0).sum().backward()
    np.testing.assert_array_equal(gate.backward(np.ones(3)), t.grad.numpy())


# --- kinks and ties, against PyTorch in float64 and float32 ----------------------------------------

KINKS = [
    ("Amax ties", lambda: G.Amax(), lambda t, x: t.amax(x), [[1.0, 3.0, 3.0], [3.0, 0.0, 3.0]]),
    ("Amax(axis=1) ties", lambda: G.Amax(axis=1), lambda t, x: t.amax(x, 1), [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]),
    ("Amax(axis=0, keepdims) ties", lambda: G.Amax(axis=0, keepdims=True), lambda t, x: t.amax(x, 0, keepdim=True),
     [[1.0, 3.0, 3.0], [1.0, 0.0, 3.0]]),
    ("Clip at its bounds", lambda: G.Clip(-1.0, 2.0), lambda t, x: x.clamp(-1.0, 2.0),
     [[-1.0, 2.0, 0.5], [-3.0, 5.0, 2.0]]),
    ("Clip(max) at its bound", lambda: G.Clip(max=0.0), lambda t, x: x.clamp(max=0.0), [[0.0, 1.0, -1.0]]),
    ("Abs at 0", lambda: G.Abs(), lambda t, x: x.abs(), [[0.0, -2.0, 3.0], [0.0, 0.0, -0.5]]),
    ("LeakyReLU at 0", lambda: G.LeakyReLU(0.1), lambda t, x: t.nn.functional.leaky_relu(x, 0.1), [[0.0, -2.0, 3.0]]),
    ("ELU at 0", lambda: G.ELU(0.5), lambda t, x: t.nn.functional.elu(x, 0.5), [[0.0, -2.0, 3.0]]),
    ("ReLU at 0", lambda: G.ReLU(), lambda t, x: x.relu(), [[0.0, -2.0, 3.0]]),
    ("MaxPool2D ties", lambda: G.MaxPool2D(2, 2), lambda t, x: t.nn.functional.max_pool2d(x, 2, 2),
     np.ones((1, 1, 4, 4))),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("label, make, reference, x", KINKS, ids=[k[0] for k in KINKS])
def test_kinks_and_ties_follow_torch(torch, label, make, reference, x, dtype):
    x = np.asarray(x, dtype)
    gate = make()
    out = gate.forward(x)
    dout = np.random.default_rng(0).standard_normal(np.shape(out)).astype(dtype)
    t = torch.tensor(x, requires_grad=True)
    t_out = reference(torch, t)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-6)
    grad = gate.backward(dout)
    assert grad.dtype == dtype
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-6, atol=1e-7)


CONVS = [(kind, size, stride, pad, hw) for kind in ("max", "avg", "transposed", "conv")
         for size, stride, pad in [((3, 2), (2, 1), (1, 0)), (3, (1, 2), (1, 1)), ((2, 3), 3, (0, 1)), (2, 2, 0)]
         for hw in [(7, 6), (5, 8)]]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind, size, stride, pad, hw", CONVS)
def test_pair_valued_pooling_and_convolutions_that_do_not_tile_follow_torch(torch, rng, kind, size, stride, pad,
                                                                          hw, dtype):
    F = torch.nn.functional
    kernel = (size, size) if np.ndim(size) == 0 else size
    x = rng.permutation(2 * 3 * hw[0] * hw[1]).reshape(2, 3, *hw).astype(dtype) * 0.01   # no ties
    inputs = [x]
    if kind == "max":
        gate, reference = G.MaxPool2D(size, stride, pad), lambda x: F.max_pool2d(x, size, stride, pad)
    elif kind == "avg":
        gate, reference = G.AvgPool2D(size, stride, pad), lambda x: F.avg_pool2d(x, size, stride, pad)
    elif kind == "conv":
        inputs += [rng.standard_normal((4, 3, *kernel)).astype(dtype), rng.standard_normal(4).astype(dtype)]
        gate, reference = G.Conv2D(stride, pad), lambda x, W, b: F.conv2d(x, W, b, stride, pad)
    else:
        inputs += [rng.standard_normal((3, 4, *kernel)).astype(dtype), rng.standard_normal(4).astype(dtype)]
        gate, reference = G.ConvTranspose2D(stride, pad), lambda x, W, b: F.conv_transpose2d(x, W, b, stride, pad)
    out = gate.forward(*inputs)
    tensors = [torch.tensor(v, requires_grad=True) for v in inputs]
    t_out = reference(*tensors)
    assert out.shape == tuple(t_out.shape) and out.dtype == dtype
    tolerance = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **tolerance)
    dout = rng.standard_normal(out.shape).astype(dtype)
    t_out.backward(torch.tensor(dout))
    grads = gate.backward(dout)
    for grad, tensor in zip(grads if len(inputs) > 1 else (grads,), tensors):
        assert grad.dtype == dtype
        np.testing.assert_allclose(grad, tensor.grad.numpy(), **tolerance)
    if dtype == np.float64:
        check_gate(gate, *inputs)


# --- node methods ----------------------------------------------------------------------------------

METHODS = [
    ("x[1:, 0]", lambda x: x[1:, 0], lambda v: v[1:, 0], "Slice"),
    ("x.T", lambda x: x.T, lambda v: v.T, "Transpose"),
    ("x.sum(axis=0)", lambda x: x.sum(axis=0), lambda v: v.sum(axis=0), "Sum"),
    ("x.mean()", lambda x: x.mean(), lambda v: v.mean(), "Mean"),
    ("x.mean(1, keepdims=True)", lambda x: x.mean(1, keepdims=True), lambda v: v.mean(1, keepdims=True), "Mean"),
    ("x.reshape(4, 3)", lambda x: x.reshape(4, 3), lambda v: v.reshape(4, 3), "Reshape"),
    ("x.reshape((-1,))", lambda x: x.reshape((-1,)), lambda v: v.reshape(-1), "Reshape"),
    ("x.relu()", lambda x: x.relu(), lambda v: np.maximum(v, 0), "ReLU"),
    ("x.sigmoid()", lambda x: x.sigmoid(), lambda v: 1 / (1 + np.exp(-v)), "Sigmoid"),
    ("x.tanh()", lambda x: x.tanh(), np.tanh, "Tanh"),
    ("x.exp()", lambda x: x.exp(), np.exp, "Exp"),
    ("x.log()", lambda x: x.log(), np.log, "Log"),
]


@pytest.mark.parametrize("label, method, reference, gate", METHODS, ids=[m[0] for m in METHODS])
def test_node_methods_add_the_matching_gate(label, method, reference, gate):
    g = ComputationalGraph()
    x = g.input("x")
    node = method(x)
    assert type(node.gate).__name__ == gate and node.input_names == ("x",)
    value = np.random.default_rng(0).uniform(0.5, 2.0, (3, 4))
    np.testing.assert_allclose(g.forward(x=value), reference(value))
    node.sum()
    check_graph(g, x=value)


def test_a_node_is_not_iterable():
    x = ComputationalGraph().input("x")
    with pytest.raises(TypeError, match=r"x \(input\) is a node, not a sequence"):
        list(x)


def test_log_softmax_written_as_nodes_equals_the_gate(rng):
    g = ComputationalGraph()
    x = g.input("x")
    (x - (x - x.graph.add(G.Amax(axis=-1, keepdims=True), x)).exp().sum(axis=-1, keepdims=True).log()
     - g.add(G.Amax(axis=-1, keepdims=True), x)).named("composed")
    g.add(G.LogSoftmax(), x, name="gate")
    value = rng.standard_normal((3, 5)) * 10
    np.testing.assert_allclose(g.forward(output="composed", x=value), g.forward(output="gate", x=value), atol=1e-12)


# --- builders and the trainer find what they need in the graph ---------------------------------------

def test_generate_reads_the_state_size_off_the_recurrent_gate_whatever_the_param_is_called():
    g = networks.language_model(6, embed=3, hidden=5, stateful=True, seed=1)
    g.node("Wh").named("recurrent_weights")
    out = networks.generate(g, [1, 2], 3)
    assert out.shape == (3,) and out.dtype.kind == "i"


def test_accuracy_leaves_out_the_label_the_loss_ignores():
    g = networks.language_model(5, embed=3, hidden=4, seed=0)
    g.node("loss").gate.ignore_index = 4
    x = np.array([[0, 1, 2], [3, 2, 1]])
    y = predict(g, {"x": x})
    y[:, 1:] = 4                                 # only position 0 labelled; the rest ignored
    assert accuracy(g, {"x": x}, y) == 1.0
    assert accuracy(g, {"x": x}, y, ignore=-1) < 1.0 or (predict(g, {"x": x}) == 4).all()
