"""ComputationalGraph: wiring, order, forward and backward, errors, modes, pictures, save and load."""
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gates as G
from gates.check import check_graph
from graph import ComputationalGraph
from losses import Hinge, L2Penalty, SoftmaxWithLoss


def seed_graph():
    """f = (x + y) z, the seed material's first circuit."""
    g = ComputationalGraph()
    x, y, z = g.input("x"), g.input("y"), g.input("z")
    q = g.add(G.Add(), x, y, name="q")
    g.add(G.Multiply(), q, z, name="f")
    return g


@pytest.mark.parametrize("feeds, f, q, grads", [
    ({"x": -2.0, "y": 5.0, "z": -4.0}, -12.0, 3.0, {"x": -4.0, "y": -4.0, "z": 3.0}),
    ({"x": -2.0, "y": 3.0, "z": 5.0}, 5.0, 1.0, {"x": 5.0, "y": 5.0, "z": 1.0}),
])
def test_seed_circuit(feeds, f, q, grads):
    g = seed_graph()
    assert g.forward(**feeds) == f
    assert g.backward() == grads
    assert g.value("q") == q
    assert g.grad("q") == grads["x"]      # the upstream gradient at q
    assert g.grad("f") == 1.0


def test_squared_error_circuit_gives_dl_dw_minus_16():
    g = ComputationalGraph()
    wx = g.add(G.Multiply(), "w", "x", name="wx")
    pred = g.add(G.Add(), wx, "b", name="pred")
    residual = g.add(G.Subtract(), pred, "y", name="residual")
    g.add(G.Square(), residual, name="L")
    for name in "wxby":
        g.input(name)
    assert g.forward(x=4.0, w=1.0, b=-3.0, y=3.0) == 4.0
    grads = g.backward()
    assert grads["w"] == -16.0 and grads["b"] == -4.0 and grads["y"] == 4.0


def test_linear_classifier_with_hinge_and_l2_adds_both_gradients_of_w(rng):
    g = ComputationalGraph()
    x, y = g.input("x"), g.input("y")
    W = g.param("W", rng.standard_normal((5, 3)))
    scores = g.add(G.MatMul(), x, W, name="scores")
    data = g.add(Hinge(), scores, y, name="data_loss")
    penalty = g.add(L2Penalty(0.1), W, name="penalty")
    g.add(G.Add(), data, penalty, name="loss")
    xv, yv = rng.standard_normal((4, 5)), np.array([0, 2, 1, 2])
    g.forward(x=xv, y=yv)
    grads = g.backward()
    hinge = Hinge()
    hinge.forward(xv @ g.params["W"], yv)
    expected = xv.T @ hinge.backward()[0] + 0.2 * g.params["W"]
    np.testing.assert_allclose(grads["W"], expected)
    assert grads["y"] is None
    check_graph(g, x=xv, y=yv)


def test_nodes_may_be_added_out_of_order_and_sorted():
    g = ComputationalGraph()
    g.add(G.Multiply(), "q", "z", name="f")
    g.add(G.Add(), "x", "y", name="q")
    for name in "xyz":
        g.input(name)
    g.set_output("f")
    assert g.forward(x=-2.0, y=5.0, z=-4.0) == -12.0
    order = [node.name for node in g.nodes_topologically_sorted()]
    assert order.index("q") < order.index("f") and order.index("x") < order.index("q")


def test_a_diamond_and_a_node_used_twice_by_one_gate_add_their_gradients():
    g = ComputationalGraph()
    x = g.input("x")
    a = g.add(G.Multiply(), x, x, name="square")     # x used twice by one gate
    b = g.add(G.Exp(), x, name="exp")
    g.add(G.Add(), a, b, name="f")                   # x fans out along three paths
    g.forward(x=np.array([0.5, -1.0]))
    np.testing.assert_allclose(g.backward()["x"], 2 * np.array([0.5, -1.0]) + np.exp([0.5, -1.0]))


def test_fan_out_does_not_write_into_any_gate_s_gradient():
    g = ComputationalGraph()
    x = g.input("x")
    a = g.add(G.Add(), x, x, name="a")            # Add hands its upstream gradient on as it is
    b = g.add(G.Add(), a, a, name="b")
    g.add(G.Sum(), g.add(G.Add(), b, a, name="c"), name="f")
    g.forward(x=np.ones(3))
    np.testing.assert_array_equal(g.backward()["x"], np.full(3, 6.0))
    np.testing.assert_array_equal(g.grad("c"), np.ones(3))
    np.testing.assert_array_equal(g.grad("a"), np.full(3, 3.0))


