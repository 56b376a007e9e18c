"""Layer gates and losses beyond the generic catalogue tests: known values, errors, statistics."""
import warnings

import numpy as np
import pytest

import gates as G
from losses import Hinge, L2Penalty, MeanSquaredError, SoftmaxWithLoss

# --- losses --------------------------------------------------------------------------


def test_softmax_loss_of_small_scores_is_log_c(rng):
    scores = 0.001 * rng.standard_normal((50, 10))
    loss = SoftmaxWithLoss().forward(scores, rng.integers(0, 10, 50))
    assert loss == pytest.approx(np.log(10), abs=0.01)
    assert SoftmaxWithLoss().forward(np.full((4, 7), 3.0), [0, 1, 2, 3]) == pytest.approx(np.log(7), rel=1e-15)


def test_multiclass_hinge_of_small_scores_is_c_minus_one(rng):
    scores = 0.001 * rng.standard_normal((50, 10))
    assert Hinge().forward(scores, rng.integers(0, 10, 50)) == pytest.approx(9.0, abs=0.05)


def test_softmax_accepts_one_hot_labels_like_integer_labels(rng):
    scores, labels = rng.standard_normal((5, 3)), np.array([0, 2, 1, 1, 0])
    by_index, by_one_hot = SoftmaxWithLoss(), SoftmaxWithLoss()
    assert by_index.forward(scores, labels) == pytest.approx(by_one_hot.forward(scores, np.eye(3)[labels]))
    np.testing.assert_allclose(by_index.backward()[0], by_one_hot.backward()[0])


def test_softmax_gradient_is_probs_minus_onehot_over_n(rng):
    scores, labels = rng.standard_normal((4, 3)), np.array([0, 2, 1, 1])
    loss = SoftmaxWithLoss()
    loss.forward(scores, labels)
    probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    dscores, dlabels = loss.backward(2.0)
    np.testing.assert_allclose(dscores, 2.0 * (probs - np.eye(3)[labels]) / 4)
    assert dlabels is None


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_softmax_is_stable_for_huge_scores(scale):
    scores = np.array([[scale, 0.0, -scale], [0.0, scale, 1.0]])
    loss = SoftmaxWithLoss()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss.forward(scores, np.array([0, 1]))
        dscores, _ = loss.backward()
    assert np.isfinite(value) and np.all(np.isfinite(dscores))


def test_binary_hinge_gradient_and_kink():
    hinge = Hinge(margin=1.0)
    scores, labels = np.array([2.0, 0.5, -0.5, 1.0]), np.array([1, 1, 1, 1])
    # slacks 1 - y s: -1, 0.5, 1.5, 0 (the last is exactly at the kink)
    assert hinge.forward(scores, labels) == pytest.approx((0.5 + 1.5) / 4)
    np.testing.assert_array_equal(hinge.backward()[0], [0.0, -0.25, -0.25, 0.0])


def test_multiclass_hinge_gradient_at_the_kink_is_zero():
    hinge = Hinge()
    scores = np.array([[2.0, 1.0, 0.0]])   # s_1 - s_0 + 1 = 0: margin exactly met
    assert hinge.forward(scores, np.array([0])) == 0.0
    np.testing.assert_array_equal(hinge.backward()[0], [[0.0, 0.0, 0.0]])


def test_mse_and_l2_values_and_gradients():
    mse = MeanSquaredError()
    assert mse.forward(np.array([1.0, 3.0]), np.array([0.0, 1.0])) == 2.5
    dpred, dtarget = mse.backward()
    np.testing.assert_array_equal(dpred, [1.0, 2.0])
    np.testing.assert_array_equal(dtarget, [-1.0, -2.0])
    l2 = L2Penalty(0.5)
    assert l2.forward(np.array([1.0, -2.0])) == 2.5
    np.testing.assert_array_equal(l2.backward(), [1.0, -2.0])


# --- convolution and pooling -----------------------------------------------------------

@pytest.mark.parametrize("size, kernel, stride, pad, expected", [
    (6, 3, 2, 0, 2), (7, 3, 2, 0, 3), (32, 3, 2, 1, 16), (5, 2, 3, 1, 2), (4, 4, 1, 0, 1)])
def test_conv_output_size_is_floored_as_torch(size, kernel, stride, pad, expected):
    out = G.Conv2D(stride, pad).forward(np.ones((1, 1, size, size)), np.ones((2, 1, kernel, kernel)), np.zeros(2))
    assert out.shape == (1, 2, expected, expected)


