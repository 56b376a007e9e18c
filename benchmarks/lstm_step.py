"""One SGD step of an LSTM language model: gategraph against hand-written numpy and PyTorch eager.

    python benchmarks/lstm_step.py [--threads N] [--steps N] [--json PATH] [--dtypes float32,float64]

Batch 32, 35 time steps, vocabulary 64, embedding 64, hidden 128: embedding, LSTM,
linear layer over every step, softmax loss, backward, update. The numpy baseline is
written the way "Deep Learning from Scratch 2" writes ``TimeEmbedding``, ``TimeLSTM``
(one cell per step, each with its cache), ``TimeAffine`` and ``TimeSoftmaxWithLoss``.
All three start from the same weights and batch; before timing, their loss and
gradients are checked to agree to 1e-10 in float64.
"""
from common import compared, emit, interleaved, largest_difference, load_torch, machine_info, parse_args, torch_sgd

N, T, V, E, H = 32, 35, 64, 64, 128


def sigmoid(x):
    import numpy as np
    return 1 / (1 + np.exp(-x))


def numpy_grads(p, x, y):
    """DLfS2-style layers, written out: returns (loss, grads)."""
    import numpy as np
    emb = p["E"][x]                                          # TimeEmbedding
    h, c = np.zeros((N, H), emb.dtype), np.zeros((N, H), emb.dtype)
    caches, hs = [], np.empty((N, T, H), emb.dtype)
    for t in range(T):                                       # TimeLSTM: one LSTM cell per step
        a = emb[:, t] @ p["Wx"] + h @ p["Wh"] + p["b"]
        i, f, g, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        c_next = f * c + i * g
        tanh_c = np.tanh(c_next)
        h_next = o * tanh_c
        caches.append((emb[:, t], h, c, i, f, g, o, tanh_c))
        h, c = h_next, c_next
        hs[:, t] = h
    scores = hs.reshape(N * T, H) @ p["W_out"] + p["b_out"]    # TimeAffine
    shifted = scores - scores.max(axis=1, keepdims=True)       # TimeSoftmaxWithLoss
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    labels = y.reshape(-1)
    loss = -log_probs[np.arange(N * T), labels].mean()
    dscores = np.exp(log_probs)
    dscores[np.arange(N * T), labels] -= 1
    dscores /= N * T
    grads = {"W_out": hs.reshape(N * T, H).T @ dscores, "b_out": dscores.sum(axis=0)}
    dhs = (dscores @ p["W_out"].T).reshape(N, T, H)
    grads.update(Wx=np.zeros_like(p["Wx"]), Wh=np.zeros_like(p["Wh"]), b=np.zeros_like(p["b"]))
    dembs = np.empty_like(emb)
    dh, dc = np.zeros((N, H), emb.dtype), np.zeros((N, H), emb.dtype)
    for t in reversed(range(T)):
        x_t, h_prev, c_prev, i, f, g, o, tanh_c = caches[t]
        dh = dhs[:, t] + dh
        ds = dc + dh * o * (1 - tanh_c ** 2)
        da = np.hstack((ds * g * i * (1 - i), ds * c_prev * f * (1 - f), ds * i * (1 - g ** 2),
                        dh * tanh_c * o * (1 - o)))
        grads["Wx"] += x_t.T @ da
        grads["Wh"] += h_prev.T @ da
        grads["b"] += da.sum(axis=0)
        dembs[:, t] = da @ p["Wx"].T
        dh, dc = da @ p["Wh"].T, ds * f
    grads["E"] = np.zeros_like(p["E"])
    np.add.at(grads["E"], x, dembs)
    return float(loss), grads


def numpy_step(params, x, y, lr):
    _, grads = numpy_grads(params, x, y)
    for name, grad in grads.items():
        params[name] -= lr * grad


