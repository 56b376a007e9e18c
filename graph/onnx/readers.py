"""The operator table, ONNX to gategraph: for each ONNX operator, the gates that compute it
(`IMPORTS`), added by a `load.Importer`; `FOLDABLE`, the operators folded when their inputs are
constants (shape arithmetic)."""
import numpy as np

import gates as G
from losses import SoftmaxWithLoss

from .writers import RECURRENT_ORDER

# --- operators, one reader each: (importer, inputs, attributes, outputs) -> node name(s) -------------

def _binary(gate):
    def read(im, ins, attributes, outs):
        return im.add(gate(), im.node_of(ins[0]), im.node_of(ins[1]), out=outs[0])
    return read


def _unary(make):
    def read(im, ins, attributes, outs):
        return im.add(make(attributes), im.node_of(ins[0]), out=outs[0])
    return read


def _pow(im, ins, attributes, outs):
    exponent = np.asarray(im.constant(ins[1], "exponent"))
    if exponent.size != 1:
        raise im.refuse("an exponent of several values; Power takes one number")
    return im.add(G.Power(exponent.item()), im.node_of(ins[0]), out=outs[0])


def _clip(im, ins, attributes, outs):
    bounds = [np.asarray(im.constant(i, "bound")).item() if i else None for i in (ins[1:] + ["", ""])[:2]]
    return im.add(G.Clip(*bounds), im.node_of(ins[0]), out=outs[0])


def _gemm(im, ins, attributes, outs):
    a, b = im.node_of(ins[0]), im.node_of(ins[1])
    if attributes.get("transA", 0):
        a = im.add(G.Transpose(), a)
    if attributes.get("transB", 0):
        b = im.add(G.Transpose(), b)
    scaled, biased = attributes.get("alpha", 1.0) != 1.0, len(ins) > 2 and bool(ins[2])
    out = im.add(G.MatMul(), a, b, out=None if scaled or biased else outs[0])
    if scaled:
        out = im.add(G.Multiply(), out, im.g.const(float(attributes["alpha"]), name=im.unique("alpha")).name,
                     out=None if biased else outs[0])
    if biased:
        c = im.node_of(ins[2])
        if attributes.get("beta", 1.0) != 1.0:
            c = im.add(G.Multiply(), c, im.g.const(float(attributes["beta"]), name=im.unique("beta")).name)
        out = im.add(G.Add(), out, c, out=outs[0])
    return out


def _reshape(im, ins, attributes, outs):
    shape = [int(n) for n in np.asarray(im.constant(ins[1], "shape"))]
    if attributes.get("allowzero", 0) and 0 in shape:
        raise im.refuse("allowzero=1 with a 0 in the shape (an empty axis)")
    return im.add(G.Reshape(shape), im.node_of(ins[0]), out=outs[0])


def _axes(im, ins, attributes, position=1):
    if "axes" in attributes:
        return [int(a) for a in attributes["axes"]]
    if len(ins) > position and ins[position]:
        return [int(a) for a in np.asarray(im.constant(ins[position], "axes")).reshape(-1)]
    return None


def _index_along(axis, part):
    """A basic index that applies ``part`` on ``axis`` (negative axes counted from the end)."""
    if axis >= 0:
        return (slice(None),) * axis + (part,)
    return (Ellipsis, part) + (slice(None),) * (-axis - 1)


def _identity():
    """x[...]: the gate that passes its input on (Identity, Dropout in evaluation, a Cast)."""
    return G.Slice(Ellipsis)


def _unsqueeze(im, ins, attributes, outs):
    axes = _axes(im, ins, attributes)
    rank = im.rank(ins[0])
    if any(a < 0 for a in axes) and rank is None:
        raise im.refuse("negative axes on a tensor of unknown rank")
    axes = sorted(a % (rank + len(axes)) if a < 0 else a for a in axes)
    index = []
    for axis in range(max(axes) + 1):
        index.append(None if axis in axes else slice(None))
    return im.add(G.Slice(tuple(index)), im.node_of(ins[0]), out=outs[0])


