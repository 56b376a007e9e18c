"""Losses: gates with a scalar (Python float) output and backward(dout=1.0)."""
from .losses import Hinge, L2Penalty, MeanSquaredError, SoftmaxWithLoss

__all__ = ["SoftmaxWithLoss", "Hinge", "MeanSquaredError", "L2Penalty"]
