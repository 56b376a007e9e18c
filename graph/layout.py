"""Where to draw each node of a graph, left to right: Graphviz's layout when ``dot`` exists,
otherwise our own (layers by topological depth, ordered within a layer to keep edges short)."""
from .drawing import run_dot

LAYER_GAP, ROW_GAP, MARGIN = 190.0, 90.0, 80.0


def layered(names, parents):
    """Positions {name: (x, y)} with x by depth (longest path from a leaf) and y by order in the layer.

    ``names`` are in topological order; ``parents`` maps a name to its parent names.
    The order within each layer follows the mean position of the node's neighbours
    (the barycenter heuristic), swept forward and back a few times, so edges stay short.
    """
    depth = {}
    for name in names:
        depth[name] = 1 + max((depth[p] for p in parents[name]), default=-1)
    children = {name: [] for name in names}
    for name in names:
        for p in parents[name]:
            children[p].append(name)
    # a leaf sits one layer before its first consumer, not far left in layer 0
    for name in reversed(names):
        if not parents[name] and children[name]:
            depth[name] = min(depth[c] for c in children[name]) - 1
    layers = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in names:
        layers[depth[name]].append(name)
    row = {name: float(i) for layer in layers for i, name in enumerate(layer)}
    for sweep in range(4):
        ordered = layers if sweep % 2 == 0 else layers[::-1]
        for layer in ordered:
            neighbours = {n: (parents[n] if sweep % 2 == 0 else children[n]) for n in layer}
            key = {n: (sum(row[m] for m in neighbours[n]) / len(neighbours[n]) if neighbours[n] else row[n])
                   for n in layer}
            layer.sort(key=lambda n: key[n])
            for i, n in enumerate(layer):
                row[n] = float(i)
    tallest = max((len(layer) for layer in layers), default=1)
    positions = {}
    for d, layer in enumerate(layers):
        offset = (tallest - len(layer)) * ROW_GAP / 2     # centre each layer vertically
        for i, name in enumerate(layer):
            positions[name] = (MARGIN + d * LAYER_GAP, MARGIN + offset + i * ROW_GAP)
    return positions


def graphviz(names, parents):
    """Positions {name: (x, y)} from Graphviz's ``dot`` (structure only: no labels), or None without it."""
    ids = {name: f"n{k}" for k, name in enumerate(names)}    # DOT-safe ids, whatever the names hold
    lines = ["digraph { rankdir=LR; ranksep=1.1; nodesep=0.75;",
             '  node [shape=box, width=0.8, height=0.5, fixedsize=true, label=""];']
    lines += [f"  {ids[p]} -> {ids[name]};" for name in names for p in parents[name]]
    lines += [f"  {ids[name]};" for name in names]
    try:
        plain = run_dot("\n".join(lines) + "\n}", "plain")
    except RuntimeError:      # no Graphviz (or it failed): the caller lays the graph out itself
        return None
    words = [line.split() for line in plain.decode(errors="replace").splitlines()]
    height = next(float(w[3]) for w in words if w and w[0] == "graph")
    placed = {w[1]: (float(w[2]), float(w[3])) for w in words if w and w[0] == "node"}
    scale = 100.0    # pixels per inch of dot's layout
    return {name: (MARGIN + placed[i][0] * scale, MARGIN + (height - placed[i][1]) * scale)
            for name, i in ids.items() if i in placed}
