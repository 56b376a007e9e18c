"""One SGD step of a small conv net: gategraph against hand-written numpy (im2col) and PyTorch eager.

    python benchmarks/conv_step.py [--threads N] [--steps N] [--json PATH]

The net: conv 3x3 (pad 1) - ReLU - 2x2 max pool - affine to 10 - softmax loss,
batch 32. Hand-written numpy follows CS231n's fast layers: an im2col matrix
from a strided view, col2im by accumulating each filter tap, and max pooling
by reshaping into 2x2 blocks. Two steps are measured: the plain step
(``g.backward()``: every gradient, the input image's too, which numpy and torch
also compute) and the training step (``Trainer.step``; numpy and torch skip the
input's gradient). The three are checked to agree to 1e-10 in float64 first.
"""
from common import (
    check_agreement,
    compared,
    emit,
    interleaved,
    load_torch,
    machine_info,
    matmul_gflops,
    parse_args,
    plain_and_training,
    torch_sgd,
)

CONFIGS = [
    dict(name="1x28x28, 8 filters", shape=(32, 1, 28, 28), filters=8, dtype=dtype, steps=150)
    for dtype in ("float32", "float64")] + [
    dict(name="3x32x32, 16 filters", shape=(32, 3, 32, 32), filters=16, dtype=dtype, steps=80)
    for dtype in ("float32", "float64")]


