"""The training kit: optimizers, gradient clipping, initialisers, network builders, data, the trainer."""
from . import data, init, networks
from .optim import SGD, Adam, Momentum, RMSProp, clip_grads
from .trainer import Trainer

__all__ = ["SGD", "Momentum", "RMSProp", "Adam", "clip_grads", "Trainer", "init", "networks", "data"]
