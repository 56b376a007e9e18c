"""Every gate and loss of the catalogue, checked by the same generic tests."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gates as G
import losses as L
from gates import Gate, unbroadcast
from gates.catalogue import GATES, draw
from gates.check import check_gate, numerical_gradient, rel_error
from losses.catalogue import LOSSES

CATALOGUE = GATES + LOSSES

SPECS = pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.id)


def _as_tuple(grads, inputs):
    return (grads,) if len(inputs) == 1 else grads


@pytest.mark.parametrize("spec", [s for s in CATALOGUE if s.reference], ids=lambda s: s.id)
def test_forward_matches_numpy_reference(spec):
    # Dropout has no reference here: its forward is random (tested in test_layers.py)
    inputs = spec.inputs()
    np.testing.assert_allclose(spec.make().forward(*inputs), spec.reference(*inputs), rtol=1e-12, atol=1e-12)


@SPECS
def test_backward_matches_numerical_gradient(spec):
    gate, inputs = spec.checkable()
    errors = check_gate(gate, *inputs)
    assert len(errors) == len(inputs)
    for i, error in enumerate(errors):
        assert (error is None) == (i not in spec.probed)


@SPECS
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_have_input_shapes_and_dtypes(spec, dtype):
    inputs = spec.inputs(dtype=dtype)
    gate = spec.make()
    out = gate.forward(*inputs)
    if spec in LOSSES:
        assert type(out) is float
    else:
        assert np.result_type(out) == dtype
    dout = np.ones(np.shape(out), dtype) if np.ndim(out) else 1.0
    grads = _as_tuple(gate.backward(dout), inputs)
    for i, (x, grad) in enumerate(zip(inputs, grads)):
        if i in spec.probed:
            assert np.shape(grad) == np.shape(x)
            assert np.result_type(grad) == dtype
        else:
            assert grad is None


@SPECS
def test_float64_scalar_dout_keeps_float32(spec):
    inputs = spec.inputs(dtype=np.float32)
    gate = spec.make()
    out = gate.forward(*inputs)
    dout = np.float64(0.5) if np.ndim(out) == 0 else np.full(np.shape(out), 0.5, np.float64)
    for i, grad in enumerate(_as_tuple(gate.backward(dout), inputs)):
        if grad is not None:
            assert np.result_type(grad) == np.float32, f"input {i}"


@SPECS
def test_backward_mutates_neither_dout_nor_inputs(spec):
    inputs = spec.inputs()
    kept = [np.copy(x) for x in inputs]
    gate = spec.make()
    out = gate.forward(*inputs)
    dout = np.random.default_rng(1).standard_normal(np.shape(out))
    dout_kept = dout.copy()
    gate.backward(dout)
    np.testing.assert_array_equal(dout, dout_kept)
    for x, x_kept in zip(inputs, kept):
        np.testing.assert_array_equal(x, x_kept)


@SPECS
def test_backward_before_forward_names_the_gate(spec):
    gate = spec.make()
    with pytest.raises(RuntimeError, match=type(gate).__name__):
        gate.backward(np.ones(3))


# --- the worked examples of the seed material, gate by gate -------------------

def test_add_then_multiply_by_hand():
    add, mul = G.Add(), G.Multiply()
    q = add.forward(-2.0, 5.0)
    f = mul.forward(q, -4.0)
    assert (q, f) == (3.0, -12.0)
    dq, dz = mul.backward(1.0)
    dx, dy = add.backward(dq)
    assert (dx, dy, dz) == (-4.0, -4.0, 3.0)


def test_squared_error_gradient_by_hand():
    # L = (w x + b - y)^2 at x=4, w=1, b=-3, y=3: dL/dw = 2 (wx + b - y) x = 2 * (-2) * 4
    mul, add, sub, sq = G.Multiply(), G.Add(), G.Subtract(), G.Square()
    loss = sq.forward(sub.forward(add.forward(mul.forward(1.0, 4.0), -3.0), 3.0))
    assert loss == 4.0
    d_residual = sq.backward(1.0)
    d_pred, _ = sub.backward(d_residual)
    d_wx, d_b = add.backward(d_pred)
    d_w, d_x = mul.backward(d_wx)
    assert (d_w, d_b, d_x) == (-16.0, -4.0, -4.0)


def test_relu_passes_upstream_only_where_x_is_positive():
    relu = G.ReLU()
    np.testing.assert_array_equal(relu.forward(np.array([1.0, 3.0, -2.0, 4.0])), [1, 3, 0, 4])
    np.testing.assert_array_equal(relu.backward(np.array([5.0, 6.0, 7.0, 8.0])), [5, 6, 0, 8])


def test_repeat_sums_and_sum_copies_upstream():
    dout = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    repeat = G.Repeat(3)
    repeat.forward(np.array([7.0, 8.0]))
    np.testing.assert_array_equal(repeat.backward(dout), [9.0, 12.0])
    total = G.Sum()
    total.forward(np.ones((2, 3)))
    np.testing.assert_array_equal(total.backward(2.5), np.full((2, 3), 2.5))


def test_matmul_gradients_are_the_transposed_products(rng):
    x, W, dout = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal((4, 5))
    gate = G.MatMul()
    gate.forward(x, W)
    dx, dW = gate.backward(dout)
    np.testing.assert_allclose(dx, dout @ W.T)
    np.testing.assert_allclose(dW, x.T @ dout)


def test_max_splits_the_gradient_at_a_tie():
    gate = G.Max()
    gate.forward(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0]))
    da, db = gate.backward(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(da, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(db, [1.0, 0.5, 0.0])


def test_sigmoid_is_stable_and_uses_its_output():
    gate = G.Sigmoid()
    with np.errstate(all="raise"):
        y = gate.forward(np.array([-1000.0, 0.0, 1000.0]))
        np.testing.assert_array_equal(y, [0.0, 0.5, 1.0])
        np.testing.assert_array_equal(gate.backward(np.ones(3)), [0.0, 0.25, 0.0])


def test_affine_returns_dx_in_the_input_shape(rng):
    gate = G.Affine()
    x = rng.standard_normal((2, 3, 4))
    gate.forward(x, rng.standard_normal((12, 5)), np.zeros(5))
    dx, dW, db = gate.backward(np.ones((2, 5)))
    assert dx.shape == (2, 3, 4) and dW.shape == (12, 5) and db.shape == (5,)


# --- errors that teach: every spec's error inputs ------------------------------------

ERRORS = [(spec, case) for spec in CATALOGUE for case in spec.errors]


@pytest.mark.parametrize("spec, case", ERRORS, ids=[f"{s.id}-{k}" for k, (s, _) in enumerate(ERRORS)])
def test_error_inputs_are_refused_naming_the_gate_and_shapes(spec, case):
    gate = (case.make or spec.make)()
    with pytest.raises(case.error, match=case.match) as raised:
        gate.forward(*case.inputs)
    assert str(raised.value).startswith(type(gate).__name__)


def test_every_gate_and_loss_has_error_inputs_or_takes_any_array():
    takes_anything = {"Square", "Power", "Exp", "Log", "Sigmoid", "Tanh", "ReLU", "Sum", "Repeat", "Flatten",
                      "LeakyReLU", "ELU", "GELU", "Abs", "Clip", "AvgPool2D", "Erf",
                      "Dropout", "BatchNorm", "Conv2D", "MaxPool2D", "RNNStep", "GRU", "L2Penalty"}
    without = {spec.name.split("(")[0] for spec in CATALOGUE} - {s.name.split("(")[0] for s, _ in ERRORS}
    assert without <= takes_anything


# --- PyTorch, the second oracle, over every spec that names a torch reference ------------

TOLERANCES = {np.float64: dict(rtol=1e-9, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-5)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("spec", [s for s in CATALOGUE if s.torch], ids=lambda s: s.id)
def test_forward_and_backward_match_torch(torch, spec, dtype):
    inputs = spec.inputs(dtype=dtype)
    gate = spec.make()
    out = gate.forward(*inputs)
    dout = np.random.default_rng(3).standard_normal(np.shape(out)).astype(dtype) if spec in GATES else 1.0
    grads = _as_tuple(gate.backward(dout), inputs)
    tensors = [torch.tensor(x, requires_grad=i in spec.probed) for i, x in enumerate(map(np.asarray, inputs))]
    t_out = spec.torch(torch, *tensors)
    tolerance = TOLERANCES[dtype]
    np.testing.assert_allclose(out, t_out.detach().numpy(), **tolerance)
    t_out.backward(torch.tensor(dout, dtype=t_out.dtype))
    for grad, tensor in zip(grads, tensors):
        if tensor.requires_grad:
            assert np.result_type(grad) == dtype
            np.testing.assert_allclose(grad, tensor.grad.numpy(), **tolerance)
        else:
            assert grad is None


# --- the checker itself ----------------------------------------------------------------

class WrongCube(Gate):
    """x**3 with a derivative that forgot the factor 3."""

    def forward(self, x):
        self.x = x
        return x ** 3

    def backward(self, dout):
        return self.x ** 2 * dout


class Cube(WrongCube):
    def backward(self, dout):
        return 3 * self.x ** 2 * dout


def test_check_gate_accepts_a_right_gate_and_rejects_a_wrong_one(rng):
    x = rng.standard_normal((3, 4))
    assert check_gate(Cube(), x)[0] < 1e-7
    with pytest.raises(AssertionError, match=r"WrongCube, input 0: .*worst at index"):
        check_gate(WrongCube(), x)


def test_check_gate_rejects_a_gradient_of_the_wrong_shape(rng):
    class Summed(Cube):
        def backward(self, dout):
            return np.sum(super().backward(dout), axis=0)

    with pytest.raises(AssertionError, match="shape"):
        check_gate(Summed(), rng.standard_normal((3, 4)))


def test_check_gate_uses_allclose_not_rel_error_alone():
    # A true gradient of 0 computed as 1e-9: rel_error is 0.1, yet within atol the check passes.
    class AlmostZero(Gate):
        def forward(self, x):
            self.shape = np.shape(x)
            return np.zeros(self.shape) + 0 * x

        def backward(self, dout):
            return np.full(self.shape, 1e-9)

    assert check_gate(AlmostZero(), np.ones(3))[0] == pytest.approx(0.1)


def test_numerical_gradient_restores_x_and_refuses_integers():
    x = np.array([1.0, 2.0, 3.0])
    grad = numerical_gradient(lambda v: np.sum(v ** 2), x)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="float"):
        numerical_gradient(lambda v: np.sum(v), np.array([1, 2, 3]))


def test_rel_error_is_the_largest_elementwise_error():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == pytest.approx(0.5)
    assert rel_error(0.0, 0.0) == 0.0


def test_unbroadcast_sums_stretched_and_leading_axes():
    grad = np.ones((2, 3, 4))
    np.testing.assert_array_equal(unbroadcast(grad, (3, 1)), np.full((3, 1), 8.0))
    np.testing.assert_array_equal(unbroadcast(grad, ()), 24.0)
    assert unbroadcast(grad, (2, 3, 4)) is grad


# --- property-based: random broadcastable shapes ------------------------------------------

BINARY = list({spec.name: spec for spec in GATES if "broadcasting" in spec.tags}.values())
UNARY = list({spec.name: spec for spec in GATES if "elementwise" in spec.tags}.values())


@settings(max_examples=40, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       spec=st.sampled_from(BINARY), seed=st.integers(0, 2 ** 16))
def test_binary_gates_on_random_broadcast_shapes(shapes, spec, seed):
    rng = np.random.default_rng(seed)
    a, b = (draw(rng, shape, domain) for shape, domain in zip(shapes.input_shapes, spec.domains))
    np.testing.assert_allclose(spec.make().forward(a, b), spec.reference(a, b))
    check_gate(spec.make(), a, b)


@settings(max_examples=30, deadline=None)
@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=4), spec=st.sampled_from(UNARY),
       seed=st.integers(0, 2 ** 16))
def test_unary_gates_on_random_shapes(shape, spec, seed):
    x = draw(np.random.default_rng(seed), shape, spec.domains[0])
    np.testing.assert_allclose(spec.make().forward(x), spec.reference(x))
    check_gate(spec.make(), x)


@pytest.mark.parametrize("package, specs", [(G, GATES), (L, LOSSES)], ids=["gates", "losses"])
def test_catalogue_covers_every_public_gate_and_loss(package, specs):
    names = {spec.name.split("(")[0] for spec in specs}
    public = {name for name in package.__all__ if isinstance(getattr(package, name), type)
              and issubclass(getattr(package, name), Gate) and name != "Gate"}
    assert public and public <= names
