"""Every built-in gate with inputs to check it on, a plain-numpy reference, and what else tests need.

One list drives ``gategraph check`` and the parametrised tests (``losses.catalogue``
holds the losses' list): adding a gate means adding a line here. Each input is drawn from a named domain, chosen
away from kinks (ReLU at 0, ties of Max and MaxPool2D) where centred
differences would straddle one.
"""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import gates as G


def draw(rng, shape, domain):
    """An input of ``shape`` from ``domain``: normal, positive, nonzero, distinct, labels:C, signs, zeros."""
    if domain == "normal":
        return rng.standard_normal(shape)
    if domain == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "nonzero":       # |x| >= 0.1: away from ReLU's kink
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 2.0, shape)
    if domain == "grid":          # multiples of 0.5: ties with "offgrid" impossible
        return rng.integers(-4, 5, shape) * 0.5
    if domain == "offgrid":
        return rng.integers(-4, 4, shape) * 0.5 + 0.25
    if domain == "distinct":      # all values differ by >= 0.05: no ties inside pooling windows
        return rng.permutation(int(np.prod(shape, dtype=int))).reshape(shape) * 0.05 - 1.0
    if domain.startswith("labels:"):
        return rng.integers(0, int(domain[7:]), shape)
    if domain == "signs":
        return rng.choice([-1, 1], shape)
    raise ValueError(f"unknown input domain {domain!r}")


@dataclass(frozen=True)
class ErrorInput:
    """Inputs a gate must refuse: ``make()`` (or the spec's gate) run on ``inputs`` raises ``error``
    with a message matching the regular expression ``match``."""

    inputs: tuple
    match: str
    error: type = ValueError
    make: Callable = None


@dataclass(frozen=True)
class GateSpec:
    """A gate to check: how to make it, its input shapes and domains, and what forward must give."""

    make: Callable
    shapes: tuple
    domains: tuple
    reference: Callable = None    # plain numpy forward; None for a random forward (Dropout)
    label: str = ""
    torch: Callable = None        # torch_reference(torch, *tensors) -> tensor, the second oracle
    errors: tuple = ()            # ErrorInput cases: inputs that must be refused, and how
    tags: frozenset = frozenset()  # "broadcasting", "kinks", "random", "loss"

    @property
    def name(self):
        """The label, or the gate's repr with its hyperparameters: ``Power(p=3)``."""
        return self.label or repr(self.make())

    @property
    def id(self):
        return f"{self.name}{list(self.shapes)}".replace(" ", "")

    def inputs(self, seed=0, dtype=np.float64):
        """The inputs, float ones in ``dtype``, drawn with ``seed``."""
        rng = np.random.default_rng(seed)
        drawn = [draw(rng, shape, domain) for shape, domain in zip(self.shapes, self.domains)]
        return tuple(x.astype(dtype) if np.issubdtype(x.dtype, np.floating) else x for x in drawn)


def _binary(gate, op, domains=("normal", "normal")):
    shapes = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), (3, 4)), ((2, 3, 4), (3, 1))]
    return [GateSpec(gate, s, domains, op) for s in shapes]


