"""Weight initialisers: each takes a shape, a seed or Generator, and a dtype."""
import numpy as np


def _normal(shape, std, seed, dtype):
    return (np.random.default_rng(seed).standard_normal(shape) * std).astype(dtype)


def fan_in(shape):
    """Inputs feeding one output unit: D of an Affine W (D, M); C*HH*WW of a Conv2D W (F, C, HH, WW)."""
    return shape[0] if len(shape) == 2 else int(np.prod(shape[1:]))


def fan_out(shape):
    """Outputs fed by one input unit: M of W (D, M); F*HH*WW of W (F, C, HH, WW)."""
    return shape[1] if len(shape) == 2 else shape[0] * int(np.prod(shape[2:]))


def gaussian(shape, weight_scale=1e-2, seed=None, dtype=np.float64):
    """weight_scale * randn(shape), CS231n's plain initialiser."""
    return _normal(shape, weight_scale, seed, dtype)


def he(shape, seed=None, dtype=np.float64):
    """He et al. (2015), for ReLU layers: randn * sqrt(2 / fan_in)."""
    return _normal(shape, np.sqrt(2.0 / fan_in(shape)), seed, dtype)


def lecun(shape, seed=None, dtype=np.float64):
    """LeCun et al. (1998), PyTorch's scale for linear and recurrent weights: randn * sqrt(1 / fan_in)."""
    return _normal(shape, np.sqrt(1.0 / fan_in(shape)), seed, dtype)


def xavier(shape, seed=None, dtype=np.float64):
    """Glorot and Bengio (2010), for tanh and sigmoid layers: randn * sqrt(2 / (fan_in + fan_out))."""
    return _normal(shape, np.sqrt(2.0 / (fan_in(shape) + fan_out(shape))), seed, dtype)


INITIALISERS = {"he": he, "xavier": xavier, "lecun": lecun}
