"""Gates: the operations of a computational graph, each with forward and backward."""
from .activations import ELU, GELU, LeakyReLU, ReLU, Sigmoid, Tanh
from .arithmetic import (
    Abs,
    Add,
    Amax,
    Clip,
    Divide,
    Erf,
    Exp,
    Log,
    MatMul,
    Max,
    Mean,
    Multiply,
    Power,
    Repeat,
    Square,
    Subtract,
    Sum,
)
from .base import DtypeError, Gate, GateError, HyperparameterError, NotForwardedError, unbroadcast
from .conv import AvgPool2D, Conv2D, ConvTranspose2D, MaxPool2D
from .layers import Affine, BatchNorm, Dropout, Flatten, Reshape
from .recurrent import GRU, LSTM, RNN, RNNStep
from .sequence import Concat, Embedding, LayerNorm, Linear, LogSoftmax, Slice, Softmax, Transpose

__all__ = [
    "Gate", "GateError", "DtypeError", "HyperparameterError", "NotForwardedError", "unbroadcast",
    "Add", "Subtract", "Multiply", "Divide", "Max",
    "Square", "Power", "Exp", "Log", "Abs", "Clip", "Erf",
    "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "GELU",
    "MatMul", "Sum", "Mean", "Amax", "Repeat",
    "Affine", "Flatten", "Reshape", "Dropout", "BatchNorm",
    "Conv2D", "ConvTranspose2D", "MaxPool2D", "AvgPool2D",
    "Embedding", "Linear", "LayerNorm", "Slice", "Concat", "Transpose", "Softmax", "LogSoftmax",
    "RNNStep", "RNN", "LSTM", "GRU",
]
