"""Gates: the operations of a computational graph, each with forward and backward."""
from .activations import ReLU, Sigmoid, Tanh
from .arithmetic import Add, Divide, Exp, Log, MatMul, Max, Multiply, Power, Repeat, Square, Subtract, Sum
from .base import Gate, GateError, NotForwardedError, unbroadcast
from .conv import Conv2D, MaxPool2D
from .layers import Affine, BatchNorm, Dropout, Flatten, Reshape
from .recurrent import GRU, LSTM, RNN, RNNStep
from .sequence import Concat, Embedding, LayerNorm, Linear, Slice, Softmax, Transpose

__all__ = [
    "Gate", "GateError", "NotForwardedError", "unbroadcast",
    "Add", "Subtract", "Multiply", "Divide", "Max",
    "Square", "Power", "Exp", "Log",
    "Sigmoid", "Tanh", "ReLU",
    "MatMul", "Sum", "Repeat",
    "Affine", "Flatten", "Reshape", "Dropout", "BatchNorm",
    "Conv2D", "MaxPool2D",
    "Embedding", "Linear", "LayerNorm", "Slice", "Concat", "Transpose", "Softmax",
    "RNNStep", "RNN", "LSTM", "GRU",
]
