"""ComputationalGraph: gates wired into a DAG, run forward in topological order and backward in reverse."""
import os
import tempfile
import zipfile

import numpy as np

from .toposort import topological_order

RESERVED = "output"


class Node:
    """One vertex of the graph: an input, a param, or a gate applied to other nodes.

    ``value`` is its forward value, ``grad`` its upstream gradient dL/d(node),
    ``downstream`` (gates) the gradient it sent to each of its inputs.
    """

    __slots__ = ("name", "kind", "gate", "input_names", "value", "grad", "downstream")

    def __init__(self, name, kind, gate=None, input_names=()):
        self.name, self.kind, self.gate, self.input_names = name, kind, gate, tuple(input_names)
        self.value = self.grad = None
        self.downstream = ()   # the gradients this gate sent to each input in the last backward

    @property
    def label(self):
        """``name (GateClass)`` for gates, ``name (input)`` / ``name (param)`` for leaves."""
        return f"{self.name} ({type(self.gate).__name__ if self.gate is not None else self.kind})"

    def __repr__(self):
        return f"<Node {self.label}>"


class _Plan:
    """What forward and backward walk: nodes in topological order, and the output among them."""

    def __init__(self, nodes, output):
        self.nodes, self.output = nodes, output
        self.names = {node.name for node in nodes}
        self.inputs = [node.name for node in nodes if node.kind == "input"]
        self.params = [node for node in nodes if node.kind == "param"]
        # (node, its parent nodes) for every gate, resolved once here, not per step
        by_name = {node.name: node for node in nodes}
        self.gates = [(node, tuple(by_name[n] for n in node.input_names))
                      for node in nodes if node.kind == "gate"]
        # For backward with and without input gradients: which inputs of each
        # gate lead back to a leaf that wants a gradient (None: skip the gate).
        self.needs = {with_inputs: self._needs(with_inputs) for with_inputs in (True, False)}

    def _needs(self, with_inputs):
        wanted = {node.name for node in self.nodes
                  if node.kind == "param" or (with_inputs and node.kind == "input")}
        needs = {}
        for node, parents in self.gates:
            flags = tuple(p.name in wanted for p in parents)
            if any(flags):
                wanted.add(node.name)
                needs[node.name] = flags
        return needs


def _add_note(error, text):
    """Say in the traceback which node failed (exception notes exist from Python 3.11 on)."""
    if hasattr(error, "add_note"):
        error.add_note(text)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _gate_error(node, error):
    """The gate's ValueError with the node in front: ``layer1 (Affine): x has shape ...``."""
    message = str(error).removeprefix(f"{type(node.gate).__name__}: ")
    return ValueError(f"{node.label}: {message}")


