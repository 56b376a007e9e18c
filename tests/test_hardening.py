"""Careless and adversarial use: no silent wrong number, no half-done update, a clear error for
every bad input. Error inputs of single gates live in the catalogues; these are the rest."""
import warnings
import zipfile

import numpy as np
import pytest

import gates as G
from gates.check import check_gate
from graph import SGD, Adam, ComputationalGraph, Momentum, RMSProp
from graph.cli import main
from graph.training import Trainer
from graph.training.networks import mlp
from graph.training.trainer import accuracy
from losses import Hinge, L2Penalty, MeanSquaredError, SigmoidWithLoss, SoftmaxWithLoss

OPTIMIZERS = [SGD, Momentum, RMSProp, Adam]


def two_params(rng):
    g = ComputationalGraph()
    W, b = g.param("W", rng.standard_normal((3, 2))), g.param("b", rng.standard_normal(2))
    g.add(G.Affine(), g.input("x"), W, b, name="scores")
    g.add(SoftmaxWithLoss(), "scores", g.input("y"), name="loss")
    return g


# --- silent wrong answers ------------------------------------------------------------------

def test_integer_inputs_are_computed_in_float():
    gate = G.Max()
    gate.forward(np.array([1, 2, 3]), np.array([3, 2, 1]))
    da, db = gate.backward(np.ones(3))
    np.testing.assert_array_equal(da, [0.0, 0.5, 1.0])          # the tie splits 1/2, not 0/1
    out = G.BatchNorm().forward(np.array([[1, 2], [3, 6]]), np.ones(2), np.zeros(2))
    np.testing.assert_allclose(out, [[-1, -1], [1, 1]], atol=1e-4)   # not zeros from an int inv_std


@pytest.mark.parametrize("value", [np.array([1 + 2j, 3.0]), np.array([None, 1.0], dtype=object),
                                   np.array([1.0, 2.0], dtype=np.float16), np.array(["a", "b"])])
def test_complex_object_float16_and_text_are_refused_by_gates_and_graphs(value):
    with pytest.raises(ValueError, match=r"Sigmoid: x has dtype .*expected float32 or float64"):
        G.Sigmoid().forward(value)
    g = ComputationalGraph()
    g.add(G.Sigmoid(), g.input("x"))
    # one rule, one message, one error type (a TypeError and a ValueError) wherever the data enters
    for enter, what in [(lambda: g.forward(x=value), "input 'x'"), (lambda: g.param("W", value), "param 'W'"),
                        (lambda: G.Sigmoid().forward(value), "Sigmoid: x")]:
        with pytest.raises(G.DtypeError, match=rf"^{what} has dtype .* \(shape \(2,\)\); expected float32 or float64") \
                as raised:
            enter()
        assert isinstance(raised.value, TypeError) and isinstance(raised.value, ValueError)


def test_complex_dout_is_refused_and_changes_nothing():
    g = ComputationalGraph()
    g.add(G.Tanh(), g.input("x"))
    g.forward(x=np.ones(2))
    with pytest.raises(TypeError, match="dout must be a number"):
        g.backward(np.array([1j, 1j]))
    with pytest.raises(TypeError, match="dout must be a number"):
        g.backward("one")


def test_softmax_loss_refuses_targets_that_are_not_distributions():
    with pytest.raises(ValueError, match="summing to 1.5"):
        SoftmaxWithLoss().forward(np.zeros((1, 2)), np.array([[0.5, 1.0]]))
    with pytest.raises(ValueError, match="NaN, inf or negative"):
        SoftmaxWithLoss().forward(np.zeros((1, 2)), np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="NaN, inf or negative"):
        SoftmaxWithLoss().forward(np.zeros((1, 2)), np.array([[-0.5, 1.5]]))


