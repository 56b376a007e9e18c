"""ONNX both ways: gategraph's models served by ONNX Runtime, PyTorch's models imported as gates.

Without onnx / onnxruntime (the onnx extra) these skip with what to install, except in CI (the
``CI`` variable set), where they fail: CI must run them.
"""
import logging
import os
import warnings

import numpy as np
import pytest

import gates as G
from graph import SGD, ComputationalGraph
from graph.cli import main
from graph.training import networks

DESIGN_RTOL = {np.float64: 1e-9, np.float32: 1e-5}


def _need(module):
    try:
        return __import__(module)
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the ONNX tests: {module} is not installed (pip install -e \".[onnx]\")")
        pytest.skip(f"{module} is not installed (pip install -e \".[onnx]\")")


@pytest.fixture(scope="module")
def ort():
    _need("onnx")
    return _need("onnxruntime")


def _serve(ort, model, feeds):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    return session.run(None, {k: (v.astype(np.int64) if v.dtype.kind in "iu" else v)
                              for k, v in feeds.items() if k in names})[0]


def _builders(dtype, rng):
    ids = lambda high, shape: rng.integers(0, high, shape)     # noqa: E731
    return {
        "mlp": (networks.mlp([6, 5, 4], l2=0.01, batchnorm=True, dropout=0.2, dtype=dtype),
                {"x": rng.standard_normal((3, 6)).astype(dtype), "y": np.array([0, 1, 3])}, "scores"),
        "mlp-tanh-hinge": (networks.mlp([6, 5, 4], activation="tanh", loss="hinge", dtype=dtype),
                           {"x": rng.standard_normal((3, 6)).astype(dtype), "y": np.array([0, 1, 3])}, "scores"),
        "convnet": (networks.convnet((1, 6, 6), filters=2, hidden=5, classes=3, dtype=dtype),
                    {"x": rng.standard_normal((2, 36)).astype(dtype), "y": np.array([0, 2])}, "scores"),
        "lstm": (networks.language_model(7, 4, 5, dtype=dtype), {"x": ids(7, (2, 4)), "y": ids(7, (2, 4))}, "scores"),
        "gru": (networks.language_model(7, 4, 5, cell="gru", dtype=dtype), {"x": ids(7, (2, 4)), "y": ids(7, (2, 4))},
                "scores"),
        "rnn-stateful": (networks.language_model(7, 4, 5, cell="rnn", stateful=True, dtype=dtype),
                         {"x": ids(7, (2, 4)), "y": ids(7, (2, 4)), "h0": rng.standard_normal((2, 5)).astype(dtype)},
                         "scores"),
        "transformer": (networks.transformer(7, 5, width=8, heads=2, hidden=12, blocks=1, dtype=dtype),
                        {"x": ids(7, (2, 5)), "y": ids(7, (2, 5))}, "scores"),
        "seq2seq": (networks.seq2seq(7, 6, embed=3, hidden=4, dtype=dtype),
                    {"source": ids(7, (2, 5)), "target_in": ids(6, (2, 3)), "y": ids(6, (2, 3))}, "scores"),
        "skip_gram": (networks.skip_gram(9, 4, dtype=dtype),
                      {"center": ids(9, 3), "context": ids(9, (3, 4)), "labels": np.tile([1, 0, 0, 0], (3, 1))},
                      "score"),
    }


# ONNX Runtime has no float64 kernels for these: DESIGN.md compares them in float32
NO_FLOAT64_KERNEL = {"convnet", "lstm", "gru", "rnn-stateful", "seq2seq"}


