"""Pictures of a graph: Graphviz DOT with forward values and gradients on the edges."""
import html
import shutil
import subprocess

from .explain import describe

INSTALL_HINT = ("drawing needs Graphviz's `dot` program: install it with "
                "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) "
                "or `conda install graphviz`")

# The usual symbols of the lecture figures, for the picture and the player alike; other gates
# show their class name.
SYMBOLS = {"Add": "+", "Subtract": "\u2212", "Multiply": "\u00d7", "Divide": "\u00f7", "Max": "max", "Exp": "exp",
           "Log": "log", "Square": "x\u00b2", "Sigmoid": "\u03c3", "Tanh": "tanh", "ReLU": "ReLU", "MatMul": "@",
           "Power": "x^p", "Sum": "\u03a3", "Mean": "mean", "Amax": "max", "Abs": "|x|"}


def symbol(gate):
    """What a gate is drawn as: its symbol, or its class name."""
    name = type(gate).__name__
    return SYMBOLS.get(name, name)


def _quote(*lines):
    """A DOT string of ``lines`` joined by line breaks; backslashes and quotes in them are escaped,
    so that no name (one ending in a backslash, one holding a quote) can end the string early."""
    return '"' + "\\n".join(str(line).replace("\\", "\\\\").replace('"', '\\"') for line in lines) + '"'


def _edge_label(value, grad):
    """The value above the edge in black, its gradient below in red (HTML-like label)."""
    parts = [html.escape(describe(value, 3))]
    if grad is not None:
        parts.append(f'<font color="red">{html.escape(describe(grad, 3))}</font>')
    return "<" + "<br/>".join(parts) + ">"


def to_dot(graph):
    """DOT source: one node per leaf and gate, labelled with name and type; values and gradients on edges."""
    ran = graph.last_pass
    computed = ran.names if ran is not None else set()
    has_grads = graph.has_gradients
    lines = ["digraph gategraph {", "  rankdir=LR;", '  node [fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    for node in graph.nodes_topologically_sorted():
        if node.kind == "gate":
            kind, drawn = type(node.gate).__name__, symbol(node.gate)
            label = _quote(node.name, drawn) if drawn == kind else _quote(drawn, f"{node.name} ({kind})")
            lines.append(f"  {_quote(node.name)} [shape=circle, label={label}];")
        else:
            shape = "box" if node.kind == "input" else "box, style=rounded"
            label = _quote(node.name, node.kind)
            lines.append(f"  {_quote(node.name)} [shape={shape}, label={label}];")
    for node in graph.nodes_topologically_sorted():
        for i, parent in enumerate(node.input_names):
            attrs = ""
            if node.name in computed:
                grad = node.downstream[i] if has_grads and node.grad is not None else None
                attrs = f" [label={_edge_label(graph.node(parent).value, grad)}]"
            lines.append(f"  {_quote(parent)} -> {_quote(node.name)}{attrs};")
    if ran is not None:
        out = ran.output
        taken = {node.name for node in graph.nodes}
        marker = _quote(next(name for k in range(len(taken) + 1)    # a name no node has
                             if (name := "__result__" + "_" * k) not in taken))
        lines.append(f"  {marker} [shape=plaintext, label=\"\"];")
        lines.append(f"  {_quote(out.name)} -> {marker} "
                     f"[label={_edge_label(out.value, out.grad if has_grads else None)}];")
    lines.append("}")
    return "\n".join(lines)


def dot_program():
    """The path of Graphviz's ``dot``, or RuntimeError saying what to install."""
    path = shutil.which("dot")
    if path is None:
        raise RuntimeError(INSTALL_HINT)
    return path


def run_dot(source, format):
    """The output of ``dot -T<format>`` on DOT ``source``: the one place Graphviz runs. RuntimeError
    saying what to install without it, or what dot said when it fails."""
    result = subprocess.run([dot_program(), f"-T{format}"], input=source.encode(), capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"dot failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def render(source, path=None, format="svg"):
    """Run ``dot -T<format>`` on DOT ``source``; write to ``path`` if given, else return the bytes."""
    output = run_dot(source, format)
    if path is None:
        return output
    with open(path, "wb") as f:
        f.write(output)
    return path


def mimebundle(graph):
    """What a notebook shows: the SVG picture, or the DOT text and what to install."""
    source = graph.to_dot()
    try:
        svg = render(source).decode()
    except RuntimeError as error:
        return {"text/plain": f"{error}\n\n{source}"}
    return {"image/svg+xml": svg, "text/plain": repr(graph)}


