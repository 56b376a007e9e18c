"""A step-through player of the last forward and backward pass: one self-contained HTML page.

The steps: every gate forward in topological order (its inputs' values, its output),
then every gate backward from the output (upstream x local = downstream), with a step
of its own wherever a node's gradient is the sum of what several consumers sent, and
optionally each gate's numerical gradient check. The page keeps them as JSON in
``<script type="application/json" id="gategraph-steps">``; its script (``player.js``)
replays them on a picture of the graph laid out by `graph.layout`.
"""
import copy
import html
import json
import math
from importlib import resources

import numpy as np

from gates.check import check_gate

from . import layout
from .drawing import INSTALL_HINT, symbol
from .explain import describe, local_rule
from .saving import write_atomically

HEAT = 8          # a tensor's heat map shows at most HEAT x HEAT cells
FEW = 6           # and its first FEW numbers
CHECK_PROBES = 60    # elements probed per input by check=True (all of them when fewer): enough to catch a
                     # wrong rule, and an LSTM over a batch of 64 checks in seconds, not minutes


def summary(value):
    """What the page shows of a value: a number, or a tensor's shape, norm, first numbers and heat map."""
    if value is None:
        return None
    array = np.asarray(value)
    if array.ndim == 0:
        return {"scalar": _number(array)}
    flat = array.reshape(-1).astype(np.float64) if array.dtype.kind in "fiub" else np.zeros(array.size)
    grid = array.reshape(-1, array.shape[-1]) if array.ndim >= 2 else array.reshape(1, -1)
    grid = grid[:HEAT, :HEAT].astype(np.float64)
    return {"shape": list(array.shape), "dtype": str(array.dtype), "norm": _number(np.linalg.norm(flat)),
            "first": [_number(v) for v in flat[:FEW]], "heat": [[_number(v) for v in row] for row in grid],
            "min": _number(flat.min()) if flat.size else 0.0, "max": _number(flat.max()) if flat.size else 0.0}


def _number(v):
    v = float(v)
    return v if np.isfinite(v) else str(v)


def _short(value):
    """The text on an edge: a number to 4 digits, or a tensor's shape and norm."""
    return describe(value, 4)


