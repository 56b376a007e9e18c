"""Kahn's algorithm, as a pure function on names."""
from collections import deque


def topological_order(parents):
    """Order the keys of ``parents`` (name -> list of parent names) so parents come first.

    Ties keep the dict's order, so the result is deterministic. A cycle raises
    ValueError naming the nodes on it.
    """
    children = {name: [] for name in parents}
    indegree = {name: 0 for name in parents}
    for name, names in parents.items():
        for parent in names:
            children[parent].append(name)
            indegree[name] += 1
    ready = deque(name for name, d in indegree.items() if d == 0)
    order = []
    while ready:
        name = ready.popleft()
        order.append(name)
        for child in children[name]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) < len(parents):
        cycle = _find_cycle(parents, {name for name, d in indegree.items() if d > 0})
        raise ValueError(f"the graph has a cycle: {' -> '.join(cycle + cycle[:1])}")
    return order


def _find_cycle(parents, stuck):
    """One cycle among the nodes Kahn's algorithm could not order.

    Every stuck node has a stuck parent, so walking from parent to parent must
    revisit a node; the walk from that node on is the cycle (children first).
    """
    seen, walk = {}, []
    name = next(iter(stuck))
    while name not in seen:
        seen[name] = len(walk)
        walk.append(name)
        name = next(p for p in parents[name] if p in stuck)
    return list(reversed(walk[seen[name]:]))