def test_accuracy_refuses_labels_of_another_shape_and_nan_features():
    g = mlp((2, 3, 2), seed=0)
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"y has shape \(4, 1\) but the predictions .* \(4,\)"):
        accuracy(g, x, np.zeros((4, 1), np.int64))
    x[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf scores"):
        accuracy(g, x, np.zeros(4, np.int64))


@pytest.mark.parametrize("make, pattern", [
    (lambda: Hinge(margin=np.nan), "margin must be a finite number"),
    (lambda: L2Penalty(-1), "strength must be a finite number >= 0"),
    (lambda: L2Penalty(np.inf), "strength must be a finite number"),
    (lambda: G.BatchNorm(eps=-1), "eps must be a finite number > 0"),
    (lambda: G.BatchNorm(momentum=2), "momentum must be a finite number in \\[0, 1\\]"),
    (lambda: G.LayerNorm(eps=0), "eps must be a finite number > 0"),
    (lambda: G.Dropout(np.nan), "probability of dropping"),
    (lambda: G.Power(np.nan), "p must be a finite number"),
    (lambda: G.Repeat(0), "n must be a positive integer"),
    (lambda: SoftmaxWithLoss(ignore_index=0.5), "ignore_index must be an integer"),
    *[(lambda o=o, lr=lr: o(lr), "lr must be a finite number") for o in OPTIMIZERS for lr in (np.nan, np.inf, -0.1)],
    (lambda: Momentum(0.1, momentum=1.5), "momentum must be a finite number"),
    (lambda: Adam(0.1, beta2=1.0), "beta2 must be a finite number"),
    (lambda: RMSProp(0.1, eps=np.nan), "eps must be a finite number"),
])
def test_nonsensical_hyperparameters_are_refused_when_made(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_an_lr_set_later_is_checked_too():
    opt = SGD(0.1)
    with pytest.raises(ValueError, match="lr must be"):
        opt.lr = np.nan
    assert opt.lr == 0.1


def test_mean_squared_error_of_nothing_is_refused():
    with pytest.raises(ValueError, match="empty"):
        MeanSquaredError().forward(np.zeros(0), np.zeros(0))


# --- nothing changed by a call that failed ---------------------------------------------------

@pytest.mark.parametrize("bad", ["read-only", "integer", "complex", "nan", "shape"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_a_failed_step_changes_no_param_and_names_the_one_at_fault(rng, optimizer, bad):
    params = {"a": rng.standard_normal(3), "b": rng.standard_normal(3)}
    grads = {"a": np.ones(3), "b": np.ones(3)}
    if bad == "read-only":
        params["b"].flags.writeable = False
    elif bad == "integer":
        params["b"] = np.arange(3)
    elif bad == "complex":
        grads["b"] = np.ones(3) * 1j
    elif bad == "nan":
        grads["b"] = np.array([1.0, np.nan, 1.0])
    else:
        grads["b"] = np.ones(4)
    before = {k: v.copy() for k, v in params.items()}
    opt = optimizer(0.1)
    with pytest.raises((ValueError, TypeError, FloatingPointError), match="param 'b'.*no param was changed"):
        opt.step(params, grads)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
    assert opt.state == {}


def test_one_optimizer_shared_by_graphs_with_a_same_named_param_of_another_shape(rng):
    opt = Adam(0.1)
    opt.step({"W": rng.standard_normal((2, 2))}, {"W": np.ones((2, 2))})
    other = {"W": rng.standard_normal((3, 2))}
    before = other["W"].copy()
    with pytest.raises(ValueError, match=r"keeps 'm' of shape \(2, 2\).*\(3, 2\).*one optimizer per graph"):
        opt.step(other, {"W": np.ones((3, 2))})
    np.testing.assert_array_equal(other["W"], before)
    opt.reset()
    opt.step(other, {"W": np.ones((3, 2))})      # a fresh state fits any shape


@pytest.mark.parametrize("names", [["allow_pickle", "file"], ["a/b", "weird name.npy"]])
def test_params_with_any_names_save_and_load(rng, tmp_path, names):
    g = ComputationalGraph()
    for name in names:
        g.param(name, rng.standard_normal(3))
    saved = {k: v.copy() for k, v in g.params.items()}
    g.save(tmp_path / "p.npz")
    for v in g.params.values():
        v[...] = 0
    g.load(tmp_path / "p.npz")
    for k in names:
        np.testing.assert_array_equal(g.params[k], saved[k])


def _npz(path, members):
    """A zip with the given raw members: name -> bytes."""
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _npy_bytes(array):
    import io
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize("make_file, pattern", [
    (lambda p: np.save(p, np.zeros(3)) or str(p) + ".npy", "not an .npz file"),
    (lambda p: _npz(p, {"W.npy": b"garbage", "b.npy": b"junk"}), "W: .*magic"),
    (lambda p: _npz(p, {"W.npy": _npy_bytes(np.zeros((3, 2)))[:150], "b.npy": _npy_bytes(np.zeros(2))}),
     "W: truncated"),
    (lambda p: _npz(p, {"W.npy": _npy_bytes(np.zeros((3, 2)))[:60], "b.npy": _npy_bytes(np.zeros(2))}),
     "W: is not a readable .npy array"),
    (lambda p: _npz(p, {"W.npy": _npy_bytes(np.zeros((3, 2), dtype=object)), "b.npy": _npy_bytes(np.zeros(2))}),
     "Python objects"),
    (lambda p: _npz(p, {"W.npy": _npy_bytes(np.zeros((3, 2), complex)), "b.npy": _npy_bytes(np.zeros(2))}),
     "dtype complex128"),
    (lambda p: _npz(p, {"W.npy": _npy_bytes(np.full((3, 2), 1e300)), "b.npy": _npy_bytes(np.zeros(2))}), None),
])
def test_hostile_or_broken_files_are_refused_changing_nothing(rng, tmp_path, make_file, pattern):
    g = two_params(rng)
    before = {k: v.copy() for k, v in g.params.items()}
    path = make_file(tmp_path / "bad") or tmp_path / "bad"
    if pattern is None:          # 1e300 fits float64 but not float32 params
        g = ComputationalGraph()
        g.param("W", np.zeros((3, 2), np.float32))
        g.param("b", np.zeros(2, np.float32))
        before = {k: v.copy() for k, v in g.params.items()}
        pattern = "too large for float32"
    with pytest.raises(ValueError, match=pattern):
        g.load(path)
    for k, v in g.params.items():
        np.testing.assert_array_equal(v, before[k])


def test_a_header_claiming_a_huge_shape_is_refused_before_any_data_is_read(rng, tmp_path):
    header = {"descr": "<f8", "fortran_order": False, "shape": (10 ** 6, 10 ** 6)}
    import io
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    path = _npz(tmp_path / "huge.npz", {"W.npy": buffer.getvalue(), "b.npy": _npy_bytes(np.zeros(2))})
    with pytest.raises(ValueError, match=r"\(1000000, 1000000\) in the file, \(3, 2\) in the graph"):
        two_params(rng).load(path)


def test_load_into_a_read_only_param_loads_none(rng, tmp_path):
    g = two_params(rng)
    g.save(tmp_path / "p.npz")
    g.params["W"][...] = 0
    g.params["b"].flags.writeable = False
    with pytest.raises(ValueError, match=r"read-only params \['b'\]"):
        g.load(tmp_path / "p.npz")
    assert not g.params["W"].any()


def test_batchnorm_refuses_an_empty_batch_and_one_value_per_channel_keeping_its_statistics():
    bn = G.BatchNorm()
    bn.forward(np.random.default_rng(0).standard_normal((4, 2)), np.ones(2), np.zeros(2))
    kept = bn.running_mean.copy(), bn.running_var.copy()
    for x in (np.zeros((0, 2)), np.zeros((1, 2)), np.zeros((1, 2, 1, 1))):
        with pytest.raises(ValueError, match=r"value\(s\) per feature; training needs more than 1"):
            bn.forward(x, np.ones(2), np.zeros(2))
    np.testing.assert_array_equal(bn.running_mean, kept[0])
    np.testing.assert_array_equal(bn.running_var, kept[1])
    bn.training = False
    assert bn.forward(np.zeros((1, 2)), np.ones(2), np.zeros(2)).shape == (1, 2)   # eval: fine


# --- clear errors --------------------------------------------------------------------------------

def test_a_gate_returning_none_or_given_the_wrong_number_of_inputs_is_named():
    class Forgetful(G.Gate):
        def forward(self, x):
            self.x = x

    g = ComputationalGraph()
    g.add(Forgetful(), g.input("x"), name="forgetful")
    with pytest.raises(TypeError, match=r"^forgetful \(Forgetful\): forward returned None"):
        g.forward(x=1.0)
    h = ComputationalGraph()
    h.add(G.Add(), h.input("x"), name="lonely")
    with pytest.raises(TypeError, match=r"^lonely \(Add\): .*forward\(\) missing 1 required positional argument"):
        h.forward(x=1.0)


def test_empty_batches_flow_through_affine_and_flatten_and_a_scalar_is_refused():
    out = G.Affine().forward(np.zeros((0, 2, 3)), np.ones((6, 4)), np.zeros(4))
    assert out.shape == (0, 4)
    assert G.Flatten().forward(np.zeros((0, 2, 3))).shape == (0, 6)
    with pytest.raises(ValueError, match=r"Flatten: x is a scalar"):
        G.Flatten().forward(np.float64(3.0))


def test_the_trainer_refuses_mismatched_or_empty_sets():
    g = mlp((2, 3, 2), seed=0)
    trainer = Trainer(g, SGD(0.1), epochs=1, progress="silent")
    with pytest.raises(ValueError, match="training set has 5 examples in x and 4 in y"):
        trainer.fit(np.zeros((5, 2)), np.zeros(4, np.int64), np.zeros((2, 2)), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="validation set has 0 examples"):
        trainer.fit(np.zeros((4, 2)), np.zeros(4, np.int64), np.zeros((0, 2)), np.zeros(0, np.int64))


def test_float16_is_refused_with_what_is_supported_not_blamed_as_mixed_dtypes():
    g = ComputationalGraph()
    g.add(G.Sigmoid(), g.input("x"), name="s")
    with pytest.raises(TypeError, match="float16.*expected float32 or float64"):
        g.forward(x=np.ones(2, np.float16))


@pytest.mark.parametrize("argv, pattern", [
    (["train", "--lr", "nan"], "--lr: expected a positive float"),
    (["train", "--lr", "inf"], "--lr: expected a positive float"),
    (["train", "--lr-decay", "nan"], "--lr-decay"),
    (["train", "--l2", "nan"], "--l2: expected a finite float >= 0"),
    (["train", "--l2", "-1"], "--l2: expected a finite float >= 0"),
    (["train", "--seed", "-1"], "--seed: expected a finite int >= 0"),
    (["train", "--out", ""], "empty path"),
    (["train", "--out", "/nonexistent-folder/p.npz"], "not a writable folder"),
    (["train", "--plot", "/nonexistent-folder/c.png"], "not a writable folder"),
    (["train", "--plot", "curves.gif"], "expected a file ending in .png"),
    (["train", "--dropout", "1.5"], "--dropout must lie in"),
    (["train", "--task", "addition", "--conv"], "one LSTM layer: --conv does not apply"),
    (["check", "tests.test_hardening:Unmakeable"], "cannot make Unmakeable.*RuntimeError: no"),
    (["check", "tests.test_hardening:Forty", "--shape", "100000,100000"], "over a million elements"),
])
def test_command_line_mistakes_are_one_line_before_any_training(capsys, argv, pattern):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gategraph: error: ") and len(err.strip().splitlines()) == 1
    assert __import__("re").search(pattern, err), err


class Unmakeable(G.Gate):
    def __init__(self):
        raise RuntimeError("no")


class Forty(G.Gate):
    def forward(self, x):
        return x

    def backward(self, dout):
        return dout


# --- cosmetic -------------------------------------------------------------------------------

@pytest.mark.skipif(not __import__("shutil").which("dot"), reason="Graphviz's dot is not installed")
def test_any_node_name_gives_valid_dot_and_the_output_marker_never_merges(rng):
    g = ComputationalGraph()
    a = g.input("ends in \\")
    b = g.input('has \\" inside')
    g.add(G.Add(), a, b, name="__result__")
    g.forward(**{"ends in \\": 1.0, 'has \\" inside': 2.0})
    g.backward()
    svg = g.draw().decode()
    assert svg.count("<g id=\"node") == 4         # three nodes and the marker, none merged


def test_huge_finite_scores_give_the_loss_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = SoftmaxWithLoss().forward(np.array([[1e308, -1e308]]), np.array([1]))
        assert np.isfinite(loss) or loss == np.inf
        assert SigmoidWithLoss().forward(np.array([1e308, -1e308]), np.array([0, 1])) > 1e300


def test_graph_building_is_linear_not_quadratic():
    # 20,000 gates: the old add() scanned every node for a reused gate (400 million checks)
    g = ComputationalGraph()
    node = g.input("x")
    for _ in range(20_000):
        node = g.add(G.Tanh(), node)
    assert len(g.nodes) == 20_001


def test_check_gate_probes_a_sample_when_asked_and_still_catches_a_wrong_gate(rng):
    assert check_gate(G.Tanh(), rng.standard_normal((100, 100)), max_probes=50)[0] < 1e-6

    class Halved(G.Tanh):
        def backward(self, dout):
            return super().backward(dout) / 2

    with pytest.raises(AssertionError, match=r"worst at index \(\d+, \d+\)"):
        check_gate(Halved(), rng.standard_normal((100, 100)), max_probes=50)


# --- further cases, past the list ----------------------------------------------------

def _tanh_graph():
    g = ComputationalGraph()
    g.add(G.Tanh(), g.input("x"), name="t")
    return g


def test_lists_are_fed_as_arrays_and_what_is_not_numbers_is_named():
    np.testing.assert_allclose(_tanh_graph().forward(x=[0.0, 1.0]), np.tanh([0.0, 1.0]))
    for value, pattern in [(None, "has dtype object"), ("abc", "has dtype <U3"), ({"a": 1}, "has dtype object"),
                           ([[1.0], [1.0, 2.0]], "was fed a list that is not an array of numbers")]:
        with pytest.raises(TypeError, match=f"input 'x' {pattern}"):
            _tanh_graph().forward(x=value)


def test_saving_into_a_folder_or_a_missing_folder_says_so(rng, tmp_path):
    g = two_params(rng)
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        g.save(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        g.save(tmp_path / "no" / "p.npz")
    assert list(tmp_path.iterdir()) == []          # no temporary file left behind


def test_params_holding_nan_are_refused_when_added():
    with pytest.raises(ValueError, match="param 'W' of shape \\(2,\\) holds NaN or inf"):
        ComputationalGraph().param("W", np.array([np.nan, 1.0]))


def test_a_step_given_something_else_than_dicts_says_what_it_takes():
    with pytest.raises(TypeError, match="two dicts keyed by param name"):
        SGD(0.1).step({"W": np.ones(2)}, [np.ones(2)])


@pytest.mark.parametrize("gate, x, pattern", [
    (G.Softmax(axis=3), np.ones((2, 2)), r"Softmax: x has shape \(2, 2\); axis 3 is out of its range"),
    (G.Sum(axis=(0, 2)), np.ones((2, 2)), r"Sum: x has shape \(2, 2\); axis \(0, 2\) is out of its range"),
])
def test_axes_out_of_range_name_the_gate_and_shape(gate, x, pattern):
    with pytest.raises(ValueError, match=pattern):
        gate.forward(x)


def test_reshape_refuses_a_shape_that_is_not_integers():
    with pytest.raises(ValueError, match="shape must be integers"):
        G.Reshape("ab")
    assert G.Reshape(6).forward(np.ones((2, 3))).shape == (6,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_fast_finiteness_test_is_exact(dtype):
    from gates.base import all_finite
    huge = np.finfo(dtype).max / 2            # finite, but its square overflows the dot product
    big = np.ones(1 << 15, dtype)             # large enough for the dot product path
    big[7] = huge
    assert all_finite(np.array([1.0, huge, -huge], dtype)) and all_finite(big)
    assert all_finite(np.zeros((0, 3), dtype)) and all_finite(np.arange(5))
    for bad in (np.nan, np.inf, -np.inf):
        assert not all_finite(np.array([[1.0, 2.0], [bad, huge]], dtype))
        assert not all_finite(np.array([[1.0, bad]], dtype).T)   # not contiguous
        big[8] = bad
        assert not all_finite(big) and not all_finite(big[::2][:, None])
        big[8] = 1.0


@pytest.mark.parametrize("gate, expected", [
    (G.Sum(), "3.0"), (G.Dropout(0.5, seed=0), None), (G.Tanh(), None),
    (G.Flatten(), "Flatten: x is a scalar"), (G.Softmax(), "Softmax: x is a scalar")])
def test_a_python_number_reaches_every_gate_as_an_array(gate, expected):
    if expected and not expected[0].isdigit():
        with pytest.raises(ValueError, match=expected):
            gate.forward(3.0)
        return
    out = gate.forward(3.0)
    assert np.ndim(out) == 0 and (expected is None or str(float(out)) == expected)


@pytest.mark.parametrize("loss, inputs", [(MeanSquaredError(), (np.array([1 + 1j]), np.array([0.0]))),
                                          (L2Penalty(1.0), (np.array([1 + 5j]),)),
                                          (SoftmaxWithLoss(), (np.array([[1 + 1j, 0]]), np.array([0])))])
def test_losses_refuse_complex_input_rather_than_drop_its_imaginary_part(loss, inputs):
    with pytest.raises(ValueError, match="complex128.*not supported"):
        loss.forward(*inputs)
