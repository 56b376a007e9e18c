"""ComputationalGraph: gates wired into a DAG, run forward in topological order and backward in reverse."""
import contextlib
import itertools

import numpy as np

from . import saving
from .expressions import Expressions
from .order import Plan, ancestors, topological_order
from .running import GradientSums, as_tuple, checked_feeds, float_array, run_gate, seed

RESERVED = "output"


class Node(Expressions):
    """One vertex of the graph: an input, a param, a constant, or a gate applied to other nodes.

    ``value`` is its forward value, ``grad`` its upstream gradient dL/d(node),
    ``downstream`` (gates) the gradient it sent to each of its inputs. Nodes take Python's
    operators, indexing and a few methods (`Expressions`), so a graph can be written as its
    formula: ``((x + y) * z).sum()``.
    """

    __slots__ = ("graph", "name", "kind", "gate", "input_names", "value", "grad", "downstream")

    def __init__(self, graph, name, kind, gate=None, input_names=()):
        self.graph, self.name, self.kind, self.gate = graph, name, kind, gate
        self.input_names = tuple(input_names)
        self.value = self.grad = None
        self.downstream = ()   # the gradients this gate sent to each input in the last backward

    @property
    def label(self):
        """``name (GateClass)`` for gates, ``name (input)`` / ``name (param)`` for leaves."""
        return f"{self.name} ({type(self.gate).__name__ if self.gate is not None else self.kind})"

    def named(self, name):
        """Rename this node to ``name``; returns the node, so ``(x + y).named("q")`` reads as written."""
        self.graph._rename(self, name)
        return self

    def __repr__(self):
        return f"<Node {self.label}>"