def test_forward_runs_every_gate_and_unused_params_get_zero_gradients():
    g = ComputationalGraph()
    x = g.input("x")
    unused = g.param("unused", np.ones(2))
    g.add(G.Log(), unused, name="dangling")            # feeds nothing on the way to the output
    out = g.add(G.Square(), x, name="out")
    g.set_output(out)
    assert g.forward(x=3.0) == 9.0
    np.testing.assert_array_equal(g.value("dangling"), [0.0, 0.0])
    grads = g.backward()
    assert grads["x"] == 6.0
    np.testing.assert_array_equal(grads["unused"], np.zeros(2))
    assert g.grad("dangling") is None
    g.forward(output="out", x=2.0)
    with pytest.raises(RuntimeError, match="did not need it"):
        g.value("dangling")


def test_forward_to_a_named_output_needs_only_its_ancestors(rng):
    g = ComputationalGraph()
    x, y = g.input("x"), g.input("y")
    W = g.param("W", rng.standard_normal((3, 2)))
    scores = g.add(G.MatMul(), x, W, name="scores")
    g.add(SoftmaxWithLoss(), scores, y, name="loss")
    xv = rng.standard_normal((4, 3))
    np.testing.assert_allclose(g.forward(output="scores", x=xv), xv @ g.params["W"])
    with pytest.raises(ValueError, match=r"missing feed for input\(s\) \['y'\]"):
        g.forward(x=xv)


