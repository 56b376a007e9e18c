"""The engine: gates wired into a computational graph, run forward and backward.

DESIGN.md asks this package to re-export the optimizers, which live in the training
kit (`graph.training`), and asks the engine never to depend on the kit. So they are
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
