"""The operator table, gategraph to ONNX: for each gate, the ONNX operator(s) that compute it
(`EXPORTS`), written by an `export.Exporter`. Recurrent weights are reordered to ONNX's gate order
(i, o, f, c for LSTM; z, r, h for GRU) under the params' names."""
import numpy as np

RECURRENT_ORDER = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN": (0,)}   # ONNX's blocks, as ours


class Refused(ValueError):
    """A node ONNX cannot express (or this exporter does not), said with the node and the gate."""


def node_dtype(node):
    """The float dtype a gate node computes in (float64 for integers, by the dtype rule)."""
    return np.result_type(node.value) if np.result_type(node.value).kind == "f" else np.dtype(np.float64)


# --- the gates, one emitter each: (exporter, node, input tensors, output name) -> output name ------

def _elementwise(op_type):
    def emit(ex, node, ins, out):
        dtype = node_dtype(node)
        return ex.op(op_type, [ex.as_dtype(i, dtype) for i in ins], out, dtype)
    return emit


def _with_attributes(op_type, **fixed):
    """One operator on every input (in the node's dtype), attributes fixed or read off the gate (a str)."""
    def emit(ex, node, ins, out):
        attributes = {key: (getattr(node.gate, value) if isinstance(value, str) else value)
                      for key, value in fixed.items()}
        dtype = node_dtype(node)
        return ex.op(op_type, [ex.as_dtype(i, dtype) for i in ins], out, dtype, **attributes)
    return emit


def _square(ex, node, ins, out):
    x = ex.as_dtype(ins[0], node_dtype(node))
    return ex.op("Mul", [x, x], out, node_dtype(node))


def _power(ex, node, ins, out):
    dtype = node_dtype(node)
    return ex.op("Pow", [ex.as_dtype(ins[0], dtype), ex.const(node.gate.p, dtype, "p")], out, dtype)


def _gelu(ex, node, ins, out):
    dtype = node_dtype(node)
    x = ex.as_dtype(ins[0], dtype)
    if node.gate.approximate == "none":        # x * 0.5 * (1 + erf(x / sqrt 2)); Gelu is opset 20
        inner = ex.op("Erf", [ex.op("Div", [x, ex.const(np.sqrt(2.0), dtype)], dtype=dtype)], dtype=dtype)
    else:
        cube = ex.op("Mul", [ex.op("Mul", [x, x], dtype=dtype), x], dtype=dtype)
        poly = ex.op("Add", [x, ex.op("Mul", [cube, ex.const(0.044715, dtype)], dtype=dtype)], dtype=dtype)
        inner = ex.op("Tanh", [ex.op("Mul", [poly, ex.const(np.sqrt(2 / np.pi), dtype)], dtype=dtype)], dtype=dtype)
    half = ex.op("Mul", [ex.op("Add", [inner, ex.const(1.0, dtype)], dtype=dtype), ex.const(0.5, dtype)], dtype=dtype)
    return ex.op("Mul", [x, half], out, dtype)


def _clip(ex, node, ins, out):
    dtype = node_dtype(node)
    bounds = [ex.const(b, dtype, "bound") if b is not None else "" for b in (node.gate.min, node.gate.max)]
    while bounds and bounds[-1] == "":
        bounds.pop()
    return ex.op("Clip", [ex.as_dtype(ins[0], dtype), *bounds], out, dtype)


def _reduce(op_type):
    def emit(ex, node, ins, out):
        dtype, axis = node_dtype(node), node.gate.axis
        axes = [] if axis is None else [ex.ints(axis if isinstance(axis, tuple) else (axis,), "axes")]
        return ex.op(op_type, [ex.as_dtype(ins[0], dtype), *axes], out, dtype, keepdims=int(node.gate.keepdims))
    return emit


def _repeat(ex, node, ins, out):
    ndim = np.ndim(node.value)
    axis = node.gate.axis % ndim
    lifted = ex.op("Unsqueeze", [ins[0], ex.ints([axis], "axes")], dtype=ex.dtypes.get(ins[0]))
    repeats = [node.gate.n if k == axis else 1 for k in range(ndim)]
    return ex.op("Tile", [lifted, ex.ints(repeats, "repeats")], out, node_dtype(node))


