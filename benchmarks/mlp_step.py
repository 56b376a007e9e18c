"""One SGD step of an MLP: gategraph against hand-written numpy and PyTorch eager.

    python benchmarks/mlp_step.py [--threads N] [--steps N] [--json PATH] [--configs small,medium,large]

A step is forward, softmax loss, backward and the parameter update, measured two ways:
the plain step a user writes (``g.forward``, ``g.backward()``, ``opt.step``: every
gradient, the input's too; numpy and torch also compute the input's gradient) and the
training step (``Trainer.step``: ``backward(inputs=False, keep=False)``; numpy and torch
skip the input's gradient too). The implementations start from identical weights and
batch; before timing, their loss and gradients are checked to agree to 1e-10 in float64.
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

CONFIGS = {
    "small": dict(batch=64, sizes=(64, 100, 10), steps=3000),
    "medium": dict(batch=128, sizes=(784, 256, 10), steps=600),
    "large": dict(batch=256, sizes=(784, 1024, 1024, 10), steps=60),
}


def numpy_grads(params, x, y, with_input=False):
    """CS231n-style layer code: affine / ReLU / shifted softmax, written out."""
    import numpy as np
    layers = len(params) // 2
    hs, h = [x], x
    for k in range(1, layers):
        h = np.maximum(h @ params[f"W{k}"] + params[f"b{k}"], 0)
        hs.append(h)
    scores = h @ params[f"W{layers}"] + params[f"b{layers}"]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -log_probs[np.arange(n), y].mean()
    d = np.exp(log_probs)
    d[np.arange(n), y] -= 1
    d /= n
    grads = {}
    for k in range(layers, 0, -1):
        h = hs[k - 1]
        grads[f"W{k}"] = h.T @ d
        grads[f"b{k}"] = d.sum(axis=0)
        if k > 1:
            d = d @ params[f"W{k}"].T
            d[h <= 0] = 0
        elif with_input:
            grads["x"] = d @ params["W1"].T
    return float(loss), grads


def numpy_step(params, x, y, lr, with_input=False):
    _, grads = numpy_grads(params, x, y, with_input)
    for name, grad in params.items():
        grad -= lr * grads[name]


def torch_model(torch, params):
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    layers = len(params) // 2
    F = torch.nn.functional

    def loss_of(x, y):
        h = x
        for k in range(1, layers):
            h = torch.relu(h @ tensors[f"W{k}"] + tensors[f"b{k}"])
        return F.cross_entropy(h @ tensors[f"W{layers}"] + tensors[f"b{layers}"], y)

    return tensors, loss_of


def verify(torch):
    """Same loss and gradients, to 1e-10, from all three in float64."""
    import numpy as np

    from graph.training.networks import mlp
    rng = np.random.default_rng(1)
    g = mlp((20, 30, 30, 7), seed=1)
    x, y = rng.standard_normal((16, 20)), rng.integers(0, 7, 16)
    return check_agreement(g, {"x": x, "y": y}, numpy_grads, g.params, torch, torch_model)


def main():
    args = parse_args(__doc__, lambda p: (
        p.add_argument("--configs", default="small,medium,large"),
        p.add_argument("--dtypes", default="float32,float64")))
    import numpy as np

    from graph.training.networks import mlp
    torch = load_torch(args)
    info = machine_info(torch)
    info["agreement (float64, max |difference|)"] = f"{verify(torch):.1e}"
    rate = {dt: matmul_gflops(np.dtype(dt)) for dt in args.dtypes.split(",")}
    info["matmul rate (512x512)"] = ", ".join(f"{dt} {r:.1f} GFLOP/s" for dt, r in rate.items())
    rows, lr = [], 1e-3
    for name in args.configs.split(","):
        cfg = CONFIGS[name]
        for dtype_name in args.dtypes.split(","):
            dtype = np.dtype(dtype_name)
            rng = np.random.default_rng(0)
            x = rng.standard_normal((cfg["batch"], cfg["sizes"][0])).astype(dtype)
            y = rng.integers(0, cfg["sizes"][-1], cfg["batch"])
            plain = mlp(cfg["sizes"], seed=0, dtype=dtype)
            params = {k: v.copy() for k, v in plain.params.items()}
            steps = plain_and_training(plain, mlp(cfg["sizes"], seed=0, dtype=dtype), x, y, lr,
                                       lambda with_input: numpy_step(params, x, y, lr, with_input))
            if torch is not None:
                tensors, loss_of = torch_model(torch, plain.params)
                tx, tx_grad, ty = torch.from_numpy(x), torch.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(y)
                steps["plain"]["torch"] = lambda: torch_sgd(torch, loss_of(tx_grad, ty), tensors.values(), lr,
                                                            [tx_grad])
                steps["training"]["torch"] = lambda: torch_sgd(torch, loss_of(tx, ty), tensors.values(), lr)
            times = interleaved({(step, impl): fn for step, fns in steps.items() for impl, fn in fns.items()},
                                args.steps or cfg["steps"])
            flops = 6 * cfg["batch"] * sum(a * b for a, b in zip(cfg["sizes"][:-1], cfg["sizes"][1:]))
            for step, fns in steps.items():
                gg = times[(step, "gategraph")]["median"]
                rows.append({"config": name, "dtype": dtype_name, "step": step,
                             "shapes": f"{cfg['batch']}x{'-'.join(map(str, cfg['sizes']))}",
                             **compared({impl: times[(step, impl)] for impl in fns}, fns),
                             "GFLOP/s": f"{flops / gg / 1e9:.1f} ({100 * flops / gg / 1e9 / rate[dtype_name]:.0f}%)"})
            print(f"... {name} {dtype_name} done", flush=True)
    columns = ["config", "dtype", "step", "shapes", "gategraph ms", "iqr", "numpy ms", "torch ms", "vs numpy",
               "vs torch", "GFLOP/s", "peak MB", "vs numpy mem"]
    emit(args, "MLP SGD step (median of interleaved steps)", info, rows, columns,
         ["plain: g.forward, g.backward(), opt.step (every gradient, the input's too; numpy and torch also compute "
          "dL/dx); training: Trainer.step (backward(inputs=False, keep=False); numpy and torch skip dL/dx).",
          "GFLOP/s: the step's matrix-product work (6 N sum D_i D_i+1) over gategraph's time, "
          "and its share of the measured matmul rate. Peak memory by tracemalloc (numpy-side allocations)."])


if __name__ == "__main__":
    main()