def _squeeze(im, ins, attributes, outs):
    axes = _axes(im, ins, attributes)
    shape = im.shape(ins[0])
    if axes is None:              # every axis of size 1: the shape must be known
        if shape is None or None in shape:
            raise im.refuse("squeezing every axis of size 1 of a tensor whose shape is unknown; give the axes")
        axes = [k for k, n in enumerate(shape) if n == 1]
        if not axes:
            return im.add(_identity(), im.node_of(ins[0]), out=outs[0])
    rank = None if shape is None else len(shape)
    if any(a < 0 for a in axes) and rank is None:
        raise im.refuse("squeezing by negative axes a tensor of unknown rank")
    axes = {a % rank if a < 0 else a for a in axes}
    index = tuple(0 if axis in axes else slice(None) for axis in range(max(axes) + 1))
    return im.add(G.Slice(index), im.node_of(ins[0]), out=outs[0])


def _slice(im, ins, attributes, outs):
    starts = np.asarray(im.constant(ins[1], "starts")).reshape(-1)
    ends = np.asarray(im.constant(ins[2], "ends")).reshape(-1)
    axes = _axes(im, ins, {}, 3) or list(range(len(starts)))
    steps = np.asarray(im.constant(ins[4], "steps")).reshape(-1) if len(ins) > 4 and ins[4] else [1] * len(starts)
    big = np.iinfo(np.int64).max // 2
    parts = {}
    for axis, start, end, step in zip(axes, starts, ends, steps):
        parts[int(axis)] = slice(None if abs(int(start)) >= big else int(start),
                                 None if abs(int(end)) >= big else int(end), int(step))
    if any(a < 0 for a in parts) and any(a >= 0 for a in parts):
        raise im.refuse("slices on axes counted from both ends")
    if all(a >= 0 for a in parts):
        index = tuple(parts.get(a, slice(None)) for a in range(max(parts) + 1))
    else:
        index = (Ellipsis,) + tuple(parts.get(a, slice(None)) for a in range(min(parts), 0))
    return im.add(G.Slice(index), im.node_of(ins[0]), out=outs[0])


def _gather(im, ins, attributes, outs):
    axis = int(attributes.get("axis", 0))
    if ins[0] in im.initializers and not im.is_constant(ins[1]) and axis == 0:
        return im.add(G.Embedding(), im.node_of(ins[1]), im.node_of(ins[0]), out=outs[0])   # a lookup table
    index = np.asarray(im.constant(ins[1], "indices"))
    if index.ndim != 0:
        raise im.refuse("gathering several indices from a computed tensor; Slice takes basic indexing")
    return im.add(G.Slice(_index_along(axis, int(index))), im.node_of(ins[0]), out=outs[0])


def _transpose(im, ins, attributes, outs):
    perm = attributes.get("perm")
    return im.add(G.Transpose(None if perm is None else tuple(int(a) for a in perm)), im.node_of(ins[0]),
                  out=outs[0])


def _flatten(im, ins, attributes, outs):
    if attributes.get("axis", 1) != 1:
        raise im.refuse("Flatten with an axis other than 1")
    return im.add(G.Flatten(), im.node_of(ins[0]), out=outs[0])


def _concat(im, ins, attributes, outs):
    return im.add(G.Concat(int(attributes["axis"])), *[im.node_of(i) for i in ins], out=outs[0])


def _zero_bias(im, weight, size_axis):
    """A constant zero bias for an operator whose optional bias is absent: as many zeros as ``weight``
    (an ONNX tensor name) has along ``size_axis``, in its dtype."""
    value = im.initializers.get(weight)
    value = im.g.node(im.node_of(weight)).value if value is None else value
    if value is None:
        raise im.refuse("no bias and a weight computed at run time; give the bias")
    return im.g.const(np.zeros(np.shape(value)[size_axis], np.asarray(value).dtype), name=im.unique("bias")).name