# Hinge has no ONNX operator: that builder exports its scores only (the refusal is tested below)
CASES = [(name, with_loss) for name in _builders(np.float64, np.random.default_rng(0)) for with_loss in (False, True)
         if not (with_loss and name == "mlp-tanh-hinge")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, with_loss", CASES, ids=[f"{n}-{'loss' if w else 'scores'}" for n, w in CASES])
def test_every_builder_exports_and_onnx_runtime_gives_its_outputs(ort, name, dtype, with_loss):
    g, feeds, scores = _builders(dtype, np.random.default_rng(1))[name]
    g.forward(**feeds)          # a training pass: BatchNorm gathers running statistics
    g.eval()
    output = None if with_loss else scores
    want = g.forward(output=output, **feeds)
    from graph.onnx import to_onnx
    model = to_onnx(g, output=output)
    assert model.opset_import[0].version == 18
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    params = {i.name for i in model.graph.initializer}
    assert {p for p in g.params if not p.startswith(("gamma", "beta"))} & params      # params keep their names
    if not (dtype == np.float64 and name in NO_FLOAT64_KERNEL):     # those are served in the float32 case
        got = _serve(ort, model, feeds)
        np.testing.assert_allclose(got, want, rtol=DESIGN_RTOL[dtype], atol=DESIGN_RTOL[dtype] * 1e-2)
    from graph.onnx import from_onnx
    back = from_onnx(model)
    inputs = [n.name for n in back.nodes if n.kind == "input"]
    np.testing.assert_allclose(back.forward(**{k: feeds[k] for k in inputs}), want,
                               rtol=DESIGN_RTOL[dtype], atol=DESIGN_RTOL[dtype] * 1e-2)


def test_an_export_follows_the_batch_and_writes_its_file(ort, tmp_path, rng):
    g = networks.mlp([4, 3, 2], seed=0)
    g.forward(x=rng.standard_normal((5, 4)), y=np.zeros(5, np.int64))
    from graph.onnx import to_onnx
    to_onnx(g, tmp_path / "m.onnx", output="scores")
    import onnx
    model = onnx.load(tmp_path / "m.onnx")
    x = rng.standard_normal((9, 4))
    np.testing.assert_allclose(_serve(ort, model, {"x": x}), g.forward(output="scores", x=x), rtol=1e-9)


def test_what_onnx_cannot_express_is_refused_naming_node_and_gate(ort, rng):
    from graph.onnx import to_onnx

    class Cube(G.Gate):
        def forward(self, x):
            self.x = x
            return x ** 3

        def backward(self, dout):
            return 3 * self.x ** 2 * dout

    g = ComputationalGraph()
    g.add(Cube(), g.input("x"), name="cube")
    g.forward(x=rng.standard_normal(3))
    with pytest.raises(ValueError, match=r"cube \(Cube\): no ONNX operator for Cube"):
        to_onnx(g)
    hinge = networks.mlp([3, 2], loss="hinge")
    hinge.forward(x=rng.standard_normal((2, 3)), y=np.array([0, 1]))
    with pytest.raises(ValueError, match=r"loss \(Hinge\): no ONNX operator"):
        to_onnx(hinge)
    with pytest.raises(RuntimeError, match="needs a forward pass"):
        to_onnx(networks.mlp([3, 2]))


def test_an_operator_without_a_gate_is_refused_naming_it_and_the_node(ort):
    import onnx
    from onnx import TensorProto, helper

    from graph.onnx import from_onnx
    node = helper.make_node("Hardmax", ["x"], ["y"], name="the_hardmax")
    model = helper.make_model(helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                             [2, 3])],
                                                [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])]),
                              opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model)
    with pytest.raises(ValueError, match=r"ONNX node 'the_hardmax' \(Hardmax\): no gate for Hardmax; from_onnx reads "
                                         r".*Gemm"):
        from_onnx(model)


# --- from PyTorch -----------------------------------------------------------------------------------

class LanguageModel:
    """Embedding - LSTM or GRU - Linear, as a PyTorch user writes it."""

    def __new__(cls, torch, cell):
        class Model(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = torch.nn.Embedding(12, 8)
                self.rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](8, 16, batch_first=True)
                self.out = torch.nn.Linear(16, 12)

            def forward(self, x):
                return self.out(self.rnn(self.embed(x))[0])
        return Model()


def _torch_models(torch, dtype):
    nn = torch.nn
    torch.manual_seed(0)
    encoder = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.1, batch_first=True)
    with torch.no_grad():           # distinct values: the exporter merges initializers that are equal
        for p in encoder.parameters():
            p.add_(0.1 * torch.randn_like(p))
    models = {
        "mlp": (nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)), torch.randn(4, 64)),
        "convnet": (nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                  nn.Linear(64, 10)), torch.randn(2, 1, 8, 8)),
        "lstm": (LanguageModel(torch, "lstm"), torch.randint(0, 12, (2, 5))),
        "gru": (LanguageModel(torch, "gru"), torch.randint(0, 12, (2, 5))),
        "transformer-encoder-layer": (encoder, torch.randn(2, 5, 16)),
    }
    for model, _ in models.values():
        model.to(dtype).eval()
    return {name: (model, example.to(dtype) if example.is_floating_point() else example)
            for name, (model, example) in models.items()}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["mlp", "convnet", "lstm", "gru", "transformer-encoder-layer"])
