"""The step-through player's steps and page, without a browser (test_player_browser.py drives one)."""
import json
import re
import shutil

import numpy as np
import pytest

import gates as G
from graph import ComputationalGraph, layout
from graph.training.networks import mlp
from losses import SoftmaxWithLoss


def steps_of(player, kind):
    return [s for s in player.steps if s["kind"] == kind]


def test_forward_steps_follow_the_topological_order_and_carry_the_values(seed_graph):
    g = seed_graph
    player = g.step_through()
    forward = steps_of(player, "forward")
    assert [s["node"] for s in forward] == [n.name for n in g.nodes_topologically_sorted() if n.kind == "gate"]
    q = forward[0]
    assert [(i["name"], i["value"]["scalar"]) for i in q["inputs"]] == [("x", -2.0), ("y", 5.0)]
    assert q["output"]["scalar"] == g.value("q") == 3.0


def test_backward_steps_run_from_the_output_with_upstream_local_and_downstream(seed_graph):
    g = seed_graph
    player = g.step_through()
    backward = steps_of(player, "backward")
    assert [s["node"] for s in backward] == ["f", "q"]
    assert player.steps.index(backward[0]) == 2          # after both forward steps
    f, q = backward
    assert f["upstream"]["scalar"] == 1.0 and q["upstream"]["scalar"] == g.grad("q") == -4.0
    assert {d["to"]: d["grad"]["scalar"] for d in q["downstream"]} == {"x": -4.0, "y": -4.0}
    assert "distributor" in q["rule"] and "d/dx=1" in q["rule"]
    assert not steps_of(player, "sum")


def test_a_node_feeding_several_gates_gets_a_sum_step_after_its_last_part(branch_graph):
    g = branch_graph
    player = g.step_through()
    sums = steps_of(player, "sum")
    assert [s["node"] for s in sums] == ["a"]
    parts = {p["from"]: p["grad"]["scalar"] for p in sums[0]["parts"]}
    assert parts == {"e": 8.0, "d": 2.0, "c": 6.0}
    assert sums[0]["total"]["scalar"] == sum(parts.values()) == g.grad("a") == 16.0
    assert player.steps[-1] is sums[0]          # a's parts are complete only after c's backward


def test_a_gate_that_uses_one_input_twice_sums_both_parts():
    g = ComputationalGraph()
    x = g.input("x")
    (x * x).named("square")
    g.forward(x=3.0)
    g.backward()
    (total,) = steps_of(g.step_through(), "sum")
    assert [p["from"] for p in total["parts"]] == ["square", "square"] and total["total"]["scalar"] == 6.0


def test_check_true_records_each_gate_s_numerical_check(branch_graph):
    player = branch_graph.step_through(check=True)
    assert all(s["check"]["passed"] for s in steps_of(player, "backward"))

    class WrongSquare(G.Gate):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, dout):
            return self.x * dout      # forgot the 2

    g = ComputationalGraph()
    g.add(WrongSquare(), g.input("x"), name="wrong")
    g.forward(x=np.array([1.0, 2.0]))
    g.backward()
    (step,) = steps_of(g.step_through(check=True), "backward")
    assert not step["check"]["passed"] and "WrongSquare, input 0" in step["check"]["message"]


def test_tensors_are_summarised_never_spelled_out(rng):
    g = mlp((30, 20, 4), seed=0)
    g.forward(x=rng.standard_normal((50, 30)), y=rng.integers(0, 4, 50))
    g.backward()
    player = g.step_through()
    affine = steps_of(player, "forward")[0]
    x = affine["inputs"][0]["value"]
    assert x["shape"] == [50, 30] and len(x["first"]) == 6 and len(x["heat"]) == 8 and len(x["heat"][0]) == 8
    assert x["first"] == pytest.approx(g.value("x").reshape(-1)[:6].tolist())
    assert {s["node"] for s in steps_of(player, "sum")} == set()


def test_the_player_needs_a_kept_backward(seed_graph):
    g = seed_graph
    g.forward(x=1.0, y=2.0, z=3.0)
    with pytest.raises(RuntimeError, match="run forward and backward"):
        g.step_through()
    g.backward(keep=False)
    with pytest.raises(RuntimeError, match="keep=True"):
        g.step_through()


