"""Graphs written as formulas: node operators add the matching gates."""
import numpy as np
import pytest

import gates as G
from gates.check import check_graph
from graph import ComputationalGraph


def test_the_seed_circuit_as_a_formula_equals_the_add_form():
    g = ComputationalGraph()
    x, y, z = g.input("x"), g.input("y"), g.input("z")
    f = ((x + y).named("q") * z).named("f")
    h = ComputationalGraph()
    q = h.add(G.Add(), h.input("x"), h.input("y"), name="q")
    h.add(G.Multiply(), q, h.input("z"), name="f")
    feeds = {"x": -2.0, "y": 5.0, "z": -4.0}
    assert g.forward(**feeds) == h.forward(**feeds) == -12.0
    assert g.backward() == h.backward() == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert (g.value("q"), g.grad("q")) == (3.0, -4.0) and f.name == "f"
    assert str(g.explain()) == str(h.explain())


def test_squared_error_reads_as_written_and_gives_dl_dw_minus_16():
    g = ComputationalGraph()
    w, x, b, y = (g.input(n) for n in "wxby")
    L = ((w * x + b - y) ** 2).named("L")
    assert g.forward(w=1.0, x=4.0, b=-3.0, y=3.0) == 4.0
    grads = g.backward()
    assert grads == {"w": -16.0, "x": -4.0, "b": -4.0, "y": 4.0}
    assert isinstance(L.gate, G.Power) and L.gate.p == 2


def test_numbers_and_arrays_on_either_side_become_constants_absent_from_backward():
    g = ComputationalGraph()
    x = g.input("x")
    out = (2 * x + (1 - x) / 4 - np.array([1.0, 2.0]) + x @ np.eye(2) - (-x)).named("out")
    value = g.forward(x=np.array([3.0, 5.0]))
    np.testing.assert_allclose(value, 2 * np.array([3.0, 5.0]) + (1 - np.array([3.0, 5.0])) / 4
                               - np.array([1.0, 2.0]) + np.array([3.0, 5.0]) * 2)
    grads = g.backward()
    assert set(grads) == {"x"}
    np.testing.assert_allclose(grads["x"], [2 - 0.25 + 1 + 1] * 2)
    consts = [n for n in g.nodes if n.kind == "const"]
    assert consts and all(n.name.startswith("const_") for n in consts)
    assert out.name == "out"


def test_an_array_on_the_left_defers_to_the_node():
    g = ComputationalGraph()
    x = g.input("x")
    node = np.ones(3) * x
    assert node.kind == "gate" and isinstance(node.gate, G.Multiply)
    np.testing.assert_array_equal(g.forward(x=np.arange(3.0)), [0, 1, 2])


def test_expression_graphs_work_with_check_graph_explain_draw_and_the_player():
    g = ComputationalGraph()
    w, x = g.input("w"), g.input("x")
    (((w * x).named("wx") + w) ** 3).named("L")
    feeds = {"w": np.array([0.5, -1.5]), "x": np.array([2.0, 0.7])}
    g.forward(**feeds)
    g.backward()
    assert "wx" in str(g.explain()) and '"wx" -> "Add_1"' in g.to_dot()
    assert {s["kind"] for s in g.step_through().steps} == {"forward", "backward", "sum"}
    ((g.node("L") * 1.0).named("scaled"))       # a scalar output for check_graph
    g.add(G.Sum(), "scaled", name="total")
    assert set(check_graph(g, **feeds)) == {"w", "x"}


def test_operators_between_two_graphs_and_node_exponents_are_refused():
    g, h = ComputationalGraph(), ComputationalGraph()
    x, y = g.input("x"), h.input("y")
    with pytest.raises(ValueError, match="'y' belongs to another graph"):
        x + y
    with pytest.raises(TypeError, match="exponent must be a number"):
        x ** x


def test_named_renames_everywhere_and_refuses_a_taken_name():
    g = ComputationalGraph()
    x = g.input("x")
    s = (x * 3.0)
    (s + 1.0).named("t")
    s.named("s")
    assert g.node("t").input_names[0] == "s"
    assert g.forward(x=2.0) == 7.0 and g.output_name == "t"
    with pytest.raises(ValueError, match="'t' exists already"):
        s.named("t")
    x.named("input")
    assert g.forward(input=1.0) == 4.0
    assert g.backward() == {"input": 3.0}


def test_python_numbers_keep_float32_graphs_float32():
    g = ComputationalGraph()
    x = g.input("x")
    ((x * 0.5 + 2) / 3 - 1).named("out")
    out = g.forward(x=np.ones(3, np.float32))
    assert out.dtype == np.float32 and g.backward()["x"].dtype == np.float32