@pytest.mark.parametrize("make, pattern", [
    (lambda: G.Conv2D(stride=0), "stride must be a positive integer"),
    (lambda: G.Conv2D(stride=1.5), "stride must be a positive integer"),
    (lambda: G.Conv2D(pad=-1), "pad must be an integer >= 0"),
    (lambda: G.MaxPool2D(size=0), "size must be a positive integer"),
    (lambda: G.MaxPool2D(stride=0), "stride must be a positive integer"),
])
def test_zero_or_negative_sizes_and_strides_are_refused_when_made(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_conv_output_size_and_padding(rng):
    out = G.Conv2D(stride=1, pad=1).forward(rng.standard_normal((2, 3, 8, 8)),
                                           rng.standard_normal((5, 3, 3, 3)), np.zeros(5))
    assert out.shape == (2, 5, 8, 8)
    out = G.Conv2D(stride=2, pad=1).forward(rng.standard_normal((2, 3, 7, 7)),
                                           rng.standard_normal((5, 3, 3, 3)), np.zeros(5))
    assert out.shape == (2, 5, 4, 4)


def test_maxpool_routes_one_gradient_per_window_even_at_ties():
    pool = G.MaxPool2D(2, 2)
    x = np.ones((1, 1, 2, 4))
    x[0, 0, :, 2:] = [[1.0, 5.0], [5.0, 2.0]]
    np.testing.assert_array_equal(pool.forward(x), [[[[1.0, 5.0]]]])
    dx = pool.backward(np.array([[[[3.0, 7.0]]]]))
    # the first of the tied maxima in row-major order takes all of the window's gradient
    np.testing.assert_array_equal(dx, [[[[3.0, 0.0, 0.0, 7.0], [0.0, 0.0, 0.0, 0.0]]]])


def test_overlapping_pooling_windows_add_their_gradients():
    pool = G.MaxPool2D(size=2, stride=1)
    x = np.array([[[[0.0, 1.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]]])
    np.testing.assert_array_equal(pool.forward(x), np.full((1, 1, 2, 2), 9.0))
    dx = pool.backward(np.ones((1, 1, 2, 2)))
    assert dx[0, 0, 1, 1] == 4.0 and dx.sum() == 4.0


# --- batch norm and dropout ----------------------------------------------------------------

def test_batchnorm_normalises_and_its_running_statistics_converge(rng):
    bn = G.BatchNorm(momentum=0.9)
    gamma, beta = np.ones(3), np.zeros(3)
    for _ in range(200):
        x = rng.normal(loc=[1.0, -2.0, 5.0], scale=[0.5, 2.0, 3.0], size=(64, 3))
        out = bn.forward(x, gamma, beta)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-4)
    np.testing.assert_allclose(bn.running_mean, [1.0, -2.0, 5.0], atol=0.15)
    np.testing.assert_allclose(bn.running_var, [0.25, 4.0, 9.0], rtol=0.15)
    bn.training = False
    x = rng.normal(loc=[1.0, -2.0, 5.0], scale=[0.5, 2.0, 3.0], size=(5000, 3))
    out = bn.forward(x, gamma, beta)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=0.1)


def test_spatial_batchnorm_normalises_per_channel(rng):
    x = rng.normal(loc=3.0, scale=2.0, size=(4, 2, 5, 5))
    out = G.BatchNorm().forward(x, np.array([1.0, 2.0]), np.array([0.0, 1.0]))
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), [0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), [1.0, 2.0], rtol=1e-3)


def test_batchnorm_backward_follows_the_mode_of_its_forward(rng):
    x, gamma, beta = rng.standard_normal((6, 3)), np.ones(3), np.zeros(3)
    trained = G.BatchNorm()
    trained.forward(x, gamma, beta)
    expected = trained.backward(np.ones((6, 3)) + x)
    trained.training = False                    # switched after forward: backward is unchanged
    for got, want in zip(trained.backward(np.ones((6, 3)) + x), expected):
        np.testing.assert_array_equal(got, want)


def test_batchnorm_eval_gradient_matches_numerical(rng):
    from gates.check import check_gate
    bn = G.BatchNorm()
    bn.forward(rng.standard_normal((10, 4)), np.ones(4), np.zeros(4))
    bn.training = False
    check_gate(bn, rng.standard_normal((6, 4)), rng.standard_normal(4), rng.standard_normal(4))


def test_dropout_statistics_and_inverted_scaling(rng):
    x = np.ones((200, 500))
    out = G.Dropout(p=0.3, seed=0).forward(x)
    assert np.mean(out == 0) == pytest.approx(0.3, abs=0.01)
    assert out.mean() == pytest.approx(1.0, abs=0.02)
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.7])


def test_dropout_is_the_identity_when_not_training(rng):
    gate = G.Dropout(p=0.9)
    gate.training = False
    x = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(gate.forward(x), x)
    np.testing.assert_array_equal(gate.backward(np.ones((3, 4))), np.ones((3, 4)))


def test_dropout_is_reproducible_by_seed_and_backward_uses_the_same_mask(rng):
    x = rng.standard_normal((4, 6))
    a, b = G.Dropout(0.5, seed=7), G.Dropout(0.5, seed=7)
    out = a.forward(x)
    np.testing.assert_array_equal(out, b.forward(x))
    np.testing.assert_array_equal(a.backward(np.ones_like(x)) == 0, out == 0)
    assert not np.array_equal(out, G.Dropout(0.5, seed=8).forward(x))


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_refuses_a_probability_outside_0_1(p):
    with pytest.raises(ValueError, match="probability of dropping"):
        G.Dropout(p)
