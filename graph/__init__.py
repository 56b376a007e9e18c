"""The engine: gates wired into a computational graph, run forward and backward.

The optimizers live in the training kit (`graph.training`) and are re-exported here, as
the public contract promises, while the engine must not depend on the kit. So they are
loaded on first use (PEP 562): `import graph` does not load the kit, and nothing in
the engine's modules refers to it.
"""
import importlib

from .graph import ComputationalGraph, Node

__all__ = ["ComputationalGraph", "Node", "SGD", "Momentum", "RMSProp", "Adam"]


def __getattr__(name):
    if name in ("SGD", "Momentum", "RMSProp", "Adam"):
        return getattr(importlib.import_module("graph.training"), name)
    raise AttributeError(f"module 'graph' has no attribute {name!r}")
