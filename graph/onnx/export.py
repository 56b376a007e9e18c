"""to_onnx: the gates that compute a graph's output, as an ONNX model (opset 18).

The graph must have run forward: its inputs take that pass's dtypes and shapes, with the first
axis named "batch" and left free. Params become initializers under their own names, constants
initializers too; each gate becomes the ONNX operator(s) of `EXPORTS` below; the model is the
evaluation-mode one (Dropout the identity, BatchNorm with its running statistics). Recurrent
gates become ONNX's RNN / LSTM / GRU, their weights kept under the params' names in ONNX's
layout and gate order (i, o, f, c for LSTM; z, r, h for GRU).
"""
import numpy as np

from .common import DTYPES, OPSET, onnx_module
from .writers import EXPORTS, Refused, node_dtype


class Exporter:
    """Writes ONNX nodes and initializers for the gate nodes of one plan, each tensor named as its node."""

    def __init__(self, onnx, graph, plan):
        self.onnx, self.helper = onnx, onnx.helper
        self.graph, self.plan = graph, plan
        self.nodes, self.initializers = [], []
        self.taken = set(graph._nodes)     # each node's tensor is named as the node: no other tensor takes it
        self.dtypes = {}          # tensor name -> numpy dtype of its values in the last pass
        self.consumers = {}
        for node, parents in plan.gates:
            for parent in parents:
                self.consumers.setdefault(parent.name, []).append(node)

    # --- names, constants, operators --------------------------------------------------------

    def fresh(self, base):
        name, k = base, 1
        while name in self.taken:
            name, k = f"{base}_{k}", k + 1
        self.taken.add(name)
        return name

    def initializer(self, array, name):
        array = np.asarray(array)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        self.taken.add(name)
        self.dtypes[name] = array.dtype
        return name

    def const(self, value, dtype, base="const"):
        return self.initializer(np.asarray(value, dtype=dtype), self.fresh(base))

    def ints(self, values, base="shape"):
        return self.const(np.array(values, dtype=np.int64).reshape(-1), np.int64, base)

    def op(self, op_type, inputs, out=None, dtype=None, **attributes):
        out = out or self.fresh(op_type.lower())
        self.taken.add(out)
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], name=self.fresh(f"{op_type}:{out}"),
                                                **attributes))
        if dtype is not None:
            self.dtypes[out] = np.dtype(dtype)
        return out

    def as_dtype(self, name, dtype):
        """``name`` cast to ``dtype`` when its values are of another (integer data fed to a float gate)."""
        if self.dtypes.get(name) == np.dtype(dtype):
            return name
        return self.op("Cast", [name], dtype=dtype, to=DTYPES[np.dtype(dtype)])


def _value_info(onnx, name, value, batch, dtype=None):
    array = np.asarray(value)
    dtype = dtype or (array.dtype if array.dtype.kind == "f" else np.dtype(np.int64))
    shape = [("batch" if k == 0 and batch else n) for k, n in enumerate(array.shape)]
    return onnx.helper.make_tensor_value_info(name, DTYPES[dtype], shape)


def to_onnx(graph, path=None, output=None):
    """The gates that compute ``output`` (default: the graph's output) as an ONNX ``ModelProto``
    (opset 18), written to ``path`` when given. Needs a forward pass of the graph first."""
    onnx = onnx_module()
    plan = graph.last_pass
    if plan is None:
        raise RuntimeError("to_onnx needs a forward pass first: the inputs take its dtypes and shapes")
    output = graph.node(output if isinstance(output, str) or output is None else output.name) \
        if output is not None else plan.output
    if output.name not in plan.names:
        raise RuntimeError(f"to_onnx: {output.label} did not run in the last forward pass")
    from ..order import ancestors
    keep = ancestors({n.name: n.input_names for n in plan.nodes}, output.name)
    nodes = [node for node in plan.nodes if node.name in keep]
    ex = Exporter(onnx, graph, type(plan)(nodes, output))
    inputs = []
    for node in nodes:
        if node.kind == "input":
            inputs.append(_value_info(onnx, node.name, node.value, np.ndim(node.value) > 0))
            ex.taken.add(node.name)
            ex.dtypes[node.name] = np.asarray(node.value).dtype if np.result_type(node.value).kind == "f" \
                else np.dtype(np.int64)
        elif node.kind == "param" and not all(type(c.gate).__name__ in ("RNN", "LSTM", "GRU")
                                              for c in ex.consumers.get(node.name, [])):
            ex.initializer(node.value, node.name)
    for node in nodes:
        if node.kind == "const":
            consumers = ex.consumers.get(node.name, [])
            dtype = node_dtype(consumers[0]) if consumers and np.ndim(node.value) == 0 else \
                np.asarray(node.value).dtype
            if consumers and all(type(c.gate).__name__ in ("RNN", "LSTM", "GRU") for c in consumers) \
                    and not np.any(node.value):
                continue                               # a zero initial state: ONNX's default
            ex.initializer(np.asarray(node.value, dtype=dtype), node.name)
    for node, parents in ex.plan.gates:
        kind = type(node.gate).__name__
        if kind not in EXPORTS or type(node.gate).__module__.split(".")[0] not in ("gates", "losses"):
            raise Refused(f"{node.label}: no ONNX operator for {kind}; to_onnx exports "
                          f"{', '.join(sorted(EXPORTS))}")
        if kind == "BatchNorm" and not node.gate.training and node.gate.running_mean is None:
            raise Refused(f"{node.label} has no running statistics")
        EXPORTS[kind](ex, node, [p.name for p in parents], node.name)
    outputs = [_value_info(onnx, output.name, output.value, np.ndim(output.value) > 0, ex.dtypes.get(output.name))]
    model = onnx.helper.make_model(
        onnx.helper.make_graph(ex.nodes, "gategraph", inputs, outputs, ex.initializers),
        opset_imports=[onnx.helper.make_opsetid("", OPSET)], producer_name="gategraph")
    model.ir_version = min(model.ir_version, 10)      # what ONNX Runtime reads
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        from ..saving import write_atomically
        write_atomically(path, model.SerializeToString(), "the ONNX model")
    return model
