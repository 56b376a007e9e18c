"""from_onnx: an ONNX model as a ComputationalGraph of gates.

Graph inputs become inputs, float initializers params under their own names (in the layout
the model keeps them: a Gemm's ``B`` stays (out, in) and meets a `Transpose` gate, an LSTM's
``W`` stays (1, 4H, D) and meets the slices and concatenation that reorder it), Constant
operators and integer initializers constants. Each operator becomes the gates of `IMPORTS`;
an operator whose inputs are all constant (shape arithmetic) is folded by ONNX's reference
evaluator. Anything else is refused, naming the operator, the node and what is supported.
"""
import numpy as np

from ..graph import ComputationalGraph
from .common import onnx_module
from .readers import FOLDABLE, IMPORTS


class Importer:
    def __init__(self, onnx, model):
        self.onnx, self.model = onnx, model
        self.g = ComputationalGraph()
        self.initializers = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
        self.constants = {}       # tensor name -> numpy value known at import
        self.tensors = {}         # tensor name -> node name in the graph
        self.onnx_node = None
        inferred = onnx.shape_inference.infer_shapes(model).graph
        self.shapes = {v.name: tuple(d.dim_value if d.HasField("dim_value") else None
                                     for d in v.type.tensor_type.shape.dim)
                       for v in [*inferred.input, *inferred.value_info, *inferred.output]
                       if v.type.tensor_type.HasField("shape")}
        self.shapes.update({name: value.shape for name, value in self.initializers.items()})

    def shape(self, name):
        """Tensor ``name``'s shape from ONNX's shape inference (None for an axis it cannot tell), or None."""
        if name in self.constants:
            return np.shape(self.constants[name])
        return self.shapes.get(name)

    def rank(self, name):
        """How many axes tensor ``name`` has (None when shape inference cannot tell)."""
        shape = self.shape(name)
        return None if shape is None else len(shape)

    # --- tensors -------------------------------------------------------------------------------

    def node_of(self, name):
        """The graph node holding tensor ``name``: made on first use for an initializer (a param when
        it holds floats) or a constant."""
        if name in self.tensors:
            return self.tensors[name]
        if name in self.initializers and self.initializers[name].dtype.kind == "f":
            self.tensors[name] = self.g.param(name, np.array(self.initializers[name])).name
        elif name in self.initializers or name in self.constants:
            value = self.initializers.get(name, self.constants.get(name))
            self.tensors[name] = self.g.const(np.array(value), name=self.unique(name)).name
        else:
            raise self.refuse(f"its input {name!r} is neither a graph input nor computed before it")
        return self.tensors[name]

    def constant(self, name, what):
        """The value of ``name``, which must be known at import (a shape, axes, an exponent)."""
        if name in self.constants:
            return self.constants[name]
        if name in self.initializers:
            return self.initializers[name]
        raise self.refuse(f"its {what} ({name!r}) is computed at run time; from_onnx needs it constant for "
                          "the model's input shapes")

    def is_constant(self, name):
        return name == "" or name in self.constants or (name in self.initializers and name not in self.tensors)

    def unique(self, base):
        name, k = base, 1
        while name in self.g._nodes:
            name, k = f"{base}_{k}", k + 1
        return name

    def add(self, gate, *inputs, out=None):
        """A gate on node names (or tensors), named after the ONNX tensor it computes when given."""
        return self.g.add(gate, *inputs, name=self.unique(out or type(gate).__name__)).name

    def refuse(self, why):
        node = self.onnx_node
        return ValueError(f"ONNX node {node.name or '(unnamed)'!r} ({node.op_type}): {why}")

    # --- the walk ---------------------------------------------------------------------------------

    def run(self):
        for value in self.model.graph.input:
            if value.name not in self.initializers:
                self.tensors[value.name] = self.g.input(value.name).name
        for node in self.model.graph.node:
            self.onnx_node = node
            attributes = {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}
            ins = list(node.input)
            if node.op_type == "Constant":
                self.constants[node.output[0]] = self.onnx.numpy_helper.to_array(attributes["value"]) \
                    if "value" in attributes else np.array(next(iter(attributes.values())))
                continue
            if all(self.is_constant(i) for i in ins) and node.op_type not in ("RNN", "LSTM", "GRU") \
                    and node.op_type in FOLDABLE:
                self.fold(node)
                continue
            if node.op_type not in IMPORTS:
                raise self.refuse(f"no gate for {node.op_type}; from_onnx reads {', '.join(sorted(IMPORTS))}")
            outputs = IMPORTS[node.op_type](self, ins, attributes, list(node.output))
            for name, made in zip(node.output, outputs if isinstance(outputs, list) else [outputs]):
                if name and made is not None:
                    self.tensors[name] = made
        outputs = [o.name for o in self.model.graph.output]
        self.g.set_output(self.node_of(outputs[0]))
        return self.g

    def fold(self, node):
        """Evaluate an operator on constants with ONNX's reference evaluator (shape arithmetic)."""
        from onnx.reference import ReferenceEvaluator
        names = [i for i in node.input if i]
        feeds = {name: np.asarray(self.constants.get(name, self.initializers.get(name))) for name in names}
        values = [self.onnx.helper.make_tensor_value_info(n, self.onnx.helper.np_dtype_to_tensor_dtype(v.dtype),
                                                          v.shape) for n, v in feeds.items()]
        outs = [self.onnx.helper.make_empty_tensor_value_info(o) for o in node.output]
        graph = self.onnx.helper.make_graph([node], "fold", values, outs)
        model = self.onnx.helper.make_model(graph, opset_imports=self.model.opset_import)
        results = ReferenceEvaluator(model).run(None, feeds)
        for name, value in zip(node.output, results):
            self.constants[name] = np.asarray(value)


