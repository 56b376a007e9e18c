"""Diagnosing a wrong gradient: each classic mistake, planted in a gate, is named by its kind; right
gradients pass and wrong gradients of no pattern are never given a pattern's name."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gates as G
from gates.check import GradientMismatch, check_gate, check_graph, diagnose
from graph import ComputationalGraph
from graph.cli import main


class NoUnbroadcast(G.Add):
    def backward(self, dout):
        return dout, dout                      # b was broadcast in forward: its gradient is not summed back


class Forgetful(G.Sigmoid):
    def backward(self, dout):
        return np.zeros_like(dout)


class PassesUpstream(G.Multiply):
    def backward(self, dout):
        return dout, dout


class Swapped(G.Multiply):
    def backward(self, dout):
        return dout * self.a, dout * self.b


class WrongSign(G.Sigmoid):
    def backward(self, dout):
        return -dout * self.out * (1 - self.out)


class SumNotMean(G.Gate):
    """The mean over the batch of the squares; its backward forgot to divide by the batch size."""

    def forward(self, x):
        self.x = x
        return np.sum(x * x) / x.shape[0]

    def backward(self, dout):
        return 2 * self.x * dout


class Transposed(G.MatMul):
    def backward(self, dout):
        return (self.b @ dout.T), self.a.T @ dout     # da should be dout @ b.T


class MaskOnTheWrongSide(G.ReLU):
    def forward(self, x):
        self.x = x
        return super().forward(x)

    def backward(self, dout):
        return dout * (self.x < 0)


class WrongSlope(G.LeakyReLU):
    def forward(self, x):
        self.x = x
        return super().forward(x)

    def backward(self, dout):
        return dout * np.where(self.x > 0, 1.0, 0.5)   # the negative side's slope is 0.1, not 0.5


def _nonzero(rng, shape):
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 2.0, shape)


PLANTED = [
    ("shape", NoUnbroadcast, lambda r: (r.standard_normal((3, 4)), r.standard_normal(4)), 1,
     r"shape \(3, 4\) but the input has shape \(4,\).*sum its gradient over axes \(0,\)"),
    ("zero", Forgetful, lambda r: (r.standard_normal((3, 4)),), 0, r"all zeros"),
    ("upstream", PassesUpstream, lambda r: (r.standard_normal((3, 4)), r.standard_normal((3, 4))), 0,
     r"equals the upstream gradient"),
    ("swapped", Swapped, lambda r: (r.standard_normal((3, 4)), r.standard_normal((3, 4))), 0,
     r"input 1's: the two inputs' local gradients are exchanged"),
    ("sign", WrongSign, lambda r: (r.standard_normal((3, 4)),), 0, r"wrong sign"),
    ("scale", SumNotMean, lambda r: (r.standard_normal((5, 3)),), 0, r"5 times too large: 5 is the batch size"),
    ("transpose", Transposed, lambda r: (r.standard_normal((3, 3)), r.standard_normal((3, 3))), 0,
     r"transpose of the right one"),
    ("partial", MaskOnTheWrongSide, lambda r: (_nonzero(r, (3, 4)),), 0,
     r"mask is on the wrong side of the kink, the gradient passes where x < 0"),
    ("partial", WrongSlope, lambda r: (_nonzero(r, (4, 5)),), 0, r"elements are wrong, exactly where x < 0"),
]


@pytest.mark.parametrize("kind, gate, make_inputs, index, hint", PLANTED, ids=[p[1].__name__ for p in PLANTED])
def test_each_planted_mistake_is_diagnosed_by_its_kind(kind, gate, make_inputs, index, hint):
    inputs = make_inputs(np.random.default_rng(0))
    with pytest.raises(GradientMismatch) as raised:
        check_gate(gate(), *inputs)
    error = raised.value
    assert isinstance(error, AssertionError)
    assert (error.gate, error.input, error.kind) == (gate.__name__, index, kind)
    assert __import__("re").search(hint, error.hint), error.hint
    last = str(error).splitlines()[-1]
    assert last == f"{kind}: {error.hint}"
    assert f"{gate.__name__}, input {index}" in str(error).splitlines()[0]     # what it said before stays


@pytest.mark.parametrize("n, hint", [(4, r"4 times too small: 4 is the batch size, so a sum was differentiated as "
                                         r"a mean"), (1, r"0.5 times the right one")])
def test_a_scale_names_the_batch_size_only_when_it_is_the_factor(n, hint):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3))
    numeric = 2 * x
    kind, text = diagnose(numeric / (4 if n == 4 else 2), numeric, [x], None, 0)
    assert kind == "scale" and __import__("re").search(hint, text)


def test_diagnose_on_arrays_directly():
    rng = np.random.default_rng(2)
    x, n, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert diagnose(-n, n, [x], dout, 0)[0] == "sign"
    assert diagnose(dout, n, [x], dout, 0)[0] == "upstream"
    assert diagnose(n[None], n, [x], dout, 0)[0] == "shape"
    assert diagnose(n.T, n, [x], dout, 0) == ("shape", diagnose(n.T, n, [x], dout, 0)[1])
    assert "transpose" in diagnose(n.T, n, [x], dout, 0)[1]
    other = rng.standard_normal((3, 4))
    assert diagnose(other, n, [x, x], dout, 0, others={1: other})[0] == "swapped"


RIGHT = [(G.Multiply, ((3, 4), (4,))), (G.Sigmoid, ((3, 4),)), (G.MatMul, ((3, 3), (3, 3))), (G.Tanh, ((2, 5),))]


@pytest.mark.parametrize("gate, shapes", RIGHT, ids=[g.__name__ for g, _ in RIGHT])
def test_right_gates_pass(gate, shapes):
    rng = np.random.default_rng(3)
    check_gate(gate(), *(rng.standard_normal(s) for s in shapes))


class RandomlyWrong(G.Gate):
    """A gradient of no pattern: random numbers of the right shape."""

    def __init__(self, seed, kind):
        self.seed, self.kind = seed, kind

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b + a

    def backward(self, dout):
        rng = np.random.default_rng([self.seed, 7])     # never check_gate's own dout (seed 0)
        right = dout * (self.b + 1)
        if self.kind == "noise":                 # the right gradient with noise on every element
            return right + rng.uniform(0.5, 1.5, right.shape) * rng.choice([-1, 1], right.shape), dout * self.a
        if self.kind == "mixed":                 # one element right is no pattern: the others share none
            wrong = rng.standard_normal(right.shape) * 3
            return wrong, dout * self.a
        return rng.standard_normal(right.shape), dout * self.a


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 20), kind=st.sampled_from(["random", "noise", "mixed"]),
       rows=st.integers(1, 5), cols=st.integers(2, 5))
def test_a_wrong_gradient_of_no_pattern_is_never_given_a_patterns_name(seed, kind, rows, cols):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((rows, cols)), rng.standard_normal((rows, cols))
    with pytest.raises(GradientMismatch) as raised:
        check_gate(RandomlyWrong(seed, kind), a, b)
    assert raised.value.kind is None and raised.value.input == 0
    assert str(raised.value).splitlines()[-1].startswith("no known pattern: no known mistake fits; the worst")


def test_check_graph_diagnoses_by_leaf_name(rng):
    g = ComputationalGraph()
    x, w = g.input("x"), g.param("w", rng.standard_normal(4))
    g.add(G.Sum(), g.add(WrongSign(), g.add(G.Multiply(), x, w)))
    with pytest.raises(GradientMismatch) as raised:
        check_graph(g, x=rng.standard_normal((3, 4)))
    assert (raised.value.gate, raised.value.input, raised.value.kind) == ("graph", "x", "sign")


def test_gategraph_check_prints_the_diagnosis(tmp_path, monkeypatch, capsys):
    (tmp_path / "student.py").write_text(
        "import numpy as np\nfrom gates import Gate\n\n"
        "class MyMultiply(Gate):\n"
        "    def forward(self, a, b):\n        self.a, self.b = a, b\n        return a * b\n\n"
        "    def backward(self, dout):\n        return dout * self.a, dout * self.b\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["check", "student:MyMultiply", "--shape", "3,4", "--shape", "3,4"]) == 1
    err = capsys.readouterr().err
    assert "swapped: the gradient is input 1's" in err
