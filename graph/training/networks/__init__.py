"""Network builders: plain graph assembly, the same a user could write by hand."""
from .attention import MASKED, attention, causal_mask, seq2seq, skip_gram, transformer, transformer_block, translate
from .feedforward import convnet, mlp
from .recurrent import generate, language_model

__all__ = ["mlp", "convnet", "language_model", "generate", "attention", "transformer_block", "transformer",
           "causal_mask", "MASKED", "seq2seq", "translate", "skip_gram"]