def test_torch_exports_import_with_torchs_forward_and_autograd(ort, torch, tmp_path, name, dtype):
    _need("onnxscript")
    from graph.onnx import from_onnx
    module, example = _torch_models(torch, getattr(torch, dtype))[name]
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            torch.onnx.export(module, (example,), str(path), dynamo=True, verbose=False)
        finally:
            logging.disable(logging.NOTSET)
    g = from_onnx(path)
    (x,) = [n.name for n in g.nodes if n.kind == "input"]
    out = g.forward(**{x: example.numpy()})
    want = module(example)
    tolerance = dict(rtol=1e-9, atol=1e-10) if dtype == "float64" else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out, want.detach().numpy(), **tolerance)
    dout = np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype)
    grads = g.backward(dout)
    want.backward(torch.tensor(dout))
    named = dict(module.named_parameters())
    compared = [p for p in g.params if p in named]
    assert compared, "no param kept its PyTorch name"
    for p in compared:
        np.testing.assert_allclose(grads[p], named[p].grad.numpy(), err_msg=p, **tolerance)
    if example.is_floating_point():             # the input's gradient too: everything in between agrees
        t = example.clone().requires_grad_(True)
        module(t).backward(torch.tensor(dout))
        np.testing.assert_allclose(grads[x], t.grad.numpy(), **tolerance)


def test_an_imported_model_trains_saves_and_plays(ort, torch, tmp_path, rng):
    _need("onnxscript")
    from graph.onnx import from_onnx
    from losses import SoftmaxWithLoss
    module, example = _torch_models(torch, torch.float64)["mlp"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), str(tmp_path / "mlp.onnx"), dynamo=True, verbose=False)
    g = from_onnx(tmp_path / "mlp.onnx")
    scores = g.output_name
    g.set_output(g.add(SoftmaxWithLoss(), scores, g.input("y"), name="loss"))
    (x,) = [n.name for n in g.nodes if n.kind == "input" and n.name != "y"]
    feeds = {x: example.numpy(), "y": rng.integers(0, 10, 4)}
    first = g.forward(**feeds)
    optimizer = SGD(0.1)
    for _ in range(5):
        g.forward(**feeds)
        g.backward()
        optimizer.step(g.params, g.grads)
    assert g.forward(**feeds) < first
    g.save(tmp_path / "mlp.npz")
    again = from_onnx(tmp_path / "mlp.onnx")
    again.load(tmp_path / "mlp.npz")
    np.testing.assert_allclose(again.forward(**{x: example.numpy()}), g.forward(output=scores, **feeds))
    g.forward(**feeds)
    g.backward()
    player = g.step_through(check=True)
    assert all(s["check"]["passed"] for s in player.steps if s["kind"] == "backward")


# --- the command line ----------------------------------------------------------------------------

def test_train_exports_and_show_writes_the_page_of_a_model(ort, tmp_path, capsys):
    model, page = tmp_path / "digits.onnx", tmp_path / "digits.html"
    assert main(["train", "--epochs", "2", "--quiet", "--out", str(tmp_path / "p.npz"), "--export", str(model)]) == 0
    assert f"exported to {model}" in capsys.readouterr().out
    x = np.random.default_rng(0).standard_normal((3, 64))
    np.save(tmp_path / "x.npy", x)
    assert main(["show", str(model), "--out", str(page), "--input", f"x={tmp_path / 'x.npy'}"]) == 0
    assert "fed x (3, 64)" in capsys.readouterr().out
    assert 'id="gategraph-steps"' in page.read_text()


