"""Per-gate dispatch overhead of the graph: a chain of 100 tiny gates on 2x2 arrays.

    python benchmarks/gate_overhead.py [--steps N] [--json PATH]

Forward and backward through the chain three ways: the graph, the same gate
objects called by hand, and the same numpy operations written inline. The
graph's overhead per gate per pass is (graph - inline numpy) / (gates x 2).
"""
from common import emit, interleaved, machine_info, parse_args

GATES = 100


def main():
    args = parse_args(__doc__)
    import numpy as np

    from gates import Add, Multiply, Tanh
    from graph import ComputationalGraph
    rng = np.random.default_rng(0)
    x0, c = rng.standard_normal((2, 2)), rng.uniform(0.5, 1.0, (2, 2))
    kinds = [Tanh, Multiply, Add]   # Multiply and Add take the param c as their second input

    g = ComputationalGraph()
    node = g.input("x")
    g.param("c", c)
    chain = []
    for i in range(GATES):
        gate = kinds[i % 3]()
        chain.append(gate)
        node = g.add(gate, node, "c") if not isinstance(gate, Tanh) else g.add(gate, node)
    g.add(Add(), node, "c", name="out")   # makes the output a gate node like the rest
    dout = np.ones((2, 2))

    def graph_step():
        g.forward(x=x0)
        g.backward(dout, inputs=False, keep=False)

    def gates_by_hand():
        h = x0
        for gate in chain:
            h = gate.forward(h) if isinstance(gate, Tanh) else gate.forward(h, c)
        d, dc = dout, np.zeros_like(c)
        for gate in reversed(chain):
            if isinstance(gate, Tanh):
                d = gate.backward(d)
            else:
                d, dci = gate.backward(d)
                dc = dc + dci
        return d, dc

    def inline_numpy():
        h, saved = x0, []
        for i in range(GATES):
            kind = i % 3
            saved.append(h)
            h = np.tanh(h) if kind == 0 else (h * c if kind == 1 else h + c)
            if kind == 0:
                saved[-1] = h
        d, dc = dout, np.zeros_like(c)
        for i in reversed(range(GATES)):
            kind = i % 3
            if kind == 0:
                d = d * (1 - saved[i] * saved[i])
            elif kind == 1:
                dc = dc + d * saved[i]
                d = d * c
            else:
                dc = dc + d
        return d, dc

    graph_step()
    np.testing.assert_allclose(g.grads["c"] - dout, gates_by_hand()[1])   # same numbers (out adds dout to c)
    np.testing.assert_allclose(gates_by_hand()[1], inline_numpy()[1])
    t = interleaved({"graph": graph_step, "gates by hand": gates_by_hand, "inline numpy": inline_numpy},
                    args.steps or 2000)
    base = t["inline numpy"]["median"]
    rows = [{"how": name, "forward+backward us": f"{r['median'] * 1e6:.1f}", "iqr us": f"{r['iqr'] * 1e6:.1f}",
             "us per gate per pass": f"{r['median'] * 1e6 / (GATES * 2):.2f}",
             "overhead vs inline, us per gate per pass": f"{(r['median'] - base) * 1e6 / (GATES * 2):.2f}"}
            for name, r in t.items()]
    emit(args, f"graph dispatch overhead: a chain of {GATES} gates on 2x2 float64 arrays", machine_info(), rows,
         list(rows[0]))


if __name__ == "__main__":
    main()