def _layer_norm(im, ins, attributes, outs):
    if attributes.get("axis", -1) != -1:
        raise im.refuse("normalising over more than the last axis; LayerNorm takes the last")
    scale = im.node_of(ins[1])
    bias = im.node_of(ins[2]) if len(ins) > 2 and ins[2] else _zero_bias(im, ins[1], 0)
    return im.add(G.LayerNorm(attributes.get("epsilon", 1e-5)), im.node_of(ins[0]), scale, bias, out=outs[0])


def _batch_norm(im, ins, attributes, outs):
    gate = G.BatchNorm(eps=attributes.get("epsilon", 1e-5), momentum=1 - attributes.get("momentum", 0.9))
    gate.running_mean = np.array(im.constant(ins[3], "running mean"))
    gate.running_var = np.array(im.constant(ins[4], "running variance"))
    gate.training = False                  # an exported model is in evaluation mode
    return im.add(gate, im.node_of(ins[0]), im.node_of(ins[1]), im.node_of(ins[2]), out=outs[0])


def _window(attributes, im):
    strides = attributes.get("strides", [1, 1])
    pads = attributes.get("pads", [0, 0, 0, 0])
    if len(strides) != 2 or pads[:2] != pads[2:]:
        raise im.refuse(f"pads {pads} that differ at the two ends, or not 2-D; the gates pad both ends alike")
    if any(d != 1 for d in attributes.get("dilations", [1, 1])) or attributes.get("group", 1) != 1 \
            or attributes.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise im.refuse("dilation, groups or auto_pad; the gates take strides and pads")
    return tuple(int(s) for s in strides), tuple(int(p) for p in pads[:2])


def _conv(gate):
    def read(im, ins, attributes, outs):
        if attributes.get("output_padding", [0, 0]) != [0, 0]:
            raise im.refuse("output_padding")
        stride, pad = _window(attributes, im)
        # the output channels: W (F, C, ...) for Conv, (C_in, C_out, ...) for ConvTranspose
        bias = im.node_of(ins[2]) if len(ins) > 2 and ins[2] else \
            _zero_bias(im, ins[1], 1 if gate is G.ConvTranspose2D else 0)
        return im.add(gate(stride, pad), im.node_of(ins[0]), im.node_of(ins[1]), bias, out=outs[0])
    return read


def _pool(gate):
    def read(im, ins, attributes, outs):
        if attributes.get("ceil_mode", 0):
            raise im.refuse("ceil_mode=1; the gates floor the output size, as PyTorch does by default")
        if gate is G.AvgPool2D and not attributes.get("count_include_pad", 0) and any(attributes.get("pads", [0])):
            raise im.refuse("count_include_pad=0 with padding; AvgPool2D counts the padding")
        stride, pad = _window(attributes, im)
        return im.add(gate(tuple(attributes["kernel_shape"]), stride, pad), im.node_of(ins[0]), out=outs[0])
    return read


def _reduce(gate, before=None):
    """A reduction over the axes given (every axis when none are), ``before`` gate first if any."""
    def read(im, ins, attributes, outs):
        x = im.node_of(ins[0])
        x = im.add(before(), x) if before else x
        axes = _axes(im, ins, attributes)
        if not axes and attributes.get("noop_with_empty_axes", 0):
            return im.add(_identity(), x, out=outs[0])
        axis = None if not axes else (axes[0] if len(axes) == 1 else tuple(axes))
        return im.add(gate(axis, bool(attributes.get("keepdims", 1))), x, out=outs[0])
    return read


def _cast(im, ins, attributes, outs):
    # a float tensor stays in its dtype (the gates' dtype rule); integers feed lookups as they are
    return im.add(_identity(), im.node_of(ins[0]), out=outs[0])


