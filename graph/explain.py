"""The backward pass as a table: for each gate, downstream = local x upstream."""
import html

import numpy as np


def describe(value, digits=4):
    """A scalar as a short number; an array as its shape and norm."""
    if value is None:
        return "-"
    if np.ndim(value) == 0:
        return f"{float(value):.{digits}g}"
    return f"{np.shape(value)} |.|={float(np.linalg.norm(value)):.{digits}g}"


class BackwardTable:
    """Rows of (node, gate, inputs, upstream, local, downstream), in backward order.

    ``rows`` holds the raw values; ``str()`` renders a text table and
    ``_repr_html_`` an HTML one in notebooks.
    """

    columns = ("node", "gate", "inputs", "upstream", "local gradient", "downstream")

    def __init__(self, rows):
        self.rows = rows

    def cells(self):
        return [tuple(row[c] if isinstance(row[c], str) else describe(row[c]) for c in
                      ("node", "gate", "inputs", "upstream", "local", "downstream")) for row in self.rows]

    def __str__(self):
        cells = [self.columns] + self.cells()
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = ["  ".join(text.ljust(w) for text, w in zip(row, widths)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self):
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self.cells())
        return f"<table><tr>{head}</tr>{body}</table>"


def local_rule(gate, inputs, upstream, downstream):
    """The rule in words, plus its numbers when everything is a scalar (local = downstream / upstream)."""
    try:
        rule = (gate.rule or "see backward").format(*inputs)
    except (IndexError, KeyError, ValueError):   # a user's rule with braces of its own
        rule = gate.rule
    scalars = [d for d in downstream if d is not None]
    if np.ndim(upstream) == 0 and float(upstream) != 0 and all(np.ndim(d) == 0 for d in scalars):
        numbers = ", ".join(f"d/d{name}={describe(float(d) / float(upstream))}"
                            for name, d in zip(inputs, downstream) if d is not None)
        return f"{rule}: {numbers}"
    return rule


def explain(graph):
    """One row per gate the last backward ran, from the output back to the inputs."""
    if not graph.has_gradients:
        raise RuntimeError("explain() reads the last backward pass: run forward and backward "
                           "(with keep=True, the default) first")
    rows = []
    for node, parents in reversed(graph.last_pass.gates):
        names = [p.name for p in parents]
        downstream = node.downstream if node.grad is not None else (None,) * len(parents)
        rows.append({
            "node": node.name,
            "gate": type(node.gate).__name__,
            "inputs": ", ".join(f"{p.name}={describe(p.value)}" for p in parents),
            "upstream": node.grad,
            "local": local_rule(node.gate, names, node.grad, downstream),
            "downstream": ", ".join(f"{n}: {describe(d)}" for n, d in zip(names, downstream)),
        })
    return BackwardTable(rows)
