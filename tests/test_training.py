"""Optimizers, initialisers, data, the trainer and the gategraph command."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from graph import SGD, Adam, Momentum, RMSProp
from graph.cli import main
from graph.training.data import blobs, digits_split, load_digits, spiral, standardise, stratified_split, xor
from graph.training.init import gaussian, he, xavier
from graph.training.networks import convnet, mlp
from graph.training.trainer import Trainer, accuracy, predict

# --- optimizers, on values computed by hand ------------------------------------------------


def test_sgd_and_momentum_by_hand():
    p = {"w": np.array([1.0])}
    SGD(0.1).step(p, {"w": np.array([2.0])})
    assert p["w"][0] == pytest.approx(0.8)
    opt, p = Momentum(0.1, momentum=0.9), {"w": np.array([1.0])}
    opt.step(p, {"w": np.array([2.0])})      # v = 2, w = 1 - 0.2
    opt.step(p, {"w": np.array([2.0])})      # v = 0.9 * 2 + 2 = 3.8, w = 0.8 - 0.38
    assert p["w"][0] == pytest.approx(0.42)


def test_rmsprop_and_adam_by_hand():
    opt, p = RMSProp(0.01, decay=0.9, eps=0.0), {"w": np.array([1.0])}
    opt.step(p, {"w": np.array([2.0])})      # cache = 0.1 * 4, step = 0.01 * 2 / sqrt(0.4)
    assert p["w"][0] == pytest.approx(1 - 0.01 * 2 / np.sqrt(0.4))
    opt, p = Adam(0.1, eps=0.0), {"w": np.array([1.0])}
    opt.step(p, {"w": np.array([-3.0])})     # bias-corrected m = -3, v = 9: step = lr * sign
    assert p["w"][0] == pytest.approx(1.1)
    opt.step(p, {"w": np.array([-3.0])})
    assert p["w"][0] == pytest.approx(1.2)


@pytest.mark.parametrize("optimizer", [SGD(0.1), Momentum(0.1), RMSProp(0.1), Adam(0.1)])
def test_a_non_finite_gradient_changes_no_param(optimizer):
    params = {"a": np.ones(2), "b": np.ones(2)}
    with pytest.raises(FloatingPointError, match="'b'"):
        optimizer.step(params, {"a": np.ones(2), "b": np.array([1.0, np.nan])})
    np.testing.assert_array_equal(params["a"], np.ones(2))
    np.testing.assert_array_equal(params["b"], np.ones(2))


@pytest.mark.parametrize("optimizer", [SGD(0.1), Momentum(0.1), RMSProp(0.1), Adam(0.1)])
def test_optimizers_keep_float32(optimizer):
    params = {"w": np.ones(3, np.float32)}
    optimizer.step(params, {"w": np.full(3, 0.5, np.float32)})
    assert params["w"].dtype == np.float32


# --- initialisers and data --------------------------------------------------------------

def test_initialisers_scale_dtype_and_seed():
    assert he((2000, 50), seed=0).std() == pytest.approx(np.sqrt(2 / 2000), rel=0.05)
    assert xavier((300, 100), seed=0).std() == pytest.approx(np.sqrt(2 / 400), rel=0.05)
    assert he((16, 3, 3, 3), seed=0).std() == pytest.approx(np.sqrt(2 / 27), rel=0.1)
    assert gaussian((3, 3), 0.5, seed=1, dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(he((4, 4), seed=3), he((4, 4), seed=3))


def test_bundled_digits_load_without_download():
    x, y = load_digits(np.float32)
    assert x.shape == (1797, 64) and x.dtype == np.float32 and 0 <= x.min() and x.max() == 1
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_split_is_stratified_disjoint_and_seeded():
    _, y = load_digits()
    train, val, test = stratified_split(y, (0.6, 0.2, 0.2), seed=0)
    assert len(train) + len(val) + len(test) == len(y)
    assert len(np.intersect1d(train, val)) == len(np.intersect1d(train, test)) == 0
    for part, share in ((train, 0.6), (val, 0.2), (test, 0.2)):
        np.testing.assert_allclose(np.bincount(y[part]) / np.bincount(y), share, atol=0.01)
    np.testing.assert_array_equal(train, stratified_split(y, seed=0)[0])
    assert not np.array_equal(train, stratified_split(y, seed=1)[0])


def test_standardise_uses_training_statistics():
    data = standardise(digits_split())
    np.testing.assert_allclose(data["x_train"].mean(axis=0), 0, atol=1e-12)
    assert abs(data["x_test"].mean()) < 0.1


@pytest.mark.parametrize("make, classes", [(spiral, 3), (xor, 2), (blobs, 3)])
def test_toy_sets(make, classes):
    x, y = make(seed=0)
    assert x.shape == (len(y), 2) and set(np.unique(y)) == set(range(classes))
    np.testing.assert_array_equal(x, make(seed=0)[0])


# --- network builders -------------------------------------------------------------------

def test_mlp_names_its_params_and_nodes():
    g = mlp((4, 5, 6, 3), batchnorm=True, dropout=0.1, l2=0.01)
    assert set(g.params) == {"W1", "b1", "W2", "b2", "W3", "b3", "gamma1", "beta1", "gamma2", "beta2"}
    x, y = np.ones((2, 4)), np.array([0, 2])
    assert np.isscalar(g.forward(x=x, y=y))
    assert g.forward(output="scores", x=x).shape == (2, 3)
    assert g.output_name == "loss"


def test_convnet_runs_and_has_the_documented_shape():
    g = convnet(input_shape=(1, 8, 8), filters=4, hidden=10)
    assert g.params["W1"].shape == (4, 1, 3, 3) and g.params["W2"].shape == (4 * 4 * 4, 10)
    assert g.forward(output="scores", x=np.ones((3, 64))).shape == (3, 10)


# --- trainer ------------------------------------------------------------------------------------

def small_problem(seed=0):
    x, y = blobs(points_per_class=60, seed=seed)
    order = np.random.default_rng(seed).permutation(len(y))
    return x[order[:120]], y[order[:120]], x[order[120:]], y[order[120:]]


def test_trainer_learns_blobs_and_records_history():
    g = mlp((2, 16, 3), seed=0)
    trainer = Trainer(g, Adam(0.01), batch_size=16, epochs=15, progress="silent")
    history = trainer.fit(*small_problem())
    assert len(history["loss"]) == 15 and history["loss"][-1] < history["loss"][0]
    assert trainer.best_val_acc > 0.9


def test_trainer_restores_the_params_of_the_best_validation_epoch():
    g = mlp((2, 16, 3), seed=0)
    x_train, y_train, x_val, y_val = small_problem()
    trainer = Trainer(g, SGD(5.0), batch_size=8, epochs=12, progress="silent")   # lr high: it wobbles
    history = trainer.fit(x_train, y_train, x_val, y_val)
    assert accuracy(g, x_val, y_val) == max(history["val_acc"]) == trainer.best_val_acc


def test_early_stopping_after_patience_epochs():
    g = mlp((2, 16, 3), seed=0)
    trainer = Trainer(g, SGD(0.0), epochs=50, patience=3, progress="silent")    # lr 0: never improves
    history = trainer.fit(*small_problem())
    assert len(history["loss"]) == 4 and trainer.best_epoch == 1


def test_seeded_runs_reproduce_exactly():
    def run():
        g = mlp((2, 8, 3), seed=5, dropout=0.2)
        Trainer(g, Momentum(0.1), epochs=3, seed=5, progress="silent").fit(*small_problem(1))
        return g.params
    first, second = run(), run()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])


def test_predict_runs_in_eval_mode_and_restores_the_mode():
    g = mlp((2, 8, 3), dropout=0.5)
    x = np.ones((4, 2))
    np.testing.assert_array_equal(predict(g, x), predict(g, x))
    assert all(node.gate.training for node in g.nodes if node.gate is not None)


def test_progress_lines_without_tqdm(capsys):
    g = mlp((2, 8, 3))
    Trainer(g, Adam(0.01), epochs=2, progress="lines").fit(*small_problem())
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2  loss")


# --- the command --------------------------------------------------------------------------------

def test_cli_train_short_run_saves_params_and_reports_accuracy(tmp_path, capsys):
    out = tmp_path / "p.npz"
    assert main(["train", "--epochs", "3", "--quiet", "--out", str(out), "--dtype", "float32"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("test accuracy: 0.")
    assert float(lines[-1].split(": ")[1]) > 0.8
    g = mlp((64, 100, 10), dtype=np.float32, l2=1e-4)
    g.load(out)


@pytest.mark.slow
def test_cli_default_train_reaches_97_percent(tmp_path, capsys):
    assert main(["train", "--quiet", "--out", str(tmp_path / "p.npz")]) == 0
    assert float(capsys.readouterr().out.strip().splitlines()[-1].split(": ")[1]) >= 0.97


@pytest.mark.slow
def test_cli_conv_net_reaches_98_percent(tmp_path, capsys):
    assert main(["train", "--conv", "--quiet", "--dtype", "float32", "--out", str(tmp_path / "p.npz")]) == 0
    assert float(capsys.readouterr().out.strip().splitlines()[-1].split(": ")[1]) >= 0.98


@pytest.mark.parametrize("argv, pattern", [
    (["train", "--optimizer", "adamw"], "invalid choice: 'adamw'"),
    (["train", "--hidden", "10,x"], "positive integers"),
    (["train", "--epochs", "0"], "positive int"),
    (["train", "--out", "/no/such/folder/p.npz"], "not a writable folder"),
    (["check", "no_such_module_xyz:Gate"], "cannot import 'no_such_module_xyz'"),
    (["check", "numpy"], "MODULE:CLASS"),
    (["frobnicate"], "invalid choice"),
])
def test_usage_mistakes_are_one_line_and_exit_2(argv, pattern, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert pattern in err


def test_cli_check_all_builtin_gates(capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "Conv2D" in out and "SoftmaxWithLoss" in out and "FAIL" not in out


def test_cli_check_a_user_gate_from_a_module(tmp_path):
    (tmp_path / "mygates.py").write_text(textwrap.dedent("""
        from gates import Gate

        class Cube(Gate):
            def forward(self, x):
                self.x = x
                return x ** 3

            def backward(self, dout):
                return 3 * self.x ** 2 * dout

        class WrongCube(Cube):
            def backward(self, dout):
                return self.x ** 2 * dout
    """))
    run = [sys.executable, "-m", "graph.cli", "check"]
    good = subprocess.run([*run, "mygates:Cube", "--shape", "2,3"], cwd=tmp_path, capture_output=True, text=True)
    assert good.returncode == 0 and "pass" in good.stdout and "(2, 3)" in good.stdout
    bad = subprocess.run([*run, "mygates:WrongCube"], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 1 and "FAIL" in bad.stdout and "WrongCube, input 0" in bad.stderr


@pytest.mark.parametrize("make", [lambda: SGD(0.1), lambda: Momentum(0.1), lambda: RMSProp(0.01), lambda: Adam(0.01)])
def test_chunked_updates_equal_whole_array_updates(make, monkeypatch):
    import graph.training.optim
    rng = np.random.default_rng(0)
    start = rng.standard_normal((300, 7))
    grads = [{"w": rng.standard_normal((300, 7))} for _ in range(3)]
    results = []
    for chunk in (graph.training.optim.CHUNK, 64):   # 2100 elements: one slice, then 33 slices
        monkeypatch.setattr(graph.training.optim, "CHUNK", chunk)
        optimizer, params = make(), {"w": start.copy()}
        for g in grads:
            optimizer.step(params, g)
        results.append(params["w"])
    np.testing.assert_allclose(results[0], results[1], rtol=0, atol=1e-15)


def test_cli_train_plots_curves_and_the_conv_option_runs(tmp_path, capsys):
    plot = tmp_path / "curves.png"
    assert main(["train", "--conv", "--epochs", "1", "--quiet", "--out", str(tmp_path / "c.npz"),
                 "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "conv net" in capsys.readouterr().out