def _recurrent(kind):
    """ONNX's RNN / LSTM / GRU (forward, layout 0) as our gate, the weights reordered by gates so that
    the params keep ONNX's layout and names (their gradients come back in it)."""
    blocks = len(RECURRENT_ORDER[kind])
    back = np.argsort(RECURRENT_ORDER[kind])          # ONNX's block k is our block RECURRENT_ORDER[k]

    def ours(im, name, part=None):
        """(D, kH) in our block order from ONNX's (1, kH, D), or (kH,) from a half of B (1, 2kH)."""
        node = im.node_of(name)
        H = im.hidden
        if part is None:
            rows = im.add(G.Slice(0), node)                                # (kH, D)
            pieces = [im.add(G.Slice(slice(k * H, (k + 1) * H)), rows) for k in range(blocks)]
            reordered = im.add(G.Concat(0), *[pieces[k] for k in back]) if blocks > 1 else pieces[0]
            return im.add(G.Transpose(), reordered)
        half = im.add(G.Slice((0, slice(part * blocks * H, (part + 1) * blocks * H))), node)
        pieces = [im.add(G.Slice(slice(k * H, (k + 1) * H)), half) for k in range(blocks)]
        return im.add(G.Concat(0), *[pieces[k] for k in back]) if blocks > 1 else pieces[0]

    def read(im, ins, attributes, outs):
        if attributes.get("direction", b"forward") not in (b"forward", "forward") or attributes.get("layout", 0) \
                or attributes.get("clip") is not None or attributes.get("activations") \
                or attributes.get("input_forget", 0):
            raise im.refuse("a bidirectional or batch-first layer, clipping, other activations or coupled gates")
        if kind == "GRU" and not attributes.get("linear_before_reset", 0):
            raise im.refuse("linear_before_reset=0; the GRU gate is PyTorch's (reset applied after Wh)")
        if len(ins) > 4 and ins[4]:
            raise im.refuse("sequence_lens; every sequence must run its full length")
        im.hidden = int(attributes["hidden_size"])
        x = im.add(G.Transpose((1, 0, 2)), im.node_of(ins[0]))            # (T, N, D) -> (N, T, D)
        Wx, Wh = ours(im, ins[1]), ours(im, ins[2])
        dtype = im.initializers.get(ins[1], np.zeros(1, np.float32)).dtype
        zeros = None
        if len(ins) > 3 and ins[3]:
            biases = [ours(im, ins[3], 0), ours(im, ins[3], 1)]
        else:
            zeros = im.g.const(np.zeros(blocks * im.hidden, dtype), name=im.unique("zero_bias")).name
            biases = [zeros, zeros]
        states = []
        for position in ((5, 6) if kind == "LSTM" else (5,)):
            if len(ins) > position and ins[position]:
                states.append(im.add(G.Slice(0), im.node_of(ins[position])))     # (1, N, H) -> (N, H)
            else:
                states.append(im.g.const(np.zeros(im.hidden, dtype), name=im.unique("zero_state")).name)
        if kind == "GRU":
            h = im.add(G.GRU(), x, states[0], Wx, Wh, *biases)
        else:
            b = im.add(G.Add(), *biases)
            h = im.add(getattr(G, kind)(), x, *states, Wx, Wh, b)
        if len(outs) > 2 and outs[2]:
            raise im.refuse("its last cell state Y_c is used; the LSTM gate gives the hidden states")
        time_major = im.add(G.Transpose((1, 0, 2)), h)                      # (T, N, H)
        y = im.add(G.Slice((slice(None), None)), time_major, out=outs[0] or None)   # (T, 1, N, H)
        last = im.add(G.Slice((slice(None), -1, None)), h) if len(outs) > 1 and outs[1] else None
        last = im.add(G.Transpose((1, 0, 2)), last, out=outs[1]) if last is not None else None   # (1, N, H)
        return [y, last]
    return read


def _softmax_cross_entropy(im, ins, attributes, outs):
    if attributes.get("reduction", b"mean") not in (b"mean", "mean") or (len(ins) > 2 and ins[2]):
        raise im.refuse("a reduction other than the mean, or class weights")
    scores = im.node_of(ins[0])
    ndim = im.rank(ins[0])
    if ndim is None:
        raise im.refuse("scores of unknown rank")
    if ndim > 2:                                                          # (N, C, ...) -> (N, ..., C)
        scores = im.add(G.Transpose((0, *range(2, ndim), 1)), scores)
    return im.add(SoftmaxWithLoss(ignore_index=attributes.get("ignore_index")), scores, im.node_of(ins[1]),
                  out=outs[0])