def _affine(ex, node, ins, out):
    dtype = node_dtype(node)
    flat = ex.op("Flatten", [ex.as_dtype(ins[0], dtype)], dtype=dtype, axis=1)
    return ex.op("Gemm", [flat, ins[1], ins[2]], out, dtype)


def _linear(ex, node, ins, out):
    dtype = node_dtype(node)
    product = ex.op("MatMul", [ex.as_dtype(ins[0], dtype), ins[1]], dtype=dtype)
    return ex.op("Add", [product, ins[2]], out, dtype)


def _reshape(ex, node, ins, out):
    # the same convention: 0 keeps the input's size on that axis, -1 is inferred (allowzero=0)
    return ex.op("Reshape", [ins[0], ex.ints(node.gate.shape)], out, ex.dtypes.get(ins[0]))


def _batchnorm(ex, node, ins, out):
    dtype = node_dtype(node)
    gate = node.gate
    if gate.running_mean is None:
        raise Refused(f"{node.label} has no running statistics yet: run a training forward pass first")
    mean = ex.const(gate.running_mean, dtype, f"{node.name}.running_mean")
    var = ex.const(gate.running_var, dtype, f"{node.name}.running_var")
    return ex.op("BatchNormalization", [ex.as_dtype(ins[0], dtype), ins[1], ins[2], mean, var], out, dtype,
                 epsilon=gate.eps)


def _conv(op_type):
    def emit(ex, node, ins, out):
        (sh, sw), (ph, pw) = node.gate.stride, node.gate.pad
        return ex.op(op_type, [ex.as_dtype(ins[0], node_dtype(node)), ins[1], ins[2]], out, node_dtype(node),
                     strides=[sh, sw], pads=[ph, pw, ph, pw])
    return emit


def _pool(op_type, **fixed):
    def emit(ex, node, ins, out):
        (kh, kw), (sh, sw), (ph, pw) = node.gate.size, node.gate.stride, node.gate.pad
        return ex.op(op_type, [ex.as_dtype(ins[0], node_dtype(node))], out, node_dtype(node),
                     kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw], **fixed)
    return emit


def _embedding(ex, node, ins, out):
    return ex.op("Gather", [ins[1], ex.as_dtype(ins[0], np.int64)], out, node_dtype(node), axis=0)


def _slice(ex, node, ins, out):
    """Basic indexing as ONNX's Slice (slices and ints), Squeeze (ints) and Unsqueeze (None)."""
    shape = np.shape(ex.graph.node(node.input_names[0]).value)
    index = node.gate.index if isinstance(node.gate.index, tuple) else (node.gate.index,)
    taken = sum(1 for part in index if part is not None and part is not Ellipsis)
    parts = []
    for part in index:
        parts.extend([slice(None)] * (len(shape) - taken) if part is Ellipsis else [part])
    parts += [slice(None)] * (len(shape) - sum(p is not None for p in parts))
    starts, ends, axes, steps, squeezed, new_axes, axis, position = [], [], [], [], [], [], 0, 0
    for part in parts:
        if part is None:
            new_axes.append(position)
            position += 1
            continue
        if isinstance(part, slice):
            if part != slice(None):
                step = 1 if part.step is None else part.step
                default_start, default_end = (0, np.iinfo(np.int64).max) if step > 0 else (-1, np.iinfo(np.int64).min)
                starts.append(default_start if part.start is None else part.start)
                ends.append(default_end if part.stop is None else part.stop)
                axes.append(axis)
                steps.append(step)
            position += 1
        else:
            k = int(part)
            starts.append(k)
            ends.append(k + 1 if k != -1 else np.iinfo(np.int64).max)
            axes.append(axis)
            steps.append(1)
            squeezed.append(axis)
        axis += 1
    dtype = ex.dtypes.get(ins[0])
    tensor = ins[0]
    if axes:
        tensor = ex.op("Slice", [tensor, ex.ints(starts), ex.ints(ends), ex.ints(axes), ex.ints(steps)], dtype=dtype)
    if squeezed:
        tensor = ex.op("Squeeze", [tensor, ex.ints(squeezed, "axes")], dtype=dtype)
    if new_axes:
        tensor = ex.op("Unsqueeze", [tensor, ex.ints(new_axes, "axes")], dtype=dtype)
    return ex.op("Identity", [tensor], out, dtype)


