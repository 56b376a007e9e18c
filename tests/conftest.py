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