def _softplus(im, ins, attributes, outs):
    """log(1 + exp(x)) as relu(x) + log(1 + exp(-|x|)): no overflow for any x."""
    x = im.node_of(ins[0])
    tail = im.add(G.Exp(), im.add(G.Multiply(), im.add(G.Abs(), x), im.g.const(-1.0, name=im.unique("minus_one")).name))
    soft = im.add(G.Log(), im.add(G.Add(), tail, im.g.const(1.0, name=im.unique("one")).name))
    return im.add(G.Add(), im.add(G.ReLU(), x), soft, out=outs[0])


def _neg(im, ins, attributes, outs):
    return im.add(G.Multiply(), im.node_of(ins[0]), im.g.const(-1.0, name=im.unique("minus_one")).name, out=outs[0])


def _identity_op(im, ins, attributes, outs):
    return [im.add(_identity(), im.node_of(ins[0]), out=outs[0]), None]   # Dropout's mask: not used


IMPORTS = {
    "Add": _binary(G.Add), "Sub": _binary(G.Subtract), "Mul": _binary(G.Multiply), "Div": _binary(G.Divide),
    "Max": _binary(G.Max), "MatMul": _binary(G.MatMul), "Pow": _pow, "Clip": _clip, "Gemm": _gemm,
    "Exp": _unary(lambda a: G.Exp()), "Log": _unary(lambda a: G.Log()), "Abs": _unary(lambda a: G.Abs()),
    "Erf": _unary(lambda a: G.Erf()), "Sqrt": _unary(lambda a: G.Power(0.5)),
    "Reciprocal": _unary(lambda a: G.Power(-1)), "Neg": _neg,
    "Relu": _unary(lambda a: G.ReLU()), "Sigmoid": _unary(lambda a: G.Sigmoid()), "Tanh": _unary(lambda a: G.Tanh()),
    "LeakyRelu": _unary(lambda a: G.LeakyReLU(a.get("alpha", 0.01))),
    "Elu": _unary(lambda a: G.ELU(a.get("alpha", 1.0))),
    "Gelu": _unary(lambda a: G.GELU("tanh" if a.get("approximate", b"none") in (b"tanh", "tanh") else "none")),
    "Softmax": _unary(lambda a: G.Softmax(int(a.get("axis", -1)))),
    "LogSoftmax": _unary(lambda a: G.LogSoftmax(int(a.get("axis", -1)))),
    "Reshape": _reshape, "Flatten": _flatten, "Transpose": _transpose, "Concat": _concat, "Slice": _slice,
    "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "Gather": _gather, "Identity": _identity_op,
    "Dropout": _identity_op, "Cast": _cast,
    "LayerNormalization": _layer_norm, "BatchNormalization": _batch_norm,
    "Conv": _conv(G.Conv2D), "ConvTranspose": _conv(G.ConvTranspose2D),
    "MaxPool": _pool(G.MaxPool2D), "AveragePool": _pool(G.AvgPool2D),
    "ReduceSum": _reduce(G.Sum), "ReduceMean": _reduce(G.Mean), "ReduceMax": _reduce(G.Amax),
    "RNN": _recurrent("RNN"), "LSTM": _recurrent("LSTM"), "GRU": _recurrent("GRU"),
    "SoftmaxCrossEntropyLoss": _softmax_cross_entropy, "ReduceSumSquare": _reduce(G.Sum, G.Square),
    "Softplus": _softplus,
}
# what constants may be folded through at import (the shape arithmetic exporters write)
FOLDABLE = {"Add", "Sub", "Mul", "Div", "Neg", "Reshape", "Transpose", "Concat", "Slice", "Squeeze", "Unsqueeze",
            "Gather", "Identity", "Cast", "Shape", "Range", "Expand", "ConstantOfShape", "Sqrt", "Pow", "Max",
            "Min", "ReduceProd", "Equal", "Where", "Abs", "Floor", "Ceil"}
