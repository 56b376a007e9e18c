"""PyTorch as a second oracle in float64 (the numerical check is the first). Skipped without torch."""
import numpy as np
import pytest

import gates as G
from graph import SGD, Adam, Momentum, RMSProp
from graph.training.networks import mlp


def _compare_gate(torch, gate, torch_fn, *inputs, rtol=1e-10, atol=1e-12):
    """Forward and backward of ``gate`` against ``torch_fn`` on the same inputs and random dout."""
    out = gate.forward(*inputs)
    dout = np.random.default_rng(3).standard_normal(np.shape(out))
    grads = gate.backward(dout)
    grads = (grads,) if len(inputs) == 1 else grads
    tensors = [torch.tensor(x, requires_grad=np.issubdtype(np.asarray(x).dtype, np.floating)) for x in inputs]
    t_out = torch_fn(*tensors)
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=rtol, atol=atol)
    t_out.backward(torch.tensor(dout))
    for grad, tensor in zip(grads, tensors):
        if tensor.requires_grad:
            np.testing.assert_allclose(grad, tensor.grad.numpy(), rtol=rtol, atol=atol)
        else:
            assert grad is None


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("pad", [0, 1, 2])
@pytest.mark.parametrize("height, width, kernel", [(7, 8, (3, 3)), (8, 7, (2, 3)), (6, 9, (3, 1)), (5, 5, (5, 4))])
def test_conv2d_output_sizes_and_gradients_match_torch(torch, rng, stride, pad, height, width, kernel):
    x = rng.standard_normal((2, 3, height, width))
    W, b = rng.standard_normal((4, 3, *kernel)), rng.standard_normal(4)
    if height + 2 * pad < kernel[0] or width + 2 * pad < kernel[1]:
        pytest.skip("the kernel is larger than the padded input: torch refuses it too")
    _compare_gate(torch, G.Conv2D(stride, pad), lambda x, W, b: torch.nn.functional.conv2d(
        x, W, b, stride=stride, padding=pad), x, W, b)


def test_the_resnet_downsampling_convolution_halves_the_size():
    out = G.Conv2D(stride=2, pad=1).forward(np.zeros((1, 2, 32, 32)), np.zeros((4, 2, 3, 3)), np.zeros(4))
    assert out.shape == (1, 4, 16, 16)


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 1), (3, 2)])
def test_maxpool2d(torch, rng, size, stride):
    x = rng.permutation(2 * 3 * 7 * 7).reshape(2, 3, 7, 7) * 0.1
    _compare_gate(torch, G.MaxPool2D(size, stride),
                  lambda x: torch.nn.functional.max_pool2d(x, size, stride), x)


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 3, 2)])
def test_batchnorm_training_and_running_statistics(torch, rng, shape):
    x, gamma, beta = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    gate = G.BatchNorm(eps=1e-5, momentum=0.9)
    fn = torch.nn.functional.batch_norm
    running_mean, running_var = torch.zeros(shape[1]), torch.ones(shape[1])
    _compare_gate(torch, gate, lambda x, g, b: fn(x, running_mean, running_var, g, b, training=True,
                                                  momentum=0.1, eps=1e-5), x, gamma, beta)
    np.testing.assert_allclose(gate.running_mean, running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gate.running_var, running_var.numpy(), rtol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_random_mlp_against_autograd(torch, seed):
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(2, 9)) for _ in range(int(rng.integers(2, 5)))] + [int(rng.integers(2, 6))]
    activation = ["relu", "tanh", "sigmoid"][seed % 3]
    g = mlp(sizes, activation=activation, l2=0.01, seed=seed, batchnorm=seed == 1)
    x, y = rng.standard_normal((7, sizes[0])), rng.integers(0, sizes[-1], 7)
    loss = g.forward(x=x, y=y)
    grads = g.backward()
    params = {name: torch.tensor(value, requires_grad=True) for name, value in g.params.items()}
    h = torch.tensor(x)
    act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation]
    layers = len(sizes) - 1
    for k in range(1, layers + 1):
        h = h @ params[f"W{k}"] + params[f"b{k}"]
        if k < layers:
            if f"gamma{k}" in params:
                h = torch.nn.functional.batch_norm(h, None, None, params[f"gamma{k}"], params[f"beta{k}"],
                                                   training=True, eps=1e-5)
            h = act(h)
    t_loss = torch.nn.functional.cross_entropy(h, torch.tensor(y)) + 0.01 * sum(
        (params[f"W{k}"] ** 2).sum() for k in range(1, layers + 1))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    for name, tensor in params.items():
        np.testing.assert_allclose(grads[name], tensor.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("ours, theirs", [
    (lambda: SGD(0.1), lambda t, p: t.optim.SGD(p, lr=0.1)),
    (lambda: Momentum(0.1, 0.9), lambda t, p: t.optim.SGD(p, lr=0.1, momentum=0.9)),
    (lambda: RMSProp(0.01, 0.99, 1e-8), lambda t, p: t.optim.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-8)),
    (lambda: Adam(0.01, 0.9, 0.999, 1e-8), lambda t, p: t.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8)),
])
def test_optimizers_match_torch_optim_over_five_steps(torch, rng, ours, theirs):
    start = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    gradients = [{k: rng.standard_normal(v.shape) for k, v in start.items()} for _ in range(5)]
    params = {k: v.copy() for k, v in start.items()}
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in start.items()}
    optimizer, t_optimizer = ours(), theirs(torch, list(tensors.values()))
    for grads in gradients:
        optimizer.step(params, grads)
        for name, tensor in tensors.items():
            tensor.grad = torch.tensor(grads[name])
        t_optimizer.step()
    for name, tensor in tensors.items():
        np.testing.assert_allclose(params[name], tensor.detach().numpy(), rtol=0, atol=1e-10)
