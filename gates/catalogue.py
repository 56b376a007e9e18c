"""Every built-in gate with inputs to check it on, a plain-numpy reference, and what else tests need.

One list drives ``gategraph check`` and the parametrised tests (``losses.catalogue``
holds the losses' list): adding a gate means adding a line here. An entry carries a
plain-numpy reference (the first oracle), a PyTorch reference where torch has the
operation (the second), the inputs the gate must refuse with the message they raise,
and tags. Each input is drawn from a named domain, chosen away from kinks (ReLU at 0,
ties of Max and MaxPool2D) where centred differences would straddle one.
"""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax

import gates as G
from gates import references as R


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
    if domain == "binary":
        return rng.integers(0, 2, shape)
    if domain == "small":         # weights of recurrent layers: tanh and sigmoid far from saturation
        return 0.5 * rng.standard_normal(shape)
    if domain == "padded":        # labels over 4 classes, -1 (ignore_index) padding the last positions
        y = rng.integers(0, 4, shape)
        y[..., -2:] = -1
        return y
    if domain.startswith("probs"):  # rows that sum to 1 along the last axis
        e = np.exp(rng.standard_normal(shape))
        return e / e.sum(axis=-1, keepdims=True)
    raise ValueError(f"unknown input domain {domain!r}")


class FixedLabels(G.Gate):
    """A loss with its float labels held fixed, for the numerical check: labels are data, and
    probing them off the probability simplex would (rightly) be refused."""

    def __init__(self, loss, labels):
        self.loss, self.labels = loss, labels

    def forward(self, scores):
        return self.loss.forward(scores, self.labels)

    def backward(self, dout):
        dscores, dlabels = self.loss.backward(dout)
        if dlabels is not None:
            raise AssertionError(f"{type(self.loss).__name__} returned a gradient for its labels")
        return dscores

    def __repr__(self):
        return repr(self.loss)


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
    #: "broadcasting" / "elementwise" (any shapes), "random" (no reference), "fixed-labels" (float
    #: labels that are data, not a variable: the numerical check holds them fixed)
    tags: frozenset = frozenset()

    @property
    def name(self):
        """The label, or the gate's repr with its hyperparameters: ``Power(p=3)``."""
        return self.label or repr(self.make())

    @property
    def id(self):
        return f"{self.name}{list(self.shapes)}".replace(" ", "")

    @property
    def probed(self):
        """Positions of the inputs the numerical check probes: float ones, less fixed labels."""
        fixed = {1} if "fixed-labels" in self.tags else set()
        return [i for i, d in enumerate(self.domains) if not d.startswith(("labels", "signs", "binary", "padded"))
                and i not in fixed]

    def checkable(self, seed=0):
        """(gate, inputs) to hand to ``check_gate``: fixed labels are closed over, not probed."""
        gate, inputs = self.make(), self.inputs(seed)
        if "fixed-labels" in self.tags:
            return FixedLabels(gate, inputs[1]), inputs[:1]
        return gate, inputs

    def inputs(self, seed=0, dtype=np.float64):
        """The inputs, float ones in ``dtype``, drawn with ``seed``."""
        rng = np.random.default_rng(seed)
        drawn = [draw(rng, shape, domain) for shape, domain in zip(self.shapes, self.domains)]
        return tuple(x.astype(dtype) if np.issubdtype(x.dtype, np.floating) else x for x in drawn)


def _binary(gate, op, torch, domains=("normal", "normal")):
    shapes = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), (3, 4)), ((2, 3, 4), (3, 1))]
    errors = (ErrorInput((np.ones((2, 3)), np.ones(4)), r"a has shape \(2, 3\) but b has shape \(4,\).*broadcast"),)
    return [GateSpec(gate, s, domains, op, torch=torch, tags=frozenset({"broadcasting"}),
                     errors=errors if k == 0 else ()) for k, s in enumerate(shapes)]


def _unary(gate, op, torch, domain="normal", shapes=((3, 4), (2, 3, 4), ())):
    return [GateSpec(gate, (s,), (domain,), op, torch=torch, tags=frozenset({"elementwise"})) for s in shapes]


def _conv_spec(make, shapes, stride, pad, label, transposed=False, errors=()):
    reference, torch_name = (R.conv_transpose, "conv_transpose2d") if transposed else (R.conv, "conv2d")
    return GateSpec(make, shapes, ("normal",) * 3, lambda x, W, b: reference(x, W, b, stride, pad), label,
                    torch=lambda t, x, W, b: getattr(t.nn.functional, torch_name)(x, W, b, stride=stride, padding=pad),
                    errors=errors)