class ComputationalGraph:
    """A DAG of gates. See DESIGN.md, "ComputationalGraph".

    ``backward`` may be called again after one ``forward`` (say with another
    ``dout``): gradients are computed afresh each time, never accumulated
    across calls.
    """

    def __init__(self):
        self._nodes = {}
        self.params = {}
        self.grads = {}
        self._output = None       # name chosen by set_output
        self._last_gate = None    # name of the gate node added last
        self._order = None        # topological order of every node, cached until the graph changes
        self._plans = {}
        self._ran = None          # the plan the last successful forward ran
        self._backward_done = False
        self._kept = True         # whether the last backward kept the gate nodes' gradients
        self._input_names = []    # every input, in the order added: the keys backward returns

    # --- building -----------------------------------------------------------

    def _new_node(self, name, kind, gate=None, input_names=()):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a node name must be a non-empty string, got {name!r}")
        if name == RESERVED:
            raise ValueError(f"{RESERVED!r} is reserved (forward(output=...) chooses the output node); "
                             "choose another name")
        if name in self._nodes:
            raise ValueError(f"a node named {name!r} exists already: {self._nodes[name]!r}")
        node = self._nodes[name] = Node(name, kind, gate, input_names)
        self._order, self._plans, self._ran = None, {}, None
        return node

    def input(self, name):
        """A leaf fed at every forward call: ``g.forward(name=array)``."""
        node = self._new_node(name, "input")
        self._input_names.append(name)
        return node

    def param(self, name, value):
        """A learned leaf; ``g.params[name]`` is this very array, updated in place by optimizers."""
        if not (isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)):
            value = np.asarray(value, dtype=np.float64)
        node = self._new_node(name, "param")
        node.value = self.params[name] = value
        return node

    def add(self, gate, *inputs, name=None):
        """Wire ``gate`` to ``inputs`` (nodes or names, possibly of nodes added later); returns the node."""
        if not (callable(getattr(gate, "forward", None)) and callable(getattr(gate, "backward", None))):
            raise TypeError(f"add() takes a gate (with forward and backward), got {gate!r}")
        for node in self._nodes.values():
            if node.gate is gate:
                raise ValueError(f"this {type(gate).__name__} instance already sits in node {node.name!r}; "
                                 "a gate caches one forward pass, so give each node its own gate "
                                 "(to share weights, feed one param node to two gates)")
        input_names = [self._name_of(x) for x in inputs]
        if name is None:
            name = self._default_name(type(gate).__name__)
        node = self._new_node(name, "gate", gate, input_names)
        self._last_gate = name
        return node

    def set_output(self, node):
        """Make ``node`` (a node or name) what forward returns and backward starts from."""
        self._output = self._name_of(node)
        self._plans.pop(None, None)
        self._ran = None

    def _name_of(self, node):
        if isinstance(node, Node):
            if self._nodes.get(node.name) is not node:
                raise ValueError(f"node {node.name!r} belongs to another graph")
            return node.name
        if isinstance(node, str):
            return node
        raise TypeError(f"expected a node or a node's name, got {node!r}")

    def _default_name(self, prefix):
        k = 1
        while f"{prefix}_{k}" in self._nodes:
            k += 1
        return f"{prefix}_{k}"

    # --- order ----------------------------------------------------------------

    def _node(self, name):
        try:
            return self._nodes[name]
        except KeyError:
            raise ValueError(f"no node is named {name!r}; the graph has {list(self._nodes)}") from None

    def nodes_topologically_sorted(self):
        """Every node, parents before children: the order forward runs them."""
        if self._order is None:
            for node in self._nodes.values():
                for parent in node.input_names:
                    if parent not in self._nodes:
                        raise ValueError(f"node {node.label} takes input {parent!r}, but no node is "
                                         f"named {parent!r}")
            parents = {name: node.input_names for name, node in self._nodes.items()}
            self._order = [self._nodes[name] for name in topological_order(parents)]
        return list(self._order)

    def _plan(self, output):
        """Every node for the default output; only its ancestors for an output asked for by name."""
        if output not in self._plans:
            order = self.nodes_topologically_sorted()
            if output is None:
                self._plans[None] = _Plan(order, self._node(self.output_name))
            else:
                ancestors, stack = set(), [self._node(output).name]
                while stack:
                    name = stack.pop()
                    if name not in ancestors:
                        ancestors.add(name)
                        stack.extend(self._nodes[name].input_names)
                self._plans[output] = _Plan([n for n in order if n.name in ancestors], self._nodes[output])
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
        for name in feeds:
            node = self._node(name)
            if node.kind != "input":
                raise ValueError(f"{name!r} is a {node.kind}, not an input; only inputs are fed")
        missing = [name for name in plan.inputs if name not in feeds]
        if missing:
            raise ValueError(f"missing feed for input(s) {missing}; forward needs "
                             f"{plan.inputs} to compute {plan.output.name!r}")
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
            try:
                node.value = node.gate.forward(*[p.value for p in parents])
            except ValueError as error:
                raise _gate_error(node, error) from error
            except Exception as error:
                _add_note(error, f"in node {node.label}")
                raise
        self._ran = plan
        return plan.output.value

    def backward(self, dout=None, inputs=True, keep=True):
        """Run the gates in reverse order from the output, adding gradients where a node fans out.

        ``dout`` is dL/d(output), ones by default. Returns a dict from every
        input and param name to its gradient (None for an input no gradient
        reaches, such as integer labels; zeros for a param the output does not use).
        ``inputs=False`` skips the work that only input gradients need (a
        training step wants the params' alone); the inputs then get None.
        ``keep=False`` lets each gate node's gradient go once its gate has used
        it, so a training step holds no more than hand-written code would;
        ``grad()`` and ``explain()`` then answer for leaves only.
        """
        plan = self._ran
        if plan is None:
            raise RuntimeError("backward needs a forward pass first (none ran since the graph "
                               "last changed, or the last one failed)")
        out = plan.output
        grads = {out.name: self._seed(out, dout)}
        owned = set()   # gradients this pass allocated, safe to add into in place
        needs = plan.needs[bool(inputs)]
        for node, parents in reversed(plan.gates):
            upstream = grads.get(node.name)
            if upstream is None or node.name not in needs:
                continue
            node.gate.needs_input_grad = needs[node.name]
            try:
                downstream = node.gate.backward(upstream)
            except ValueError as error:
                raise _gate_error(node, error) from error
            except Exception as error:
                _add_note(error, f"in the backward pass of node {node.label}")
                raise
            finally:
                node.gate.needs_input_grad = None   # a gate called by hand again wants all
            if len(parents) == 1:
                downstream = (downstream,)
            elif not isinstance(downstream, tuple) or len(downstream) != len(parents):
                raise ValueError(f"{node.label}: backward must return a tuple of {len(parents)} "
                                 f"gradients, one per input, got {type(downstream).__name__}")
            if keep:
                node.downstream = downstream
            else:
                del grads[node.name]
            for parent, grad in zip(parents, downstream):
                if grad is not None:
                    self._check_grad(node, parent, grad)
                    self._accumulate(grads, owned, parent.name, grad)
        for node in plan.nodes:
            node.grad = grads.get(node.name)
        self._kept = keep
        result = {name: grads.get(name) for name in self._input_names}
        self.grads = {name: (grads[name] if grads.get(name) is not None else np.zeros_like(value))
                      for name, value in self.params.items()}
        self._backward_done = True
        return {**result, **self.grads}

    def _seed(self, out, dout):
        value = out.value
        if dout is None:
            return np.ones_like(value) if isinstance(value, np.ndarray) else np.result_type(value).type(1)
        if np.shape(dout) != np.shape(value):
            raise ValueError(f"dout has shape {np.shape(dout)} but the output {out.label} has shape "
                             f"{np.shape(value)}; expected the same shape")
        dtype = np.result_type(value)
        return np.asarray(dout, dtype=dtype if np.issubdtype(dtype, np.floating) else None)

    @staticmethod
    def _check_grad(node, parent, grad):
        value = parent.value
        if (type(grad) is np.ndarray and type(value) is np.ndarray and grad.shape == value.shape
                and (grad.dtype == value.dtype or value.dtype.kind != "f")):
            return    # the usual case, decided without the general rules below
        want = np.shape(value)
        if np.shape(grad) != want:
            raise ValueError(f"{node.label}: backward returned a gradient of shape {np.shape(grad)} "
                             f"for input {parent.name!r} of shape {want}; each gradient must have "
                             "its input's shape")
        dtype = getattr(parent.value, "dtype", None)
        if dtype is not None and dtype.kind == "f" and getattr(grad, "dtype", None) != dtype:
            raise ValueError(f"{node.label}: backward returned a {np.result_type(grad)} gradient for "
                             f"input {parent.name!r} of dtype {dtype} (inputs of mixed float dtypes "
                             "promote; feed arrays of the params' dtype)")

    @staticmethod
    def _accumulate(grads, owned, name, grad):
        """Add ``grad`` into the gradient of ``name``: a fan-out node sums its consumers' gradients."""
        if name not in grads:
            grads[name] = grad          # kept by reference: it belongs to the gate until added to
        elif name in owned:
            grads[name] += grad
        else:
            grads[name] = grads[name] + grad
            owned.add(name)

    # --- reading values and gradients ------------------------------------------

    def _computed(self, name):
        node = self._node(name)
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

    def node(self, name):
        """The Node called ``name``."""
        return self._node(name)

    @property
    def nodes(self):
        """Every node, in the order added."""
        return list(self._nodes.values())

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

    # --- explaining and drawing -----------------------------------------------

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

    def _repr_mimebundle_(self, include=None, exclude=None):
        from .drawing import mimebundle
        return mimebundle(self)

    def __repr__(self):
        kinds = [node.kind for node in self._nodes.values()]
        counts = ", ".join(f"{kinds.count(k)} {k}s" for k in ("input", "param", "gate"))
        output = self._output or self._last_gate
        return f"<ComputationalGraph: {counts}; output {output!r}>"

    # --- params on disk ---------------------------------------------------------

    def save(self, path):
        """Write every param to the ``.npz`` file at exactly ``path``, atomically."""
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".gategraph-", suffix=".npz.tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **self.params)
            os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; give the usual mode
            os.replace(tmp, path)   # readers see the old file or the new one, never half of one
        except BaseException:
            os.unlink(tmp)
            raise

    def load(self, path):
        """Read params saved by ``save`` into the param arrays in place.

        Refuses (ValueError, changing nothing) pickled objects, unknown or
        missing names, and shapes that differ from the params'.
        """
        try:
            with np.load(path, allow_pickle=False) as archive:
                loaded = {name: archive[name] for name in archive.files}
        except ValueError as error:   # object arrays (or a non-.npz file) need pickle to read
            raise ValueError(f"{path}: refused: reading it would need pickle, which load never "
                             f"allows ({error})") from None
        except (zipfile.BadZipFile, EOFError) as error:
            raise ValueError(f"{path}: not a readable .npz file ({error})") from None
        unknown = sorted(set(loaded) - set(self.params))
        missing = sorted(set(self.params) - set(loaded))
        wrong = [f"{name}: {loaded[name].shape} in the file, {self.params[name].shape} in the graph"
                 for name in self.params if name in loaded and loaded[name].shape != self.params[name].shape]
        not_float = [name for name, a in loaded.items() if not np.issubdtype(a.dtype, np.number)]
        problems = ([f"unknown params {unknown}"] if unknown else []) + \
                   ([f"missing params {missing}"] if missing else []) + \
                   ([f"wrong shapes ({'; '.join(wrong)})"] if wrong else []) + \
                   ([f"non-numeric arrays {not_float}"] if not_float else [])
        if problems:
            raise ValueError(f"{path}: refused, nothing loaded: " + "; ".join(problems))
        for name, array in loaded.items():
            self.params[name][...] = array