def test_the_page_keeps_the_steps_as_json_and_loads_nothing(tmp_path, branch_graph):
    player = branch_graph.step_through()
    page = player.save(tmp_path / "player.html").read_text()
    found = re.search(r'<script type="application/json" id="gategraph-steps">(.*?)</script>', page, re.S)
    assert json.loads(found.group(1)) == player.steps
    assert not re.search(r'\b(src|href)\s*=', page)                  # no external script, style or image
    assert "default-src 'none'" in page                              # and the browser is told so
    for action in ("next", "prev", "first", "last", "play"):
        assert f'data-action="{action}"' in page


def test_names_that_look_like_markup_cannot_break_the_page():
    g = ComputationalGraph()
    x = g.input("</script><b>")
    (x * 2.0).named('a "quoted" \\name')
    g.forward(**{"</script><b>": 1.0})
    g.backward()
    page = g.step_through().html()
    assert page.count("</script>") == 3      # the two JSON blocks and the script, nothing inside them
    assert "\\u003c/script\\u003e\\u003cb\\u003e" in page and "<b>" not in page


def _json_blocks(page):
    """The page's JSON blocks as JSON.parse reads them (Python's json refuses NaN as JSON.parse does)."""
    def strict(text):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    steps = re.search(r'<script type="application/json" id="gategraph-steps">(.*?)</script>', page, re.S)
    picture = re.search(r'<script type="application/json" id="gategraph-picture">(.*?)</script>', page, re.S)
    return strict(steps.group(1)), strict(picture.group(1))


@pytest.mark.parametrize("name", ["<!--<script>", "__proto__", "a&b", "x\u2028y", "</script>", "constructor"])
def test_any_node_name_survives_the_page_as_json(name):
    g = ComputationalGraph()
    x = g.input(name)
    (x * 2.0).named("out")
    g.forward(**{name: 1.5})
    g.backward()
    page = g.step_through().html()
    assert page.count("<script") == 3 and page.count("</script>") == 3
    steps, picture = _json_blocks(page)
    assert {n["name"] for n in picture["nodes"]} == {name, "const_1", "out"}
    assert steps[0]["inputs"][0]["name"] == name


def test_nan_check_results_and_values_are_written_as_json_strings():
    g = ComputationalGraph()
    x = g.input("x")
    g.add(G.Log(), x, name="log")
    g.forward(x=np.array([1e-12, 2.0]))    # log is not finite within h of 1e-12: the check cannot pass
    g.backward()
    steps, _ = _json_blocks(g.step_through(check=True).html())
    check = [s for s in steps if s["kind"] == "backward"][0]["check"]
    assert check["passed"] is False and "numerical gradient is nan" in check["message"]


def test_inline_in_a_notebook_is_an_isolated_iframe(seed_graph):
    shown = seed_graph.step_through()._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and "&lt;script" in shown


def test_layered_layout_puts_parents_left_of_children(branch_graph):
    g = branch_graph
    order = [n.name for n in g.nodes_topologically_sorted()]
    parents = {n.name: list(n.input_names) for n in g.nodes}
    positions = layout.layered(order, parents)
    for name, ps in parents.items():
        for p in ps:
            assert positions[p][0] < positions[name][0]
    assert len(set(positions.values())) == len(positions)


def test_without_graphviz_the_player_lays_the_graph_out_itself(monkeypatch, seed_graph):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    g = seed_graph
    assert g.step_through().picture()["layout"] == "layered"
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        g.step_through(layout="graphviz").picture()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)")
def test_with_graphviz_the_player_uses_its_layout(seed_graph):
    picture = seed_graph.step_through().picture()
    assert picture["layout"] == "graphviz"
    xs = {n["name"]: n["x"] for n in picture["nodes"]}
    assert xs["x"] < xs["q"] < xs["f"]


def test_softmax_loss_graph_steps_carry_tensor_gradients(rng):
    g = ComputationalGraph()
    s = g.input("s")
    g.add(SoftmaxWithLoss(), s, g.input("y"), name="loss")
    g.forward(s=rng.standard_normal((4, 3)), y=np.array([0, 1, 2, 0]))
    g.backward()
    (step,) = steps_of(g.step_through(), "backward")
    (down,) = step["downstream"]            # labels send nothing back
    assert down["to"] == "s" and down["grad"]["shape"] == [4, 3]
    assert down["grad"]["norm"] == pytest.approx(np.linalg.norm(g.grad("s")))
