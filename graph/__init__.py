"""The computational graph, its optimizers and training."""
from .graph import ComputationalGraph, Node
from .optim import SGD, Adam, Momentum, RMSProp

__all__ = ["ComputationalGraph", "Node", "SGD", "Momentum", "RMSProp", "Adam"]
