"""One SGD step of a transformer block: gategraph against PyTorch eager with the same weights.

    python benchmarks/transformer_step.py [--threads N] [--steps N] [--json PATH] [--dtypes float32,float64]

Batch 32, sequence 32, width 64, 4 heads, MLP 256: a pre-norm block (LayerNorm, causal
multi-head attention, residual; LayerNorm, ReLU MLP, residual) and a squared-error loss
against a fixed target; forward, backward (every param's gradient and the input's, as a
block inside a deeper network needs), update. gategraph assembles the block from gates
(`graph.training.networks.transformer_block`); torch runs the same algebra with
``scaled_dot_product_attention``. Their loss and gradients are checked to agree to 1e-10
in float64 first.
"""
from common import compared, emit, interleaved, largest_difference, load_torch, machine_info, parse_args, torch_sgd

N, T, WIDTH, HEADS, HIDDEN = 32, 32, 64, 4, 256


def build(dtype):
    import numpy as np

    from graph import ComputationalGraph
    from graph.training.networks import causal_mask, transformer_block
    from losses import MeanSquaredError
    g = ComputationalGraph()
    x, target = g.input("x"), g.input("target")
    out = transformer_block(g, x, WIDTH, HEADS, HIDDEN, name="block", mask=causal_mask(T, dtype), seed=0, dtype=dtype)
    g.add(MeanSquaredError(), out, target, name="loss")
    rng = np.random.default_rng(1)
    feeds = {"x": rng.standard_normal((N, T, WIDTH)).astype(dtype),
             "target": rng.standard_normal((N, T, WIDTH)).astype(dtype)}
    return g, feeds


def torch_block(torch, params, x):
    F = torch.nn.functional
    p = params

    def attention(h):
        def heads(which):
            return (h @ p[f"block.attention.{which}.W"] + p[f"block.attention.{which}.b"]).reshape(
                N, T, HEADS, WIDTH // HEADS).transpose(1, 2)
        context = F.scaled_dot_product_attention(heads("q"), heads("k"), heads("v"), is_causal=True)
        merged = context.transpose(1, 2).reshape(N, T, WIDTH)
        return merged @ p["block.attention.out.W"] + p["block.attention.out.b"]

    h = x + attention(F.layer_norm(x, (WIDTH,), p["block.ln1.gamma"], p["block.ln1.beta"], eps=1e-5))
    ln2 = F.layer_norm(h, (WIDTH,), p["block.ln2.gamma"], p["block.ln2.beta"], eps=1e-5)
    return h + torch.relu(ln2 @ p["block.mlp1.W"] + p["block.mlp1.b"]) @ p["block.mlp2.W"] + p["block.mlp2.b"]


def torch_setup(torch, g, feeds):
    params = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in g.params.items()}
    x = torch.tensor(feeds["x"], requires_grad=True)
    target = torch.tensor(feeds["target"])

    def loss():
        return torch.nn.functional.mse_loss(torch_block(torch, params, x), target)
    return params, x, loss


def verify(torch):
    import numpy as np
    g, feeds = build(np.float64)
    loss, grads = g.forward(**feeds), g.backward()
    if torch is None:
        return float("nan")
    params, x, loss_of = torch_setup(torch, g, feeds)
    t_loss = loss_of()
    t_loss.backward()
    theirs = {"x": x.grad.numpy(), **{k: t.grad.numpy() for k, t in params.items()}}
    return largest_difference((loss, grads), [(t_loss.item(), theirs)])


def main():
    args = parse_args(__doc__, lambda p: p.add_argument("--dtypes", default="float32,float64"))
    import numpy as np

    from graph import SGD
    torch = load_torch(args)
    info = machine_info(torch)
    info["agreement (float64, max |difference|)"] = f"{verify(torch):.1e}"
    rows, lr = [], 1e-3
    for dtype_name in args.dtypes.split(","):
        g, feeds = build(np.dtype(dtype_name))
        opt = SGD(lr)

        def gg_step():
            g.forward(**feeds)
            g.backward()
            opt.step(g.params, g.grads)

        candidates = {"gategraph": gg_step}
        if torch is not None:
            params, x, loss_of = torch_setup(torch, g, feeds)

            candidates["torch"] = lambda: torch_sgd(torch, loss_of(), params.values(), lr, [x])
        rows.append({"dtype": dtype_name, **compared(interleaved(candidates, args.steps or 60), candidates)})
        print(f"... {dtype_name} done", flush=True)
    emit(args, f"transformer block SGD step, batch {N}, sequence {T}, width {WIDTH}, {HEADS} heads, MLP {HIDDEN} "
               "(median of interleaved steps)", info, rows, ["dtype", "gategraph ms", "iqr", "torch ms", "vs torch"],
         [f"gategraph: {len(g.nodes)} nodes, plain g.backward() (every gradient, the input's too); torch: eager, "
          "scaled_dot_product_attention, the same weights."])


if __name__ == "__main__":
    main()