class Player:
    """The steps of ``graph``'s last forward and backward pass, and the page that replays them.

    ``steps`` is a list of dicts, each with ``kind`` ("forward", "backward", "sum") and
    ``node``; ``html()`` is the page, ``save(path)`` writes it, and a notebook shows it
    inline. ``check=True`` runs each gate's numerical gradient check (at most
    CHECK_PROBES elements per input) and records the result on its backward step.
    ``layout`` is "auto" (Graphviz's when ``dot`` is installed, else our own layers),
    "layered" or "graphviz" (which needs ``dot``).
    """

    def __init__(self, graph, check=False, layout="auto"):
        if layout not in ("auto", "layered", "graphviz"):
            raise ValueError(f"layout must be 'auto', 'layered' or 'graphviz', got {layout!r}")
        if not graph.has_gradients:
            raise RuntimeError("step_through() replays the last pass: run forward and backward "
                               "(with keep=True, the default) first")
        self.graph, self.check, self.layout = graph, check, layout
        self.plan = graph.last_pass
        self.steps = self._forward_steps() + self._backward_steps()
        # the picture of this pass, taken now: a later pass changes the graph's values, not this player
        self._picture = self._take_picture()

    # --- the steps -------------------------------------------------------------

    def _forward_steps(self):
        return [{"kind": "forward", "node": node.name, "gate": type(node.gate).__name__,
                 "inputs": [{"name": p.name, "value": summary(p.value), "text": _short(p.value)} for p in parents],
                 "output": summary(node.value), "text": _short(node.value)}
                for node, parents in self.plan.gates]

    def _backward_steps(self):
        """Gates from the output back, each followed by the sums its gradients completed."""
        parts = {}      # node name -> [(consumer, gradient)] received so far
        expected = self._incoming_counts()
        steps = []
        for node, parents in reversed(self.plan.gates):
            if node.grad is None:
                continue
            names = [p.name for p in parents]
            step = {"kind": "backward", "node": node.name, "gate": type(node.gate).__name__,
                    "upstream": summary(node.grad), "upstream_text": _short(node.grad),
                    "rule": local_rule(node.gate, names, node.grad, node.downstream),
                    "downstream": [{"to": n, "index": i, "grad": summary(d), "text": _short(d)}
                                   for i, (n, d) in enumerate(zip(names, node.downstream)) if d is not None]}
            if self.check:
                step["check"] = self._check(node, parents)
            steps.append(step)
            for name, grad in zip(names, node.downstream):
                if grad is None:
                    continue
                parts.setdefault(name, []).append((node.name, grad))
                if len(parts[name]) == expected[name] >= 2:
                    steps.append(self._sum_step(name, parts[name]))
        return steps

    def _incoming_counts(self):
        """How many gradients each node receives in this backward: one per edge into a gate that sends one."""
        counts = {}
        for node, parents in self.plan.gates:
            if node.grad is None:
                continue
            for parent, grad in zip(parents, node.downstream):
                if grad is not None:
                    counts[parent.name] = counts.get(parent.name, 0) + 1
        return counts

    def _sum_step(self, name, received):
        total = self.graph.node(name).grad
        return {"kind": "sum", "node": name,
                "parts": [{"from": consumer, "grad": summary(g), "text": _short(g)} for consumer, g in received],
                "total": summary(total), "text": _short(total)}

    def _check(self, node, parents):
        """The gate's numerical gradient check on the inputs it saw and the upstream gradient it got."""
        gate = copy.deepcopy(node.gate)
        gate.needs_input_grad = None
        # an integer input the gate sent a gradient to is data fed as integers (the tour's x=-2),
        # not labels: check it as floats, as the gate computed it
        downstream = node.downstream or (None,) * len(parents)
        inputs = [p.value if grad is None or np.result_type(p.value).kind not in "iub" else
                  np.asarray(p.value, dtype=np.float64) for p, grad in zip(parents, downstream)]
        # inputs the gate sent nothing to (labels, one-hot or not) are held as they are
        fixed = tuple(i for i, grad in enumerate(downstream) if grad is None)
        probed = [int(np.size(x)) for i, x in enumerate(inputs) if i not in fixed]
        sampled = any(n > CHECK_PROBES for n in probed)
        scope = (f"; probed at most {CHECK_PROBES} elements of each input (of {max(probed)})" if sampled else "")
        try:
            errors = check_gate(gate, *inputs, dout=np.asarray(node.grad, dtype=np.float64), max_probes=CHECK_PROBES,
                                fixed=fixed)
        except (AssertionError, ValueError, TypeError, FloatingPointError) as error:
            return {"passed": False, "message": f"{error}{scope}"}
        worst = max((e for e in errors if e is not None), default=0.0)
        return {"passed": True, "worst": worst,
                "message": f"analytic == numerical (allclose rtol 1e-6, atol 1e-8); worst rel_error {worst:.1e}{scope}"}

    # --- the page --------------------------------------------------------------

    def picture(self):
        """Nodes with positions, kinds and labels, and edges with their forward texts, for the page:
        as they were when the player was made."""
        return self._picture

    def _take_picture(self):
        order = self.graph.nodes_topologically_sorted()
        names = [n.name for n in order if n.name in self.plan.names]
        parents = {n.name: list(n.input_names) for n in order if n.name in self.plan.names}
        positions, how = None, "layered"
        if self.layout != "layered":
            positions, how = layout.graphviz(names, parents), "graphviz"
            if positions is None and self.layout == "graphviz":
                raise RuntimeError(f"layout='graphviz' needs Graphviz: {INSTALL_HINT}")
        if positions is None or not set(names) <= set(positions):
            positions, how = layout.layered(names, parents), "layered"
        nodes = []
        for name in names:
            node = self.graph.node(name)
            x, y = positions[name]
            nodes.append({"name": name, "kind": node.kind, "x": round(x, 1), "y": round(y, 1),
                          "gate": type(node.gate).__name__ if node.gate is not None else node.kind,
                          "symbol": symbol(node.gate) if node.gate is not None else name,
                          "value": summary(node.value) if node.kind != "gate" else None,
                          "text": _short(node.value) if node.kind != "gate" else ""})
        edges = [{"from": p, "to": name, "index": i} for name in names for i, p in enumerate(parents[name])]
        output = self.plan.output
        return {"nodes": nodes, "edges": edges, "output": output.name, "layout": how,
                "result": {"value": summary(output.value), "text": _short(output.value),
                           "grad_text": _short(output.grad)}}

    def html(self):
        """The whole page: style, picture, steps and script inline; it loads nothing from the network."""
        assets = resources.files(__package__)
        script = assets.joinpath("player.js").read_text()
        style = assets.joinpath("player.css").read_text()
        steps_json, picture_json = _script_json(self.steps), _script_json(self.picture())
        title = html.escape(f"gategraph: stepping through {self.plan.output.name}")
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<style>{style}</style></head>
<body><div class="gg-player" tabindex="0">
<div class="gg-controls">
<button data-action="first" title="first step (Home)">&laquo; first</button>
<button data-action="prev" title="previous step (left arrow)">&lsaquo; prev</button>
<button data-action="play" title="play / pause (space)">play</button>
<button data-action="next" title="next step (right arrow)">next &rsaquo;</button>
<button data-action="last" title="last step (End)">last &raquo;</button>
<span class="gg-counter" data-counter></span>
<span class="gg-phase" data-phase></span>
</div>
<div class="gg-main"><div class="gg-scroll"><svg class="gg-graph" xmlns="http://www.w3.org/2000/svg"></svg></div>
<div class="gg-panel" data-panel></div></div>
</div>
<script type="application/json" id="gategraph-steps">{steps_json}</script>
<script type="application/json" id="gategraph-picture">{picture_json}</script>
<script>{script}</script>
</body></html>
"""

    def save(self, path):
        """Write the page to ``path`` (one self-contained HTML file), atomically: the page is made
        first, and a file already at ``path`` is replaced whole or left as it was; returns the path."""
        page = self.html()
        write_atomically(path, page.encode("utf-8"))
        return path

    def _repr_html_(self):
        # An iframe keeps the page's ids and script apart from the notebook's own page.
        return (f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" '
                'style="width: 100%; height: 560px; border: 1px solid #ddd;"></iframe>')

    def __repr__(self):
        kinds = [s["kind"] for s in self.steps]
        return (f"<Player: {kinds.count('forward')} forward, {kinds.count('backward')} backward, "
                f"{kinds.count('sum')} sum steps>")


def _finite(data):
    """``data`` with every NaN or infinity written as a string ("nan", "inf"): JSON has no such numbers."""
    if isinstance(data, float):
        return data if math.isfinite(data) else str(data)
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(value) for value in data]
    return data


def _script_json(data):
    """JSON that ``JSON.parse`` reads and that is inert inside a <script> element: ``<``, ``>`` and
    ``&`` escaped (no ``</script>`` or ``<!--`` can end or change it), no NaN."""
    text = json.dumps(_finite(data), separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