def torch_model(torch, params):
    """nn.Embedding - nn.LSTM - nn.Linear with gategraph's weights copied in (DESIGN.md's layouts)."""
    dtype = torch.float64 if params["E"].dtype.name == "float64" else torch.float32
    emb = torch.nn.Embedding(V, E, dtype=dtype)
    lstm = torch.nn.LSTM(E, H, batch_first=True, dtype=dtype)
    linear = torch.nn.Linear(H, V, dtype=dtype)
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(params["E"]))
        lstm.weight_ih_l0.copy_(torch.from_numpy(params["Wx"].T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(params["Wh"].T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(params["b"]))
        lstm.bias_hh_l0.zero_()
        linear.weight.copy_(torch.from_numpy(params["W_out"].T.copy()))
        linear.bias.copy_(torch.from_numpy(params["b_out"]))
    modules = torch.nn.ModuleList([emb, lstm, linear])

    def loss_of(x, y):
        scores = linear(lstm(emb(x))[0])
        return torch.nn.functional.cross_entropy(scores.reshape(-1, V), y.reshape(-1))

    grads_of = {"E": lambda: emb.weight.grad, "Wx": lambda: lstm.weight_ih_l0.grad.T,
                "Wh": lambda: lstm.weight_hh_l0.grad.T, "b": lambda: lstm.bias_ih_l0.grad,
                "W_out": lambda: linear.weight.grad.T, "b_out": lambda: linear.bias.grad}
    return modules, loss_of, grads_of


def data(dtype):
    import numpy as np

    from graph.training.networks import language_model
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, V, (N, T)), rng.integers(0, V, (N, T))
    return language_model(V, embed=E, hidden=H, cell="lstm", seed=0, dtype=dtype), x, y


def verify(torch):
    import numpy as np
    g, x, y = data(np.float64)
    loss, grads = g.forward(x=x, y=y), g.backward()
    others = [numpy_grads({k: v.copy() for k, v in g.params.items()}, x, y)]
    if torch is not None:
        _, loss_of, grads_of = torch_model(torch, g.params)
        t_loss = loss_of(torch.from_numpy(x), torch.from_numpy(y))
        t_loss.backward()
        others.append((t_loss.item(), {k: get().numpy() for k, get in grads_of.items()}))
    return largest_difference((loss, grads), others)


def main():
    args = parse_args(__doc__, lambda p: p.add_argument("--dtypes", default="float32,float64"))
    import numpy as np

    from graph import SGD
    from graph.training.trainer import Trainer
    torch = load_torch(args)
    info = machine_info(torch)
    info["agreement (float64, max |difference|)"] = f"{verify(torch):.1e}"
    rows, lr = [], 1e-3
    for dtype_name in args.dtypes.split(","):
        g, x, y = data(np.dtype(dtype_name))
        params = {k: v.copy() for k, v in g.params.items()}
        trainer = Trainer(g, SGD(lr))

        def gg_step():
            trainer.step(x, y)

        candidates = {"gategraph": gg_step, "numpy": lambda: numpy_step(params, x, y, lr)}
        if torch is not None:
            modules, loss_of, _ = torch_model(torch, g.params)
            tx, ty = torch.from_numpy(x), torch.from_numpy(y)
            candidates["torch"] = lambda: torch_sgd(torch, loss_of(tx, ty), modules.parameters(), lr)
        rows.append({"dtype": dtype_name, **compared(interleaved(candidates, args.steps or 60), candidates)})
        print(f"... {dtype_name} done", flush=True)
    columns = ["dtype", "gategraph ms", "iqr", "numpy ms", "torch ms", "vs numpy", "vs torch", "peak MB",
               "vs numpy mem"]
    emit(args, f"LSTM language-model SGD step, batch {N}, {T} steps, vocabulary {V}, embedding {E}, hidden {H} "
               "(median of interleaved steps)", info, rows, columns,
         ["numpy: DLfS2's TimeEmbedding / TimeLSTM / TimeAffine / TimeSoftmaxWithLoss written out; "
          "torch: nn.Embedding, nn.LSTM, nn.Linear, cross_entropy, eager. Peak memory by tracemalloc."])


if __name__ == "__main__":
    main()