class ComputationalGraph:
    """A DAG of gates, run forward in topological order and backward in reverse.

    - ``input(name)``: a leaf fed at every ``forward``; ``param(name, value)``: a learned
      leaf whose array optimizers update in place (``params``, and ``grads`` after backward);
      ``add(gate, *inputs, name=None)``: wire a gate to nodes or node names (possibly of
      nodes added later). Names are unique; a gate instance sits in one node only.
    - ``forward(**feeds)`` runs every gate and returns the output (the gate added last,
      or ``set_output``); ``forward(output=node, ...)`` runs only that node's ancestors.
    - ``backward(dout=None)`` walks back from the output, **adding** gradients where a
      node feeds several gates, and returns dL/d(leaf) for every input and param.
      It may run again after one forward: gradients are recomputed, never accumulated.
    - ``value(name)`` and ``grad(name)`` read any node's value and upstream gradient.
    A gate's error names its node and the shapes; a failed forward or backward leaves
    the params as they were.
    """

    def __init__(self):
        self._nodes = {}
        self._gate_nodes = {}     # id(gate) -> node name: a gate instance sits in one node
        self._last_number = {}    # default names: prefix -> the last k of "prefix_k" given
        self.params = {}
        self.grads = {}
        self._output = None       # name chosen by set_output
        self._last_gate = None    # name of the gate node added last
        self._order = None        # every node in topological order, cached until the graph changes
        self._plans = {}
        self._ran = None          # the plan the last successful forward ran
        self._backward_done = False
        self._kept = True         # whether the last backward kept the gate nodes' gradients
        self._input_names = []    # every input, in the order added: the keys backward returns

    # --- building -----------------------------------------------------------

    def _new_node(self, name, kind, gate=None, input_names=()):
        self._check_new_name(name)
        node = self._nodes[name] = Node(self, name, kind, gate, input_names)
        self._changed()
        return node

    def _check_new_name(self, name):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a node name must be a non-empty string, got {name!r}")
        if name == RESERVED:
            raise ValueError(f"{RESERVED!r} is reserved (forward(output=...) chooses the output node); "
                             "choose another name")
        if name in self._nodes:
            raise ValueError(f"a node named {name!r} exists already: {self._nodes[name]!r}")

    def _changed(self):
        self._order, self._plans, self._ran = None, {}, None

    def input(self, name):
        """A leaf fed at every forward call: ``g.forward(name=array)``."""
        node = self._new_node(name, "input")
        self._input_names.append(name)
        return node

    def param(self, name, value):
        """A learned leaf; ``g.params[name]`` is this very array, updated in place by optimizers."""
        value = float_array(value, f"param {name!r}")
        node = self._new_node(name, "param")
        node.value = self.params[name] = value
        return node

    def const(self, value, name=None):
        """A constant leaf: neither fed nor learned, absent from what ``backward`` returns."""
        node = self._new_node(name or self._default_name("const"), "const")
        node.value = value if np.ndim(value) == 0 else float_array(value, "a constant")
        return node

    def add(self, gate, *inputs, name=None):
        """Wire ``gate`` to ``inputs`` (nodes or names, possibly of nodes added later); returns the node."""
        if isinstance(gate, type):
            raise TypeError(f"add() takes a gate instance, got the class {gate.__name__}: write {gate.__name__}() "
                            "(each node needs a gate of its own)")
        if not (callable(getattr(gate, "forward", None)) and callable(getattr(gate, "backward", None))):
            raise TypeError(f"add() takes a gate (with forward and backward), got {gate!r}")
        if id(gate) in self._gate_nodes:
            raise ValueError(f"this {type(gate).__name__} instance already sits in node "
                             f"{self._gate_nodes[id(gate)]!r}; a gate caches one forward pass, so give each "
                             "node its own gate (to share weights, feed one param node to two gates)")
        input_names = [self._name_of(x) for x in inputs]
        node = self._new_node(name or self._default_name(type(gate).__name__), "gate", gate, input_names)
        self._gate_nodes[id(gate)] = node.name
        self._last_gate = node.name
        return node

    @contextlib.contextmanager
    def atomic(self):
        """A block of building that happens whole or not at all: when it raises, every node and param
        it added is taken away again and the output is what it was (``with g.atomic(): ...``)."""
        kept = (dict(self._nodes), dict(self._gate_nodes), dict(self._last_number), dict(self.params),
                self._output, self._last_gate, list(self._input_names))
        try:
            yield self
        except BaseException:
            (self._nodes, self._gate_nodes, self._last_number, self.params, self._output, self._last_gate,
             self._input_names) = kept
            self._changed()
            raise

    def set_output(self, node):
        """Make ``node`` (a node or name) what forward returns and backward starts from."""
        self._output = self._name_of(node)
        self._changed()

    def _name_of(self, node):
        if isinstance(node, Node):
            if self._nodes.get(node.name) is not node:
                raise ValueError(f"node {node.name!r} belongs to another graph")
            return node.name
        if isinstance(node, str):
            return node
        raise TypeError(f"expected a node or a node's name, got {node!r}")

    def _operand(self, other):
        """The other side of an operator: a node (``add`` refuses one of another graph), or a
        number or array, which becomes a constant."""
        return other if isinstance(other, Node) else self.const(other)

    def _rename(self, node, name):
        if name == node.name:
            return
        self._check_new_name(name)
        old = node.name
        self._nodes = {(name if key == old else key): value for key, value in self._nodes.items()}
        for other in self._nodes.values():
            other.input_names = tuple(name if n == old else n for n in other.input_names)
        if node.kind == "param":
            self.params = {(name if key == old else key): value for key, value in self.params.items()}
        if node.gate is not None:
            self._gate_nodes[id(node.gate)] = name
        self._input_names = [name if n == old else n for n in self._input_names]
        self._output = name if self._output == old else self._output
        self._last_gate = name if self._last_gate == old else self._last_gate
        node.name = name
        self._changed()

    def _default_name(self, prefix):
        # counting on from the last number given to this prefix keeps building linear in size
        start = self._last_number.get(prefix, 0) + 1
        k = next(k for k in itertools.count(start) if f"{prefix}_{k}" not in self._nodes)
        self._last_number[prefix] = k
        return f"{prefix}_{k}"

    # --- order ----------------------------------------------------------------

    def node(self, name):
        """The Node called ``name``."""
        try:
            return self._nodes[name]
        except KeyError:
            raise ValueError(f"no node is named {name!r}; the graph has {list(self._nodes)}") from None

    @property
    def nodes(self):
        """Every node, in the order added."""
        return list(self._nodes.values())

    def nodes_topologically_sorted(self):
        """Every node, parents before children: the order forward runs them."""
        if self._order is None:
            parents = {name: node.input_names for name, node in self._nodes.items()}
            self._order = [self._nodes[name] for name in topological_order(parents, lambda n: self._nodes[n].label)]
        return list(self._order)

    def _plan(self, output):
        """Every node for the default output; only its ancestors for an output asked for by name."""
        if output not in self._plans:
            order = self.nodes_topologically_sorted()
            if output is not None:
                keep = ancestors({n.name: n.input_names for n in order}, self.node(output).name)
                order = [node for node in order if node.name in keep]
            self._plans[output] = Plan(order, self.node(output or self.output_name))
        return self._plans[output]

    @property
    def output_name(self):
        """The node forward returns by default."""
        name = self._output or self._last_gate
        if name is None:
            raise ValueError("the graph has no gate yet: add() one, or set_output() a node")
        return name

    # --- running --------------------------------------------------------------

    def forward(self, output=None, **feeds):
        """Feed the inputs, run the gates in topological order, return the output's value.

        With ``output=None`` every gate runs and the graph's output is returned;
        with ``output=node`` only that node's ancestors run (and need feeds).
        """
        plan = self._plan(None if output is None else self._name_of(output))
        self._ran = None
        feeds = checked_feeds(plan, feeds, self.node)
        # Drop the last pass's gradients now, not when the next backward replaces
        # them: otherwise both generations are alive at once (peak memory).
        self._backward_done, self.grads = False, {}
        for node in plan.nodes:
            node.grad, node.downstream = None, ()
        for name, value in feeds.items():
            self._nodes[name].value = value
        for node in plan.params:
            node.value = self.params[node.name]
        for node, parents in plan.gates:
            node.value = run_gate(node, "forward", node.gate.forward, *[p.value for p in parents])
            if node.value is None:
                raise TypeError(f"{node.label}: forward returned None; a gate's forward must return its output")
        self._ran = plan
        return plan.output.value

    def backward(self, dout=None, inputs=True, keep=True):
        """Run the gates in reverse order from the output, adding gradients where a node fans out.

        ``dout`` is dL/d(output), ones by default. Returns a dict from every input and
        param name to its gradient (None for an input no gradient reaches, such as
        integer labels; zeros for a param the output does not use). A training step
        may pass ``inputs=False`` (skip the work only input gradients need; inputs get
        None) and ``keep=False`` (let each gate node's gradient go once used, so the
        step holds no more than hand-written code; ``grad()`` then answers for leaves only).
        """
        plan = self._ran
        if plan is None:
            raise RuntimeError("backward needs a forward pass first (none ran since the graph "
                               "last changed, or the last one failed)")
        grads = GradientSums(plan.output, seed(plan.output, dout))
        needs = plan.needs(inputs)
        # what each gate sends back is written onto the nodes only once the whole pass has run,
        # so that a pass that fails half-way leaves the last one whole
        sent = {}
        for node, parents in reversed(plan.gates):
            upstream = grads.get(node.name) if keep else grads.pop(node.name)
            if upstream is None or node.name not in needs:
                continue
            downstream = run_gate(node, "backward", node.gate.backward, upstream, needs=needs[node.name])
            downstream = (downstream,) if len(parents) == 1 else as_tuple(node, parents, downstream)
            if keep:
                sent[node.name] = downstream
            for parent, grad in zip(parents, downstream):
                if grad is not None:
                    grads.add(node, parent, grad)
        return self._finish_backward(plan, grads.sums, sent, keep)

    def _finish_backward(self, plan, grads, sent, keep):
        for node in plan.nodes:
            node.grad, node.downstream = grads.get(node.name), sent.get(node.name, ())
        self._kept, self._backward_done = keep, True
        self.grads = {name: (grads[name] if grads.get(name) is not None else np.zeros_like(value))
                      for name, value in self.params.items()}
        return {**{name: grads.get(name) for name in self._input_names}, **self.grads}

    # --- reading the last pass ------------------------------------------------

    @property
    def last_pass(self):
        """The plan the last successful forward ran (nodes, gates with their parents, output), or None."""
        return self._ran

    @property
    def has_gradients(self):
        """Whether the last forward was followed by a backward that kept every node's gradient."""
        return self._ran is not None and self._backward_done and self._kept

    def _computed(self, name):
        node = self.node(name)
        if self._ran is None or name not in self._ran.names:
            raise RuntimeError(f"node {node.label} has no value: run forward first"
                               + (" (the last forward did not need it)" if self._ran else ""))
        return node

    def value(self, name):
        """The forward value of node ``name`` from the last forward."""
        return self._computed(name).value

    def grad(self, name):
        """dL/d(node ``name``), its upstream gradient, from the last backward (None if none reached it)."""
        node = self._computed(name)
        if not self._backward_done:
            raise RuntimeError(f"node {node.label} has no gradient: run backward first")
        if node.kind == "gate" and not self._kept:
            raise RuntimeError(f"node {node.label}: the last backward ran with keep=False and let "
                               "the gradients of gate nodes go; run backward() to keep them")
        return node.grad

    def train(self):
        """Training mode for every gate (Dropout drops, BatchNorm uses batch statistics)."""
        return self._set_training(True)

    def eval(self):
        """Evaluation mode for every gate (Dropout is the identity, BatchNorm uses running statistics)."""
        return self._set_training(False)

    def _set_training(self, flag):
        for node in self._nodes.values():
            if node.gate is not None:
                node.gate.training = flag
        return self

    # --- views and files ------------------------------------------------------

    def explain(self):
        """The backward pass as a table: per gate, upstream x local = downstream."""
        from .explain import explain
        return explain(self)

    def to_dot(self):
        """Graphviz DOT source: values above and gradients below each edge, once computed."""
        from .drawing import to_dot
        return to_dot(self)

    def draw(self, path=None, format="svg"):
        """Render the graph with Graphviz's ``dot``; write to ``path`` or return the bytes."""
        from .drawing import render
        return render(self.to_dot(), path, format)

    def step_through(self, check=False, layout="auto"):
        """A player of the last forward and backward pass, gate by gate: shown inline in a notebook,
        written by ``.save(path)`` as one self-contained HTML file (see ``graph.player``)."""
        from .player import Player
        return Player(self, check=check, layout=layout)

    def _repr_mimebundle_(self, include=None, exclude=None):
        from .drawing import mimebundle
        return mimebundle(self)

    def save(self, path):
        """Write every param to the ``.npz`` file at exactly ``path``, atomically."""
        saving.save(self.params, path)

    def load(self, path):
        """Read params saved by ``save`` into the param arrays in place; refuses and changes nothing
        on pickles, unknown or missing names, other shapes, and non-numeric or non-finite data.
        An optimizer's state belongs to the old values: ``optimizer.reset()`` starts it afresh."""
        saving.load(self.params, path)

    def __repr__(self):
        kinds = [node.kind for node in self._nodes.values()]
        counts = ", ".join(f"{kinds.count(k)} {k}s" for k in ("input", "param", "gate"))
        return f"<ComputationalGraph: {counts}; output {self._output or self._last_gate!r}>"