def _pool_spec(kind, shape, size, stride, pad, label, domain="distinct"):
    gate, reference = (G.MaxPool2D, R.pool) if kind == "max" else (G.AvgPool2D, R.avg_pool)
    torch = (lambda t, x: t.nn.functional.max_pool2d(x, size, stride, pad)) if kind == "max" else \
        (lambda t, x: t.nn.functional.avg_pool2d(x, size, stride, pad, count_include_pad=True))
    return GateSpec(lambda: gate(size, stride, pad), (shape,), (domain,), lambda x: reference(x, size, stride, pad),
                    label, torch=torch)


GATES = [
    *_binary(G.Add, np.add, lambda t, a, b: a + b),
    *_binary(G.Subtract, np.subtract, lambda t, a, b: a - b),
    *_binary(G.Multiply, np.multiply, lambda t, a, b: a * b),
    *_binary(G.Divide, np.divide, lambda t, a, b: a / b, ("normal", "positive")),
    *_binary(G.Max, np.maximum, lambda t, a, b: t.maximum(a, b), ("grid", "offgrid")),
    *_unary(G.Square, np.square, lambda t, x: x * x),
    *_unary(lambda: G.Power(3), lambda x: x ** 3, lambda t, x: x ** 3),
    *_unary(lambda: G.Power(0.5), np.sqrt, lambda t, x: x ** 0.5, "positive"),
    *_unary(G.Exp, np.exp, lambda t, x: x.exp()),
    *_unary(G.Log, np.log, lambda t, x: x.log(), "positive"),
    *_unary(G.Sigmoid, R.sigmoid, lambda t, x: x.sigmoid()),
    *_unary(G.Tanh, np.tanh, lambda t, x: x.tanh()),
    *_unary(G.ReLU, lambda x: np.maximum(x, 0), lambda t, x: x.relu(), "nonzero"),
    *_unary(G.LeakyReLU, lambda x: np.where(x > 0, x, 0.01 * x), lambda t, x: t.nn.functional.leaky_relu(x, 0.01),
            "nonzero"),
    *_unary(lambda: G.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x),
            lambda t, x: t.nn.functional.leaky_relu(x, 0.2), "nonzero", shapes=((3, 4),)),
    *_unary(G.ELU, lambda x: np.where(x > 0, x, np.exp(x) - 1), lambda t, x: t.nn.functional.elu(x), "nonzero"),
    *_unary(lambda: G.ELU(alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1)),
            lambda t, x: t.nn.functional.elu(x, alpha=0.5), "nonzero", shapes=((3, 4),)),
    *_unary(G.GELU, R.gelu, lambda t, x: t.nn.functional.gelu(x)),
    *_unary(lambda: G.GELU(approximate="tanh"), R.gelu_tanh, lambda t, x: t.nn.functional.gelu(x, approximate="tanh")),
    *_unary(G.Abs, np.abs, lambda t, x: x.abs(), "nonzero"),
    *_unary(G.Erf, R.erf, lambda t, x: t.erf(x)),
    # offgrid values (k/2 + 1/4) never sit on the bounds, where Clip has its kinks
    *_unary(lambda: G.Clip(-0.5, 1.0), lambda x: np.clip(x, -0.5, 1.0), lambda t, x: x.clamp(-0.5, 1.0), "offgrid"),
    *_unary(lambda: G.Clip(min=0.0), lambda x: np.maximum(x, 0.0), lambda t, x: x.clamp(min=0.0), "offgrid",
            shapes=((3, 4),)),
    GateSpec(G.MatMul, ((3, 4), (4, 5)), ("normal", "normal"), np.matmul, torch=lambda t, a, b: a @ b,
             errors=(ErrorInput((np.ones((2, 5)), np.ones((4, 3))), r"a has shape \(2, 5\) but b has shape \(4, 3\)"),
                     ErrorInput((np.ones((2, 3, 4)), np.ones((3, 4, 5))), r"batch axes that broadcast"))),
    *[GateSpec(G.MatMul, shapes, ("normal", "normal"), np.matmul, torch=lambda t, a, b: a @ b)
      for shapes in [((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (2, 4, 5)), ((4,), (4, 5)),
                     ((2, 3, 4), (4,))]],
    GateSpec(G.Sum, ((3, 4),), ("normal",), np.sum, torch=lambda t, x: x.sum()),
    GateSpec(lambda: G.Sum(axis=1), ((3, 4),), ("normal",), lambda x: x.sum(axis=1), torch=lambda t, x: x.sum(1)),
    GateSpec(lambda: G.Sum(axis=0, keepdims=True), ((3, 4),), ("normal",),
             lambda x: x.sum(axis=0, keepdims=True), torch=lambda t, x: x.sum(0, keepdim=True)),
    GateSpec(G.Mean, ((3, 4),), ("normal",), np.mean, torch=lambda t, x: x.mean(),
             errors=(ErrorInput((np.ones((3, 4)),), r"x has shape \(3, 4\); axis 2 is out of its range",
                                make=lambda: G.Mean(axis=2)),)),
    GateSpec(lambda: G.Mean(axis=(0, 2), keepdims=True), ((2, 3, 4),), ("normal",),
             lambda x: x.mean(axis=(0, 2), keepdims=True), torch=lambda t, x: x.mean((0, 2), keepdim=True)),
    GateSpec(lambda: G.Mean(axis=-1), ((2, 3, 4),), ("normal",), lambda x: x.mean(axis=-1),
             torch=lambda t, x: x.mean(-1)),
    # distinct values: no ties, where R.amax has a kink (the tie rule is tested against torch apart)
    GateSpec(G.Amax, ((3, 4),), ("distinct",), R.amax, torch=lambda t, x: t.amax(x),
             errors=(ErrorInput((np.ones((0, 3)),), r"empty array has no maximum"),)),
    GateSpec(lambda: G.Amax(axis=1), ((3, 4),), ("distinct",), lambda x: R.amax(x, 1), torch=lambda t, x: t.amax(x, 1)),
    GateSpec(lambda: G.Amax(axis=(0, 2), keepdims=True), ((2, 3, 4),), ("distinct",),
             lambda x: R.amax(x, (0, 2), True), torch=lambda t, x: t.amax(x, (0, 2), keepdim=True)),
    GateSpec(lambda: G.Repeat(3), ((4,),), ("normal",), lambda x: np.stack([x] * 3),
             torch=lambda t, x: t.stack([x] * 3)),
    GateSpec(lambda: G.Repeat(2, axis=1), ((3, 4),), ("normal",), lambda x: np.stack([x] * 2, axis=1),
             torch=lambda t, x: t.stack([x] * 2, dim=1)),
    GateSpec(G.Affine, ((5, 4), (4, 3), (3,)), ("normal",) * 3, lambda x, W, b: x @ W + b,
             torch=lambda t, x, W, b: x @ W + b,
             errors=(ErrorInput((np.ones((2, 5)), np.ones((4, 3)), np.ones(3)),
                                r"x has shape \(2, 5\) but W has shape \(4, 3\); "
                                r"expected x.shape\[1\] == W.shape\[0\]"),
                     ErrorInput((np.ones((2, 4)), np.ones((4, 3)), np.ones(2)), r"b has shape \(2,\)"))),
    GateSpec(G.Affine, ((2, 3, 2, 2), (12, 5), (5,)), ("normal",) * 3,
             lambda x, W, b: x.reshape(2, -1) @ W + b, torch=lambda t, x, W, b: x.reshape(2, -1) @ W + b),
    GateSpec(G.Flatten, ((2, 3, 4),), ("normal",), lambda x: x.reshape(2, 12), torch=lambda t, x: x.reshape(2, 12)),
    GateSpec(lambda: G.Reshape((4, -1)), ((2, 3, 4),), ("normal",), lambda x: x.reshape(4, 6),
             torch=lambda t, x: x.reshape(4, 6),
             errors=(ErrorInput((np.ones((2, 3)),), r"x has shape \(2, 3\)", make=lambda: G.Reshape((5, -1))),)),
    GateSpec(lambda: G.Reshape((0, 0, 2, -1)), ((2, 3, 4),), ("normal",), lambda x: x.reshape(2, 3, 2, 2),
             torch=lambda t, x: x.reshape(2, 3, 2, 2), label="Reshape((0,0,2,-1))",
             errors=(ErrorInput((np.ones((2, 3, 5)),), r"cannot be reshaped to \(0, 0, 2, -1\)",
                                make=lambda: G.Reshape((0, 0, 2, -1))),)),
    GateSpec(lambda: G.Dropout(0.3, seed=0), ((6, 5),), ("normal",), tags=frozenset({"random"})),
    GateSpec(G.BatchNorm, ((8, 5), (5,), (5,)), ("normal",) * 3, R.batchnorm,
             torch=lambda t, x, g, b: t.nn.functional.batch_norm(x, None, None, g, b, training=True, eps=1e-5)),
    GateSpec(G.BatchNorm, ((4, 3, 3, 2), (3,), (3,)), ("normal",) * 3, R.batchnorm, "BatchNorm(spatial)",
             torch=lambda t, x, g, b: t.nn.functional.batch_norm(x, None, None, g, b, training=True, eps=1e-5)),
    GateSpec(G.Conv2D, ((2, 3, 5, 5), (4, 3, 3, 3), (4,)), ("normal",) * 3,
             lambda x, W, b: R.conv(x, W, b, 1, 0), torch=lambda t, x, W, b: t.nn.functional.conv2d(x, W, b)),
    GateSpec(lambda: G.Conv2D(stride=2, pad=1), ((2, 2, 5, 5), (3, 2, 3, 3), (3,)), ("normal",) * 3,
             lambda x, W, b: R.conv(x, W, b, 2, 1), "Conv2D(stride=2,pad=1)",
             torch=lambda t, x, W, b: t.nn.functional.conv2d(x, W, b, stride=2, padding=1)),
    GateSpec(lambda: G.Conv2D(pad=1), ((2, 2, 4, 4), (3, 2, 2, 2), (3,)), ("normal",) * 3,
             lambda x, W, b: R.conv(x, W, b, 1, 1), "Conv2D(pad=1,2x2)",
             torch=lambda t, x, W, b: t.nn.functional.conv2d(x, W, b, padding=1)),
    GateSpec(lambda: G.Conv2D(stride=2, pad=1), ((1, 2, 6, 7), (3, 2, 3, 2), (3,)), ("normal",) * 3,
             lambda x, W, b: R.conv(x, W, b, 2, 1), "Conv2D(stride=2,pad=1,untiled)",
             torch=lambda t, x, W, b: t.nn.functional.conv2d(x, W, b, stride=2, padding=1),
             errors=(ErrorInput((np.ones((1, 2, 2, 2)), np.ones((3, 2, 5, 5)), np.ones(3)),
                                r"input height is 4 but the window is 5"),
                     ErrorInput((np.ones((1, 2, 5, 5)), np.ones((3, 4, 3, 3)), np.ones(3)), r"the same C"))),
    # pair-valued strides and pads (PyTorch, Chainer and DeZero take them), windows that do not tile
    _conv_spec(lambda: G.Conv2D(stride=(3, 1), pad=(2, 1)), ((2, 2, 7, 5), (3, 2, 3, 2), (3,)), (3, 1), (2, 1),
               "Conv2D(stride=(3,1),pad=(2,1))"),
    _conv_spec(G.ConvTranspose2D, ((2, 3, 4, 4), (3, 2, 3, 3), (2,)), 1, 0, "ConvTranspose2D",
               transposed=True,
               errors=(ErrorInput((np.ones((1, 2, 3, 3)), np.ones((3, 2, 3, 3)), np.ones(2)), r"the same C"),
                       ErrorInput((np.ones((1, 3, 3, 3)), np.ones((3, 2, 3, 3)), np.ones(3)), r"b of shape \(2,\)"))),
    _conv_spec(lambda: G.ConvTranspose2D(stride=2, pad=1), ((2, 2, 3, 4), (2, 3, 4, 4), (3,)), 2, 1,
               "ConvTranspose2D(stride=2,pad=1)", transposed=True),
    _conv_spec(lambda: G.ConvTranspose2D(stride=(2, 3), pad=(1, 0)), ((1, 2, 3, 2), (2, 2, 3, 2), (2,)), (2, 3),
               (1, 0), "ConvTranspose2D(stride=(2,3),pad=(1,0))", transposed=True),
    _pool_spec("max", (2, 2, 7, 6), (3, 2), (2, 1), (1, 0), "MaxPool2D(size=(3,2),stride=(2,1),pad=(1,0))"),
    _pool_spec("max", (1, 2, 5, 5), 3, 2, 1, "MaxPool2D(size=3,stride=2,pad=1)"),
    _pool_spec("avg", (2, 3, 4, 4), 2, 2, 0, "AvgPool2D", domain="normal"),
    _pool_spec("avg", (2, 2, 7, 6), (3, 2), (2, 1), (1, 0), "AvgPool2D(size=(3,2),stride=(2,1),pad=(1,0))",
               domain="normal"),
    _pool_spec("avg", (1, 2, 5, 5), 3, 1, 1, "AvgPool2D(size=3,stride=1,pad=1)", domain="normal"),
    GateSpec(G.MaxPool2D, ((2, 3, 4, 4),), ("distinct",), lambda x: R.pool(x, 2, 2),
             torch=lambda t, x: t.nn.functional.max_pool2d(x, 2, 2)),
    GateSpec(G.MaxPool2D, ((1, 2, 5, 5),), ("distinct",), lambda x: R.pool(x, 2, 2), "MaxPool2D(untiled)",
             torch=lambda t, x: t.nn.functional.max_pool2d(x, 2, 2)),
    GateSpec(lambda: G.MaxPool2D(size=3, stride=1), ((2, 2, 5, 5),), ("distinct",),
             lambda x: R.pool(x, 3, 1), "MaxPool2D(size=3,stride=1)",
             torch=lambda t, x: t.nn.functional.max_pool2d(x, 3, 1)),
    # --- sequences and attention
    GateSpec(G.Embedding, ((2, 5), (7, 3)), ("labels:7", "normal"), lambda ids, W: W[ids],
             torch=lambda t, ids, W: t.nn.functional.embedding(ids, W),
             errors=(ErrorInput((np.array([0, 7]), np.ones((7, 3))), r"range over \[0, 7\].*expected ids in \[0, 7\)"),
                     ErrorInput((np.array([-1, 2]), np.ones((7, 3))), r"expected ids in \[0, 7\)"),
                     ErrorInput((np.array([0.0, 1.0]), np.ones((7, 3))),
                                r"ids have dtype float64.*expected integers"))),
    GateSpec(G.Embedding, ((12,), (3, 4)), ("labels:3", "normal"), lambda ids, W: W[ids],
             torch=lambda t, ids, W: t.nn.functional.embedding(ids, W), label="Embedding(repeated_ids)"),
    GateSpec(G.Linear, ((2, 3, 4), (4, 5), (5,)), ("normal",) * 3, lambda x, W, b: x @ W + b,
             torch=lambda t, x, W, b: x @ W + b,
             errors=(ErrorInput((np.ones((2, 3)), np.ones((4, 5)), np.ones(5)), r"x has shape \(2, 3\), W \(4, 5\)"),)),
    GateSpec(G.Linear, ((6, 4), (4, 2), (2,)), ("normal",) * 3, lambda x, W, b: x @ W + b,
             torch=lambda t, x, W, b: x @ W + b),
    GateSpec(G.LayerNorm, ((2, 3, 5), (5,), (5,)), ("normal",) * 3, R.layer_norm,
             torch=lambda t, x, g, b: t.nn.functional.layer_norm(x, (x.shape[-1],), g, b, eps=1e-5),
             errors=(ErrorInput((np.ones((2, 4)), np.ones(5), np.ones(5)), r"gamma \(5,\)"),)),
    GateSpec(lambda: G.Slice((slice(None), 1)), ((3, 4, 2),), ("normal",), lambda x: x[:, 1],
             torch=lambda t, x: x[:, 1], label="Slice([:, 1])",
             errors=(ErrorInput((np.ones((3,)),), r"does not fit", make=lambda: G.Slice((slice(None), 1))),)),
    GateSpec(lambda: G.Slice((Ellipsis, slice(1, 3), None)), ((2, 4),), ("normal",), lambda x: x[..., 1:3, None],
             torch=lambda t, x: x[..., 1:3, None], label="Slice([..., 1:3, None])"),
    GateSpec(lambda: G.Concat(axis=1), ((2, 3), (2, 1), (2, 2)), ("normal",) * 3,
             lambda *xs: np.concatenate(xs, axis=1), torch=lambda t, *xs: t.cat(xs, dim=1),
             errors=(ErrorInput((np.ones((2, 3)), np.ones((3, 3))), r"shapes \(2, 3\), \(3, 3\)",
                                make=lambda: G.Concat(axis=1)),)),
    GateSpec(lambda: G.Concat(axis=-1), ((2, 3, 2), (2, 3, 4)), ("normal",) * 2,
             lambda *xs: np.concatenate(xs, axis=-1), torch=lambda t, *xs: t.cat(xs, dim=-1)),
    GateSpec(lambda: G.Transpose((0, 2, 1, 3)), ((2, 3, 4, 5),), ("normal",), lambda x: x.transpose(0, 2, 1, 3),
             torch=lambda t, x: x.permute(0, 2, 1, 3),
             errors=(ErrorInput((np.ones((2, 3)),), r"not a permutation", make=lambda: G.Transpose((0, 2, 1, 3))),)),
    GateSpec(G.Transpose, ((3, 4),), ("normal",), lambda x: x.T, torch=lambda t, x: x.T),
    GateSpec(G.Softmax, ((3, 5),), ("normal",), R.softmax, torch=lambda t, x: t.softmax(x, dim=-1),
             errors=(ErrorInput((np.array([[0.0, 1.0], [-np.inf, -np.inf]]),), r"all\s+-inf \(fully masked\)"),)),
    GateSpec(lambda: G.Softmax(axis=1), ((2, 4, 3),), ("normal",), lambda x: R.softmax(x, 1),
             torch=lambda t, x: t.softmax(x, dim=1)),
    GateSpec(G.LogSoftmax, ((3, 5),), ("normal",), lambda x: log_softmax(x, axis=-1),
             torch=lambda t, x: t.log_softmax(x, dim=-1),
             errors=(ErrorInput((np.array([[0.0, 1.0], [-np.inf, -np.inf]]),), r"all\s+-inf \(fully masked\)"),)),
    GateSpec(lambda: G.LogSoftmax(axis=0), ((4, 2, 3),), ("normal",), lambda x: log_softmax(x, axis=0),
             torch=lambda t, x: t.log_softmax(x, dim=0)),
    # --- recurrent
    GateSpec(G.RNNStep, ((3, 4), (3, 5), (4, 5), (5, 5), (5,)), ("normal", "normal", "small", "small", "small"),
             lambda x, h, Wx, Wh, b: np.tanh(x @ Wx + h @ Wh + b),
             torch=lambda t, x, h, Wx, Wh, b: t.tanh(x @ Wx + h @ Wh + b)),
    GateSpec(G.RNN, ((2, 4, 3), (2, 5), (3, 5), (5, 5), (5,)), ("normal", "normal", "small", "small", "small"),
             R.rnn, torch=R.torch_recurrent("RNN"),
             errors=(ErrorInput((np.ones((2, 4, 3)), np.ones((2, 6)), np.ones((3, 5)), np.ones((5, 5)), np.ones(5)),
                                r"h0 \(2, 6\)"),
                     ErrorInput((np.ones((2, 4, 3)), np.ones((2, 5)), np.ones((3, 4)), np.ones((5, 5)), np.ones(5)),
                                r"Wx \(3, 4\)"),
                     ErrorInput((np.ones((2, 0, 3)), np.ones((2, 5)), np.ones((3, 5)), np.ones((5, 5)), np.ones(5)),
                                r"length 0"))),
    GateSpec(G.LSTM, ((2, 4, 3), (2, 5), (2, 5), (3, 20), (5, 20), (20,)), ("normal",) * 3 + ("small",) * 3,
             R.lstm, torch=R.torch_recurrent("LSTM"),
             errors=(ErrorInput((np.ones((2, 4, 3)), np.ones((2, 5)), np.ones((2, 5)), np.ones((3, 20)),
                                 np.ones((5, 15)), np.ones(20)), r"Wh \(5, 15\)"),)),
    GateSpec(G.GRU, ((3, 4, 2), (3, 5), (2, 15), (5, 15), (15,), (15,)), ("normal", "normal") + ("small",) * 4,
             R.gru, torch=R.torch_recurrent("GRU")),
    GateSpec(G.LSTM, ((2, 3, 3), (4,), (4,), (3, 16), (4, 16), (16,)), ("normal",) * 3 + ("small",) * 3,
             R.lstm, label="LSTM(h0,c0:(H,))"),
    GateSpec(G.RNN, ((2, 3, 3), (1, 4), (3, 4), (4, 4), (4,)), ("normal",) * 2 + ("small",) * 3,
             R.rnn, label="RNN(h0:(1,H))"),
    GateSpec(G.GRU, ((2, 3, 3), (4,), (3, 12), (4, 12), (12,), (12,)), ("normal",) * 2 + ("small",) * 4,
             R.gru, label="GRU(h0:(H,))"),
]