def test_a_cycle_is_named():
    g = ComputationalGraph()
    g.input("x")
    g.add(G.Add(), "x", "b", name="a")
    g.add(G.Exp(), "a", name="b")
    with pytest.raises(ValueError, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        g.forward(x=1.0)


def test_an_input_no_node_has_is_named():
    g = ComputationalGraph()
    g.input("x")
    g.add(G.Add(), "x", "typo", name="f")
    with pytest.raises(ValueError, match=r"f \(Add\) takes input 'typo', but no node is named 'typo'"):
        g.forward(x=1.0)


@pytest.mark.parametrize("feeds, pattern", [
    ({"x": 1.0, "y": 2.0}, r"missing feed for input\(s\) \['z'\]"),
    ({"x": 1.0, "y": 2.0, "z": 3.0, "w": 4.0}, "no node is named 'w'"),
    ({"x": 1.0, "y": 2.0, "z": 3.0, "q": 4.0}, "'q' is a gate, not an input"),
])
def test_missing_and_unknown_feeds_are_named(feeds, pattern):
    with pytest.raises(ValueError, match=pattern):
        seed_graph().forward(**feeds)


def test_a_gate_shape_error_names_the_node():
    g = ComputationalGraph()
    x = g.input("x")
    g.add(G.Affine(), x, g.param("W", np.ones((4, 3))), g.param("b", np.zeros(3)), name="layer1")
    with pytest.raises(ValueError, match=r"^layer1 \(Affine\): x has shape \(2, 5\) but W has shape \(4, 3\)"):
        g.forward(x=np.ones((2, 5)))


def test_names_are_unique_defaults_come_from_the_class_and_output_is_reserved():
    g = ComputationalGraph()
    g.input("x")
    assert g.add(G.Exp(), "x").name == "Exp_1"
    assert g.add(G.Exp(), "x").name == "Exp_2"
    with pytest.raises(ValueError, match="'x' exists already"):
        g.input("x")
    with pytest.raises(ValueError, match="'output' is reserved"):
        g.input("output")


def test_a_gate_instance_sits_in_one_node_only():
    g = ComputationalGraph()
    g.input("x")
    gate = G.Exp()
    g.add(gate, "x", name="first")
    with pytest.raises(ValueError, match="already sits in node 'first'"):
        g.add(gate, "first")


def test_backward_before_forward_and_after_a_failed_forward_is_a_runtime_error():
    g = seed_graph()
    with pytest.raises(RuntimeError, match="forward pass first"):
        g.backward()
    with pytest.raises(ValueError):
        g.forward(x=1.0, y=2.0)
    with pytest.raises(RuntimeError, match="forward pass first"):
        g.backward()


def test_backward_can_run_again_and_recomputes_rather_than_accumulates():
    g = seed_graph()
    g.forward(x=-2.0, y=5.0, z=-4.0)
    first = g.backward()
    assert g.backward() == first
    assert g.backward(dout=2.0) == {"x": -8.0, "y": -8.0, "z": 6.0}


def test_a_wrong_gradient_shape_is_blamed_on_its_gate():
    class Broken(G.Gate):
        def forward(self, x):
            return x * 2

        def backward(self, dout):
            return dout.sum(axis=0)

    g = ComputationalGraph()
    g.add(Broken(), "x", name="broken")
    g.input("x")
    g.forward(x=np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"broken \(Broken\): backward returned a gradient of shape \(3,\) "
                                         r"for input 'x' of shape \(2, 3\)"):
        g.backward()


def test_a_wrong_gradient_dtype_is_blamed_on_its_gate():
    class Upcasting(G.Gate):
        def forward(self, x):
            return x * 2

        def backward(self, dout):
            return dout.astype(np.float64) * 2

    g = ComputationalGraph()
    g.input("x")
    g.add(Upcasting(), "x", name="up")
    g.forward(x=np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"up \(Upcasting\): backward returned a float64 gradient"):
        g.backward()


def test_failed_forward_and_backward_leave_params_untouched_and_the_graph_usable(rng):
    g = ComputationalGraph()
    x, W = g.input("x"), g.param("W", rng.standard_normal((3, 2)))
    g.add(G.Sum(), g.add(G.MatMul(), x, W, name="mm"), name="total")
    before = g.params["W"].copy()
    with pytest.raises(ValueError):
        g.forward(x=np.ones((4, 5)))
    with pytest.raises(ValueError, match="dout has shape"):
        g.forward(x=np.ones((4, 3)))
        g.backward(dout=np.ones(3))
    np.testing.assert_array_equal(g.params["W"], before)
    g.forward(x=np.ones((4, 3)))
    np.testing.assert_allclose(g.backward()["W"], np.full((3, 2), 4.0))


def test_params_are_the_arrays_optimizers_update(rng):
    g = ComputationalGraph()
    value = rng.standard_normal(3)
    g.param("w", value)
    assert g.params["w"] is value


def test_train_and_eval_set_every_gate():
    g = ComputationalGraph()
    g.input("x")
    drop = G.Dropout(0.5)
    bn_gate = G.BatchNorm()
    g.add(drop, "x")
    g.add(bn_gate, "Dropout_1", g.param("gamma", np.ones(2)), g.param("beta", np.zeros(2)))
    g.eval()
    assert not drop.training and not bn_gate.training
    g.train()
    assert drop.training and bn_gate.training


def test_explain_reads_downstream_equals_local_times_upstream():
    g = seed_graph()
    g.forward(x=-2.0, y=5.0, z=-4.0)
    g.backward()
    table = g.explain()
    assert [row["node"] for row in table.rows] == ["f", "q"]
    text = str(table)
    assert "d/dq=-4, d/dz=3" in text and "x: -4, y: -4" in text
    assert "upstream" in text.splitlines()[0]


def test_explain_shows_shapes_and_norms_for_arrays(rng):
    g = ComputationalGraph()
    g.add(G.Sum(), g.add(G.ReLU(), "x", name="relu"), name="total")
    g.input("x")
    g.forward(x=np.array([[3.0, -4.0]]))
    g.backward()
    assert "(1, 2) |.|=5" in str(g.explain())


def test_to_dot_carries_values_and_gradients_on_edges():
    g = seed_graph()
    assert "->" in g.to_dot() and "label=<" not in g.to_dot()   # nothing computed yet
    g.forward(x=-2.0, y=5.0, z=-4.0)
    g.backward()
    dot = g.to_dot()
    assert dot.startswith("digraph")
    assert '"x" -> "q" [label=<-2<br/><font color="red">-4</font>>]' in dot
    assert '"z" -> "f" [label=<-4<br/><font color="red">3</font>>]' in dot


def test_the_picture_renders_or_says_what_to_install(tmp_path, monkeypatch):
    g = seed_graph()
    g.forward(x=-2.0, y=5.0, z=-4.0)
    g.backward()
    if shutil.which("dot"):
        svg = g.draw()
        assert b"<svg" in svg and b"-12" in svg
        assert "image/svg+xml" in g._repr_mimebundle_()
    monkeypatch.setenv("PATH", str(tmp_path))     # as on a machine without Graphviz
    bundle = g._repr_mimebundle_()
    assert "apt-get install graphviz" in bundle["text/plain"] and "digraph" in bundle["text/plain"]
    with pytest.raises(RuntimeError, match="install"):
        g.draw()


# --- save and load ---------------------------------------------------------------------

def two_params(rng):
    g = ComputationalGraph()
    g.param("W", rng.standard_normal((3, 2)))
    g.param("b", rng.standard_normal(2))
    return g


def test_save_and_load_round_trip_into_the_same_arrays(rng, tmp_path):
    g = two_params(rng)
    path = tmp_path / "params.npz"
    g.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["params.npz"]   # no temporary left behind
    assert path.stat().st_mode & 0o644 == 0o644                      # readable as any file written
    saved = {k: v.copy() for k, v in g.params.items()}
    W = g.params["W"]
    W[...] = 0
    g.load(path)
    assert g.params["W"] is W
    np.testing.assert_array_equal(W, saved["W"])


def test_save_writes_exactly_the_given_path(rng, tmp_path):
    two_params(rng).save(tmp_path / "weights.bin")
    assert (tmp_path / "weights.bin").exists() and not (tmp_path / "weights.bin.npz").exists()


@pytest.mark.parametrize("arrays, pattern", [
    ({"W": np.zeros((3, 2))}, r"missing params \['b'\]"),
    ({"W": np.zeros((3, 2)), "b": np.zeros(2), "c": np.zeros(1)}, r"unknown params \['c'\]"),
    ({"W": np.zeros((2, 3)), "b": np.zeros(2)}, r"W: \(2, 3\) in the file, \(3, 2\) in the graph"),
])
def test_load_refuses_mismatches_and_changes_nothing(rng, tmp_path, arrays, pattern):
    g = two_params(rng)
    before = {k: v.copy() for k, v in g.params.items()}
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=pattern):
        g.load(path)
    for name, value in before.items():
        np.testing.assert_array_equal(g.params[name], value)