@pytest.mark.parametrize("argv, pattern", [
    (["show", "missing.onnx", "--out", "p.html"], r"'missing.onnx' is not a file"),
    (["show", "{garbage}", "--out", "p.html"], r"cannot read .* as an ONNX model"),
    (["show", "{model}", "--out", "p.html", "--input", "nope=x.npy"], r"cannot read 'x.npy'"),
    (["show", "{model}", "--out", "p.html", "--input", "x"], r"expected NAME=FILE.npy"),
])
def test_show_mistakes_are_one_line(ort, tmp_path, capsys, argv, pattern, rng, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage").write_text("not a model")
    g = networks.mlp([4, 2])
    g.forward(x=rng.standard_normal((2, 4)), y=np.zeros(2, np.int64))
    from graph.onnx import to_onnx
    to_onnx(g, tmp_path / "m.onnx", output="scores")
    argv = [a.format(model=tmp_path / "m.onnx", garbage=tmp_path / "garbage") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gategraph: error: ") and len(err.strip().splitlines()) == 1
    assert __import__("re").search(pattern, err), err


def _layer_zoo(torch):
    """torch layers beyond the four kinds, as a model exported from PyTorch may hold them."""
    nn = torch.nn

    class Reductions(nn.Module):
        def forward(self, x):
            return (x.mean(dim=1) + x.amax(dim=-1).sum() + x.abs().clamp(0.1, 2.0).sum(0).mean()
                    + torch.exp(-x).sum(-1)).sqrt()

    class LastState(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.fc = nn.GRU(4, 5, batch_first=True), nn.Linear(5, 2)

        def forward(self, x):
            return self.fc(self.rnn(x)[0][:, -1])

    torch.manual_seed(0)
    return {
        "conv-pairs-batchnorm-gelu-avgpool-logsoftmax": (
            nn.Sequential(nn.Conv2d(2, 4, 3, stride=(2, 1), padding=(1, 0)), nn.BatchNorm2d(4), nn.GELU(),
                          nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8, 5), nn.LogSoftmax(-1)), torch.randn(3, 2, 8, 5)),
        "leakyrelu-dropout-elu-softmax": (
            nn.Sequential(nn.Linear(6, 7), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Linear(7, 7), nn.ELU(),
                          nn.Linear(7, 3), nn.Softmax(-1)), torch.randn(4, 6)),
        "convtranspose-tanh-sigmoid": (
            nn.Sequential(nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1), nn.Tanh(), nn.Conv2d(2, 2, 1),
                          nn.Sigmoid()), torch.randn(2, 3, 4, 4)),
        "batchnorm1d-gelu-tanh": (nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.GELU(approximate="tanh"),
                                                nn.Linear(6, 2)), torch.randn(4, 5)),
        "maxpool-padded": (nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1), nn.Flatten()), torch.randn(2, 2, 7, 6)),
        "layernorm-3d": (nn.Sequential(nn.LayerNorm(6), nn.Linear(6, 3)), torch.randn(2, 4, 6)),
        "reductions": (Reductions(), torch.rand(3, 4) + 0.5),
        "gru-last-state": (LastState(), torch.randn(2, 6, 4)),
    }


ZOO = ["conv-pairs-batchnorm-gelu-avgpool-logsoftmax", "leakyrelu-dropout-elu-softmax", "convtranspose-tanh-sigmoid",
       "batchnorm1d-gelu-tanh", "maxpool-padded", "layernorm-3d", "reductions", "gru-last-state"]


@pytest.mark.parametrize("name", ZOO)
def test_more_torch_layers_import_with_torchs_forward_and_input_gradient(ort, torch, tmp_path, name):
    _need("onnxscript")
    from graph.onnx import from_onnx
    module, example = _layer_zoo(torch)[name]
    example = example.float()
    module.float().eval()
    for layer in module.modules():           # running statistics that are not the identity
        if isinstance(layer, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            layer.running_mean.uniform_(-1, 1)
            layer.running_var.uniform_(0.5, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            torch.onnx.export(module, (example,), str(tmp_path / "m.onnx"), dynamo=True, verbose=False)
        finally:
            logging.disable(logging.NOTSET)
    g = from_onnx(tmp_path / "m.onnx")
    (x,) = [n.name for n in g.nodes if n.kind == "input"]
    out = g.forward(**{x: example.numpy()})
    t = example.clone().requires_grad_(True)
    want = module(t)
    np.testing.assert_allclose(out, want.detach().numpy(), rtol=1e-4, atol=1e-5)
    dout = np.random.default_rng(0).standard_normal(np.shape(out)).astype(np.float32)
    grads = g.backward(dout)
    want.backward(torch.tensor(dout))
    np.testing.assert_allclose(grads[x], t.grad.numpy(), rtol=1e-4, atol=1e-5)