def _unary(gate, op, domain="normal", shapes=((3, 4), (2, 3, 4), ())):
    return [GateSpec(gate, (s,), (domain,), op) for s in shapes]


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _conv(x, W, b, stride, pad):
    """Cross-correlation written out over output pixels: slow and obviously right."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    F, _, HH, WW = W.shape
    Ho, Wo = (x.shape[2] - HH) // stride + 1, (x.shape[3] - WW) // stride + 1
    out = np.empty((x.shape[0], F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            patch = x[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            out[:, :, i, j] = np.tensordot(patch, W, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def _pool(x, size, stride):
    Ho, Wo = (x.shape[2] - size) // stride + 1, (x.shape[3] - size) // stride + 1
    return np.array([[x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(2, 3))
                      for j in range(Wo)] for i in range(Ho)]).transpose(2, 3, 0, 1)


def _batchnorm(x, gamma, beta, eps=1e-5):
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    xhat = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    return xhat * gamma.reshape(shape) + beta.reshape(shape)


GATES = [
    *_binary(G.Add, np.add),
    *_binary(G.Subtract, np.subtract),
    *_binary(G.Multiply, np.multiply),
    *_binary(G.Divide, np.divide, ("normal", "positive")),
    *_binary(G.Max, np.maximum, ("grid", "offgrid")),
    *_unary(G.Square, np.square),
    *_unary(lambda: G.Power(3), lambda x: x ** 3),
    *_unary(lambda: G.Power(0.5), np.sqrt, "positive"),
    *_unary(G.Exp, np.exp),
    *_unary(G.Log, np.log, "positive"),
    *_unary(G.Sigmoid, _sigmoid),
    *_unary(G.Tanh, np.tanh),
    *_unary(G.ReLU, lambda x: np.maximum(x, 0), "nonzero"),
    GateSpec(G.MatMul, ((3, 4), (4, 5)), ("normal", "normal"), np.matmul),
    GateSpec(G.Sum, ((3, 4),), ("normal",), np.sum),
    GateSpec(lambda: G.Sum(axis=1), ((3, 4),), ("normal",), lambda x: x.sum(axis=1)),
    GateSpec(lambda: G.Sum(axis=0, keepdims=True), ((3, 4),), ("normal",),
             lambda x: x.sum(axis=0, keepdims=True)),
    GateSpec(lambda: G.Repeat(3), ((4,),), ("normal",), lambda x: np.stack([x] * 3)),
    GateSpec(lambda: G.Repeat(2, axis=1), ((3, 4),), ("normal",), lambda x: np.stack([x] * 2, axis=1)),
    GateSpec(G.Affine, ((5, 4), (4, 3), (3,)), ("normal",) * 3, lambda x, W, b: x @ W + b),
    GateSpec(G.Affine, ((2, 3, 2, 2), (12, 5), (5,)), ("normal",) * 3,
             lambda x, W, b: x.reshape(2, -1) @ W + b),
    GateSpec(G.Flatten, ((2, 3, 4),), ("normal",), lambda x: x.reshape(2, 12)),
    GateSpec(lambda: G.Reshape((4, -1)), ((2, 3, 4),), ("normal",), lambda x: x.reshape(4, 6)),
    GateSpec(lambda: G.Dropout(0.3, seed=0), ((6, 5),), ("normal",)),
    GateSpec(G.BatchNorm, ((8, 5), (5,), (5,)), ("normal",) * 3, _batchnorm),
    GateSpec(G.BatchNorm, ((4, 3, 3, 2), (3,), (3,)), ("normal",) * 3, _batchnorm, "BatchNorm(spatial)"),
    GateSpec(G.Conv2D, ((2, 3, 5, 5), (4, 3, 3, 3), (4,)), ("normal",) * 3,
             lambda x, W, b: _conv(x, W, b, 1, 0)),
    GateSpec(lambda: G.Conv2D(stride=2, pad=1), ((2, 2, 5, 5), (3, 2, 3, 3), (3,)), ("normal",) * 3,
             lambda x, W, b: _conv(x, W, b, 2, 1), "Conv2D(stride=2,pad=1)"),
    GateSpec(lambda: G.Conv2D(pad=1), ((2, 2, 4, 4), (3, 2, 2, 2), (3,)), ("normal",) * 3,
             lambda x, W, b: _conv(x, W, b, 1, 1), "Conv2D(pad=1,2x2)"),
    GateSpec(G.MaxPool2D, ((2, 3, 4, 4),), ("distinct",), lambda x: _pool(x, 2, 2)),
    GateSpec(G.MaxPool2D, ((1, 2, 5, 5),), ("distinct",), lambda x: _pool(x, 2, 2), "MaxPool2D(untiled)"),
    GateSpec(lambda: G.MaxPool2D(size=3, stride=1), ((2, 2, 5, 5),), ("distinct",),
             lambda x: _pool(x, 3, 1), "MaxPool2D(size=3,stride=1)"),
]
