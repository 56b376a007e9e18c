"""Losses: gates with a scalar (Python float) output and backward(dout=1.0)."""
from .losses import Hinge, L2Penalty, MeanSquaredError, SigmoidWithLoss, SoftmaxWithLoss

__all__ = ["SoftmaxWithLoss", "SigmoidWithLoss", "Hinge", "MeanSquaredError", "L2Penalty"]