def init_params(shape, filters, dtype, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    N, C, H, W = shape
    return {"W1": (rng.standard_normal((filters, C, 3, 3)) * np.sqrt(2 / (C * 9))).astype(dtype),
            "b1": np.zeros(filters, dtype),
            "W2": (rng.standard_normal((filters * H * W // 4, 10)) * 0.01).astype(dtype),
            "b2": np.zeros(10, dtype)}


def numpy_grads(p, x, y, with_input=False):
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view
    N, C, H, W = x.shape
    F = p["W1"].shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = sliding_window_view(xp, (3, 3), axis=(2, 3)).transpose(1, 4, 5, 0, 2, 3).reshape(C * 9, -1)
    conv = (p["W1"].reshape(F, -1) @ cols + p["b1"][:, None]).reshape(F, N, H, W).transpose(1, 0, 2, 3)
    relu = np.maximum(conv, 0)
    blocks = relu.reshape(N, F, H // 2, 2, W // 2, 2)
    pooled = blocks.max(axis=3).max(axis=4)
    flat = pooled.reshape(N, -1)
    scores = flat @ p["W2"] + p["b2"]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].mean()
    d = np.exp(log_probs)
    d[np.arange(N), y] -= 1
    d /= N
    grads = {"W2": flat.T @ d, "b2": d.sum(axis=0)}
    dpooled = (d @ p["W2"].T).reshape(pooled.shape)
    mask = blocks == pooled[:, :, :, None, :, None]     # ties would share; random data has none
    drelu = (mask * dpooled[:, :, :, None, :, None]).reshape(relu.shape)
    dconv = drelu * (conv > 0)
    d2 = dconv.transpose(1, 0, 2, 3).reshape(F, -1)
    grads["W1"] = (d2 @ cols.T).reshape(p["W1"].shape)
    grads["b1"] = d2.sum(axis=1)
    if with_input:     # col2im: each filter tap adds its block back
        dcols = (p["W1"].reshape(F, -1).T @ d2).reshape(C, 3, 3, N, H, W)
        dxp = np.zeros((N, C, H + 2, W + 2), x.dtype)
        for i in range(3):
            for j in range(3):
                dxp[:, :, i:i + H, j:j + W] += dcols[:, i, j].transpose(1, 0, 2, 3)
        grads["x"] = dxp[:, :, 1:-1, 1:-1]
    return float(loss), grads


def numpy_step(p, x, y, lr, with_input=False):
    _, grads = numpy_grads(p, x, y, with_input)
    for name, param in p.items():
        param -= lr * grads[name]


def gategraph_net(params):
    from gates import Affine, Conv2D, MaxPool2D, ReLU
    from graph import ComputationalGraph
    from losses import SoftmaxWithLoss
    g = ComputationalGraph()
    x, y = g.input("x"), g.input("y")
    h = g.add(Conv2D(stride=1, pad=1), x, g.param("W1", params["W1"].copy()), g.param("b1", params["b1"].copy()))
    h = g.add(MaxPool2D(2, 2), g.add(ReLU(), h))
    scores = g.add(Affine(), h, g.param("W2", params["W2"].copy()), g.param("b2", params["b2"].copy()), name="scores")
    g.add(SoftmaxWithLoss(), scores, y, name="loss")
    return g


def torch_net(torch, params):
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    F = torch.nn.functional

    def loss_of(x, y):
        h = F.max_pool2d(torch.relu(F.conv2d(x, t["W1"], t["b1"], padding=1)), 2)
        return F.cross_entropy(h.flatten(1) @ t["W2"] + t["b2"], y)

    return t, loss_of


def verify(torch):
    import numpy as np
    params = init_params((4, 2, 6, 6), 3, np.float64, seed=1)
    params["W2"] *= 100
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((4, 2, 6, 6)), rng.integers(0, 10, 4)
    g = gategraph_net(params)
    return check_agreement(g, {"x": x, "y": y}, numpy_grads, params, torch, torch_net)


def main():
    args = parse_args(__doc__)
    import numpy as np

    torch = load_torch(args)
    info = machine_info(torch)
    info["agreement (float64, max |difference|)"] = f"{verify(torch):.1e}"
    rates = {dt: matmul_gflops(np.dtype(dt)) for dt in ("float32", "float64")}
    info["matmul rate (512x512)"] = ", ".join(f"{dt} {r:.1f} GFLOP/s" for dt, r in rates.items())
    rows, lr = [], 1e-3
    for cfg in CONFIGS:
        dtype = np.dtype(cfg["dtype"])
        params = init_params(cfg["shape"], cfg["filters"], dtype)
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal(cfg["shape"]).astype(dtype), rng.integers(0, 10, cfg["shape"][0])
        np_params = {k: v.copy() for k, v in params.items()}
        steps = plain_and_training(gategraph_net(params), gategraph_net(params), x, y, lr,
                                   lambda with_input: numpy_step(np_params, x, y, lr, with_input))
        if torch is not None:
            t, loss_of = torch_net(torch, params)
            tx, ty = torch.from_numpy(x), torch.from_numpy(y)
            tx_grad = torch.from_numpy(x.copy()).requires_grad_()

            steps["plain"]["torch"] = lambda: torch_sgd(torch, loss_of(tx_grad, ty), t.values(), lr, [tx_grad])
            steps["training"]["torch"] = lambda: torch_sgd(torch, loss_of(tx, ty), t.values(), lr)
        res = interleaved({(step, impl): fn for step, fns in steps.items() for impl, fn in fns.items()},
                          args.steps or cfg["steps"])
        N, C, H, W = cfg["shape"]
        F = cfg["filters"]
        for step, fns in steps.items():
            # conv forward, dW and (plain step only) dx; the affine layer's three products
            flops = (3 if step == "plain" else 2) * 2 * N * H * W * F * C * 9 + 6 * N * F * H * W // 4 * 10
            gg = res[(step, "gategraph")]["median"]
            rows.append({"config": cfg["name"], "dtype": cfg["dtype"], "step": step,
                         **compared({impl: res[(step, impl)] for impl in fns}, fns),
                         "GFLOP/s": f"{flops / gg / 1e9:.1f} ({100 * flops / gg / 1e9 / rates[cfg['dtype']]:.0f}%)"})
        print(f"... {cfg['name']} {cfg['dtype']} done", flush=True)
    emit(args, "conv net SGD step (median of interleaved steps)", info, rows,
         ["config", "dtype", "step", "gategraph ms", "iqr", "numpy ms", "torch ms", "vs numpy", "vs torch",
          "GFLOP/s", "peak MB", "vs numpy mem"],
         ["plain: g.forward, g.backward(), opt.step (the input image's gradient too, also in numpy and torch); "
          "training: Trainer.step (no input gradient anywhere). GFLOP/s: conv and affine products over "
          "gategraph's time."])


if __name__ == "__main__":
    main()
