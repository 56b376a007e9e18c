"""Network builders: plain graph assembly, the same a user could write by hand."""
from .feedforward import convnet, mlp
from .recurrent import generate, language_model

__all__ = ["mlp", "convnet", "language_model", "generate"]