def test_load_refuses_pickles(rng, tmp_path):
    g = two_params(rng)
    path = tmp_path / "pickled.npz"
    np.savez(path, W=np.array([{"evil": 1}], dtype=object), b=np.zeros(2))
    with pytest.raises(ValueError, match="pickle"):
        g.load(path)


# --- whole graphs against centred differences ----------------------------------------------------

def test_check_graph_on_a_two_layer_net_with_dropout(rng):
    g = ComputationalGraph()
    x, y = g.input("x"), g.input("y")
    h = g.add(G.Affine(), x, g.param("W1", rng.standard_normal((4, 5))), g.param("b1", np.zeros(5)))
    h = g.add(G.Tanh(), h)
    h = g.add(G.Dropout(0.3, seed=1), h)
    s = g.add(G.Affine(), h, g.param("W2", rng.standard_normal((5, 3))), g.param("b2", np.zeros(3)))
    g.add(SoftmaxWithLoss(), s, y)
    errors = check_graph(g, x=rng.standard_normal((6, 4)), y=rng.integers(0, 3, 6))
    assert set(errors) == {"x", "y", "W1", "b1", "W2", "b2"} and errors["y"] is None


UNARY = [G.Tanh, G.Sigmoid, G.Square, G.Exp]
BINARY = [G.Add, G.Subtract, G.Multiply]


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_random_graphs_pass_check_graph(data):
    """Random DAGs of elementwise gates over shared inputs and params, reduced to a scalar."""
    seed = data.draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    g = ComputationalGraph()
    names = [g.input("a").name, g.input("b").name, g.param("p", rng.uniform(-1, 1, (2, 3))).name]
    for _ in range(data.draw(st.integers(1, 8))):
        if data.draw(st.booleans()):
            gate = data.draw(st.sampled_from(UNARY))
            names.append(g.add(gate(), data.draw(st.sampled_from(names))).name)
        else:
            gate = data.draw(st.sampled_from(BINARY))
            names.append(g.add(gate(), data.draw(st.sampled_from(names)), data.draw(st.sampled_from(names))).name)
    g.add(G.Sum(), names[-1], name="total")
    feeds = {"a": rng.uniform(-1, 1, (2, 3)), "b": rng.uniform(-1, 1, (3,))}
    errors = check_graph(g, **feeds)
    assert set(errors) == {"a", "b", "p"}


def test_training_backward_skips_input_gradients_and_lets_gate_gradients_go(rng):
    g = ComputationalGraph()
    x, y = g.input("x"), g.input("y")
    h = g.add(G.Affine(), x, g.param("W1", rng.standard_normal((4, 5))), g.param("b1", np.zeros(5)), name="h")
    s = g.add(G.Affine(), g.add(G.ReLU(), h), g.param("W2", rng.standard_normal((5, 3))), g.param("b2", np.zeros(3)))
    g.add(SoftmaxWithLoss(), s, y)
    feeds = {"x": rng.standard_normal((6, 4)), "y": rng.integers(0, 3, 6)}
    g.forward(**feeds)
    full = g.backward()
    g.forward(**feeds)
    lean = g.backward(inputs=False, keep=False)
    assert full["x"] is not None and lean["x"] is None
    for name in g.params:
        np.testing.assert_array_equal(lean[name], full[name])
    with pytest.raises(RuntimeError, match="keep=False"):
        g.grad("h")
    with pytest.raises(RuntimeError, match="keep=True"):
        g.explain()
    np.testing.assert_array_equal(g.grad("W1"), full["W1"])


def test_gradients_of_the_last_step_are_released_when_the_next_forward_starts():
    g = seed_graph()
    g.forward(x=-2.0, y=5.0, z=-4.0)
    g.backward()
    g.forward(x=1.0, y=1.0, z=1.0)
    assert g.grads == {}
    with pytest.raises(RuntimeError, match="run backward first"):
        g.grad("q")