def from_onnx(model_or_path):
    """A `ComputationalGraph` of gates for an ONNX model (a ``ModelProto`` or a path to a ``.onnx`` file)."""
    onnx = onnx_module()
    model = model_or_path if isinstance(model_or_path, onnx.ModelProto) else onnx.load(model_or_path)
    domains = {o.domain for o in model.opset_import if o.domain not in ("", "ai.onnx")}
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            raise ValueError(f"ONNX node {node.name!r} ({node.domain}.{node.op_type}): operators of other domains "
                             f"({', '.join(sorted(domains))}) have no gates")
    return Importer(onnx, model).run()


def example_inputs(model, seed=0, batch=2):
    """Random inputs of a model's declared shapes (free axes of size ``batch``): floats standard normal,
    integers ids below the row count of the table they index (2 when none tells)."""
    onnx = onnx_module()
    rng = np.random.default_rng(seed)
    initializers = {i.name: i for i in model.graph.initializer}
    rows = {node.input[1]: initializers[node.input[0]].dims[0] for node in model.graph.node
            if node.op_type == "Gather" and node.input[0] in initializers and len(node.input) > 1}
    feeds = {}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        kind = value.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else batch for d in kind.shape.dim]
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(kind.elem_type))
        if dtype.kind == "f":
            feeds[value.name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[value.name] = rng.integers(0, int(rows.get(value.name, 2)), shape).astype(dtype)
    return feeds


def show(path, out, feeds=None, check=False, seed=0):
    """The model at ``path`` imported, run forward on ``feeds`` (random ones of the declared shapes for
    the rest) and backward from the sum of its output, its step-through page written to ``out``;
    returns a line saying what was done. ValueError (one line) for a model it cannot read or run."""
    onnx = onnx_module()
    try:
        model = onnx.load(path)
    except Exception as error:      # protobuf's own errors: a file that is not an ONNX model at all
        raise ValueError(f"cannot read {str(path)!r} as an ONNX model: {type(error).__name__}: {error}") from None
    try:
        g = from_onnx(model)
    except ValueError as error:
        raise ValueError(f"cannot import {str(path)!r}: {error}") from None
    inputs = [n.name for n in g.nodes if n.kind == "input"]
    unknown = sorted(set(feeds or {}) - set(inputs))
    if unknown:
        raise ValueError(f"--input names {unknown}, but the model's inputs are {inputs}")
    feeds = {**example_inputs(model, seed=seed), **(feeds or {})}
    try:
        out_value = g.forward(**feeds)
        g.backward(np.ones_like(out_value) if np.ndim(out_value) else None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"the model does not run on these inputs: {error}") from None
    g.step_through(check=check).save(out)
    shapes = ", ".join(f"{name} {np.shape(value)}" for name, value in feeds.items())
    return (f"{path}: {sum(n.kind == 'gate' for n in g.nodes)} gates, {len(g.params)} params; fed {shapes}; "
            f"page written to {out}")
