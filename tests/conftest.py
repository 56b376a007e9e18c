import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def torch():
    """PyTorch in float64 as a second oracle; the tests that use it skip cleanly without it."""
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)
    return torch


@pytest.fixture
def seed_graph():
    """f = (x + y) z at x=-2, y=5, z=-4, forward and backward run: the lecture's first figure."""
    from graph import ComputationalGraph
    g = ComputationalGraph()
    x, y, z = g.input("x"), g.input("y"), g.input("z")
    ((x + y).named("q") * z).named("f")
    g.forward(x=-2.0, y=5.0, z=-4.0)
    g.backward()
    return g


@pytest.fixture
def branch_graph():
    """e = (a + a b) a at a=2, b=3, run: a feeds three gates, so dL/da = 8 + 2 + 6 is a sum."""
    from graph import ComputationalGraph
    g = ComputationalGraph()
    a, b = g.input("a"), g.input("b")
    (((a + (a * b).named("c")).named("d")) * a).named("e")
    g.forward(a=2.0, b=3.0)
    g.backward()
    return g
