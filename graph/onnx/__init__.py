"""ONNX both ways: `to_onnx` writes a graph's forward pass for ONNX Runtime and the rest of the
ecosystem; `from_onnx` reads a model (from `to_onnx` or ``torch.onnx.export``) as a graph of gates.
Needs the ``onnx`` extra; imported when called."""
from .export import to_onnx
from .load import from_onnx

__all__ = ["to_onnx", "from_onnx"]