def _transpose(ex, node, ins, out):
    ndim = np.ndim(node.value)
    perm = list(range(ndim))[::-1] if node.gate.axes is None else [a % ndim for a in node.gate.axes]
    return ex.op("Transpose", [ins[0]], out, ex.dtypes.get(ins[0]), perm=perm)


def _rnn_step(ex, node, ins, out):
    dtype = node_dtype(node)
    x, h = ex.as_dtype(ins[0], dtype), ex.as_dtype(ins[1], dtype)
    total = ex.op("Add", [ex.op("MatMul", [x, ins[2]], dtype=dtype), ex.op("MatMul", [h, ins[3]], dtype=dtype)],
                  dtype=dtype)
    return ex.op("Tanh", [ex.op("Add", [total, ins[4]], dtype=dtype)], out, dtype)


def _recurrent(ex, node, ins, out):
    """ONNX's RNN / LSTM / GRU (time-major, one direction), weights reordered under the params' names."""
    kind = type(node.gate).__name__
    dtype = node_dtype(node)
    order = RECURRENT_ORDER[kind]
    parents = [ex.graph.node(name) for name in node.input_names]
    states = {"RNN": [1], "LSTM": [1, 2], "GRU": [1]}[kind]
    weights = [k for k in range(len(parents)) if k != 0 and k not in states]
    for k in weights:
        if parents[k].kind != "param" or len(ex.consumers.get(parents[k].name, [])) != 1:
            raise Refused(f"{node.label}: its weight {parents[k].name!r} must be a param that feeds this gate "
                          "alone (ONNX keeps it in its own layout)")
    H = parents[weights[1]].value.shape[0]

    def reorder(array):          # our blocks along the last axis, in ONNX's order, as rows
        blocks = np.split(np.asarray(array), len(order), axis=-1)
        return np.concatenate([blocks[k] for k in order], axis=-1)

    W = ex.initializer(reorder(parents[weights[0]].value).T[None].astype(dtype), parents[weights[0]].name)
    R = ex.initializer(reorder(parents[weights[1]].value).T[None].astype(dtype), parents[weights[1]].name)
    if kind == "GRU":
        bx, bh = (ex.initializer(reorder(parents[k].value).astype(dtype), parents[k].name) for k in weights[2:])
        B = ex.op("Unsqueeze", [ex.op("Concat", [bx, bh], dtype=dtype, axis=0), ex.ints([0], "axes")], dtype=dtype)
    else:
        b = reorder(parents[weights[2]].value)
        B = ex.initializer(np.concatenate([b, np.zeros_like(b)])[None].astype(dtype), parents[weights[2]].name)
    initial = []
    for k in states:
        state = parents[k]
        shape = np.shape(state.value)
        if state.kind == "const" and not np.any(state.value):
            initial.append("")                        # ONNX's default initial state: zeros
        elif shape == (np.shape(parents[0].value)[0], H):         # one state per batch item
            initial.append(ex.op("Unsqueeze", [ex.as_dtype(ins[k], dtype), ex.ints([0], "axes")], dtype=dtype))
        else:
            raise Refused(f"{node.label}: a state {state.name!r} of shape {shape} shared by the batch has no ONNX "
                          "form here; feed it as (N, H), or use zeros")
    while initial and initial[-1] == "":
        initial.pop()
    x = ex.op("Transpose", [ex.as_dtype(ins[0], dtype)], dtype=dtype, perm=[1, 0, 2])
    extra = {"linear_before_reset": 1} if kind == "GRU" else {}
    inputs = [x, W, R, B] + (["", *initial] if initial else [])
    y = ex.op(kind, inputs, dtype=dtype, hidden_size=H, **extra)
    y = ex.op("Squeeze", [y, ex.ints([1], "axes")], dtype=dtype)
    return ex.op("Transpose", [y], out, dtype, perm=[1, 0, 2])


