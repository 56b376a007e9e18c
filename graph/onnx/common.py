"""What export and import share: the opset, the dtypes, and importing the optional onnx package."""
import numpy as np

OPSET = 18
INSTALL_HINT = 'ONNX needs the onnx extra: pip install -e ".[onnx]" (onnx, and onnxruntime to serve models)'


def onnx_module():
    """The onnx package, or ImportError saying what to install."""
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401 - a submodule onnx does not load by itself
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return onnx


# numpy dtype -> ONNX's TensorProto element type (the values onnx.TensorProto names)
DTYPES = {np.dtype(np.float32): 1, np.dtype(np.float64): 11, np.dtype(np.int64): 7, np.dtype(np.int32): 6,
          np.dtype(np.bool_): 9}
