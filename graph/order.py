"""Order: Kahn's topological sort, the ancestor walk, and the plans forward and backward follow."""
from collections import deque


def topological_order(parents, describe=repr):
    """Order the keys of ``parents`` (name -> list of parent names) so parents come first.

    Ties keep the dict's order, so the result is deterministic. A parent that is
    no key, or a cycle, raises ValueError naming the nodes (``describe(name)``).
    """
    for name, names in parents.items():
        for parent in names:
            if parent not in parents:
                raise ValueError(f"node {describe(name)} takes input {parent!r}, but no node is named {parent!r}")
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


def ancestors(parents, name):
    """``name`` and every node it depends on (a set of names)."""
    found, stack = set(), [name]
    while stack:
        name = stack.pop()
        if name not in found:
            found.add(name)
            stack.extend(parents[name])
    return found


class Plan:
    """What one forward and the backward after it walk: nodes in order, and the output among them.

    ``gates`` pairs every gate node with its parent nodes, resolved once here
    rather than at every step. ``needs(with_inputs)`` says, for each gate, which
    of its inputs lead back to a leaf that wants a gradient: the params, and the
    inputs too unless a training step asked to skip them. A gate missing from it
    has nothing to send back and is skipped.
    """

    def __init__(self, nodes, output):
        self.nodes, self.output = nodes, output
        self.names = {node.name for node in nodes}
        self.inputs = [node.name for node in nodes if node.kind == "input"]
        self.params = [node for node in nodes if node.kind == "param"]
        by_name = {node.name: node for node in nodes}
        self.gates = [(node, tuple(by_name[n] for n in node.input_names))
                      for node in nodes if node.kind == "gate"]
        self._needs = {with_inputs: self._which_inputs(with_inputs) for with_inputs in (True, False)}

    def needs(self, with_inputs):
        """gate node name -> one bool per input: does a gradient have to flow back through it."""
        return self._needs[bool(with_inputs)]

    def _which_inputs(self, with_inputs):
        wanted = {node.name for node in self.nodes
                  if node.kind == "param" or (with_inputs and node.kind == "input")}
        needs = {}
        for node, parents in self.gates:
            flags = tuple(p.name in wanted for p in parents)
            if any(flags):
                wanted.add(node.name)
                needs[node.name] = flags
        return needs