def _softmax_loss(ex, node, ins, out):
    gate, scores_node = node.gate, ex.graph.node(node.input_names[0])
    labels_node = ex.graph.node(node.input_names[1])
    if np.result_type(labels_node.value).kind not in "iu":
        raise Refused(f"{node.label}: probability (or one-hot) labels have no ONNX operator; "
                      "SoftmaxCrossEntropyLoss takes class indices")
    dtype = node_dtype(scores_node)
    scores, ndim = ex.as_dtype(ins[0], dtype), np.ndim(scores_node.value)
    if ndim > 2:                                      # (N, ..., C) -> (N, C, ...), ONNX's layout
        scores = ex.op("Transpose", [scores], dtype=dtype, perm=[0, ndim - 1, *range(1, ndim - 1)])
    attributes = {"reduction": "mean"}
    if gate.ignore_index is not None:
        attributes["ignore_index"] = int(gate.ignore_index)
    return ex.op("SoftmaxCrossEntropyLoss", [scores, ex.as_dtype(ins[1], np.int64)], out, dtype, **attributes)


def _mse(ex, node, ins, out):
    dtype = node_dtype(ex.graph.node(node.input_names[0]))
    diff = ex.op("Sub", [ex.as_dtype(ins[0], dtype), ex.as_dtype(ins[1], dtype)], dtype=dtype)
    return ex.op("ReduceMean", [ex.op("Mul", [diff, diff], dtype=dtype)], out, dtype, keepdims=0)


def _l2(ex, node, ins, out):
    dtype = node_dtype(ex.graph.node(node.input_names[0]))
    total = ex.op("ReduceSumSquare", [ins[0]], dtype=dtype, keepdims=0)
    return ex.op("Mul", [total, ex.const(node.gate.strength, dtype, "strength")], out, dtype)


def _sigmoid_loss(ex, node, ins, out):
    """mean(max(s, 0) - s y + log(1 + exp(-|s|))): binary cross-entropy on logits, stable."""
    dtype = node_dtype(ex.graph.node(node.input_names[0]))
    s, y = ex.as_dtype(ins[0], dtype), ex.as_dtype(ins[1], dtype)
    soft = ex.op("Softplus", [ex.op("Neg", [ex.op("Abs", [s], dtype=dtype)], dtype=dtype)], dtype=dtype)
    terms = ex.op("Add", [ex.op("Sub", [ex.op("Relu", [s], dtype=dtype), ex.op("Mul", [s, y], dtype=dtype)],
                                dtype=dtype), soft], dtype=dtype)
    return ex.op("ReduceMean", [terms], out, dtype, keepdims=0)


EXPORTS = {
    "Add": _elementwise("Add"), "Subtract": _elementwise("Sub"), "Multiply": _elementwise("Mul"),
    "Divide": _elementwise("Div"), "Max": _elementwise("Max"), "MatMul": _elementwise("MatMul"),
    "Exp": _elementwise("Exp"), "Log": _elementwise("Log"), "Abs": _elementwise("Abs"), "Erf": _elementwise("Erf"),
    "Sigmoid": _elementwise("Sigmoid"), "Tanh": _elementwise("Tanh"), "ReLU": _elementwise("Relu"),
    "Square": _square, "Power": _power, "GELU": _gelu, "Clip": _clip,
    "LeakyReLU": _with_attributes("LeakyRelu", alpha="negative_slope"), "ELU": _with_attributes("Elu", alpha="alpha"),
    "Sum": _reduce("ReduceSum"), "Mean": _reduce("ReduceMean"), "Amax": _reduce("ReduceMax"), "Repeat": _repeat,
    "Affine": _affine, "Linear": _linear, "Flatten": _with_attributes("Flatten", axis=1), "Reshape": _reshape,
    "Dropout": _with_attributes("Identity"), "BatchNorm": _batchnorm,
    "Conv2D": _conv("Conv"), "ConvTranspose2D": _conv("ConvTranspose"),
    "MaxPool2D": _pool("MaxPool"), "AvgPool2D": _pool("AveragePool", count_include_pad=1),
    "Embedding": _embedding, "LayerNorm": _with_attributes("LayerNormalization", axis=-1, epsilon="eps"),
    "Slice": _slice, "Concat": _with_attributes("Concat", axis="axis"), "Transpose": _transpose,
    "Softmax": _with_attributes("Softmax", axis="axis"), "LogSoftmax": _with_attributes("LogSoftmax", axis="axis"),
    "RNNStep": _rnn_step, "RNN": _recurrent, "LSTM": _recurrent, "GRU": _recurrent,
    "SoftmaxWithLoss": _softmax_loss, "MeanSquaredError": _mse, "L2Penalty": _l2, "SigmoidWithLoss": _sigmoid_loss,
}
