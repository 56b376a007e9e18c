"""Convolution and pooling over images laid out as (N, C, H, W)."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .base import Gate, shape_error, upstream


def _output_size(gate, size, window, stride, axis):
    """Output length along one axis; the windows must tile the (padded) input exactly."""
    if size < window or (size - window) % stride:
        raise shape_error(gate, f"a window of {window} with stride {stride} does not tile the "
                                f"padded input {axis} of {size}; expected ({size} - {window}) "
                                f"divisible by {stride}")
    return (size - window) // stride + 1


class Conv2D(Gate):
    """Cross-correlation with zero padding.

    x: (N, C, H, W), W: (F, C, HH, WW), b: (F,); returns (N, F, H', W') with
    H' = (H + 2 pad - HH) / stride + 1. Computed as one matrix product with an
    im2col matrix of shape (C*HH*WW, N*H'*W'), built from a strided view.
    """

    rule = "dW = dout (x) cols, dx = col2im(W.T @ dout), db = sum of dout"
    hyperparameters = ("stride", "pad")

    def __init__(self, stride=1, pad=0):
        self.stride, self.pad = stride, pad

    def forward(self, x, W, b):
        x, W = np.asarray(x), np.asarray(W)
        if x.ndim != 4 or W.ndim != 4 or x.shape[1] != W.shape[1]:
            raise shape_error(self, f"x has shape {x.shape} but W has shape {W.shape}; expected "
                                    "x (N, C, H, W) and W (F, C, HH, WW) with the same C")
        if np.shape(b) != (W.shape[0],):
            raise shape_error(self, f"W has shape {W.shape} but b has shape {np.shape(b)}; "
                                    f"expected b of shape ({W.shape[0]},)")
        N, C, H, Wd = x.shape
        F, _, HH, WW = W.shape
        s, p = self.stride, self.pad
        Ho = _output_size(self, H + 2 * p, HH, s, "height")
        Wo = _output_size(self, Wd + 2 * p, WW, s, "width")
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x
        windows = sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::s, ::s]
        # (C, HH, WW, N, Ho, Wo): rows are filter taps, columns output pixels, so
        # both matrix products below run on contiguous operands.
        self.cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * HH * WW, N * Ho * Wo)
        self.W, self.xp_shape = W, xp.shape
        out = W.reshape(F, -1) @ self.cols + np.reshape(b, (F, 1))
        return out.reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3)

    def backward(self, dout):
        dout = upstream(dout, self.cols)
        F, C, HH, WW = self.W.shape
        N, _, Ho, Wo = dout.shape
        s, p = self.stride, self.pad
        dout2 = dout.transpose(1, 0, 2, 3).reshape(F, -1)
        dW = (dout2 @ self.cols.T).reshape(self.W.shape)
        db = dout2.sum(axis=1)
        if not self.wants_grad(0):
            return None, dW, db
        dcols = (self.W.reshape(F, -1).T @ dout2).reshape(C, HH, WW, N, Ho, Wo)
        # col2im: every filter tap (i, j) adds its column block back at its
        # strided offset; a loop over taps, never over pixels.
        dxp = np.zeros(self.xp_shape, dtype=dcols.dtype)
        dxp_chw = dxp.transpose(1, 0, 2, 3)   # a view in dcols' (C, N, ...) order
        for i in range(HH):
            for j in range(WW):
                dxp_chw[:, :, i:i + s * Ho:s, j:j + s * Wo:s] += dcols[:, i, j]
        dx = dxp[:, :, p:dxp.shape[2] - p, p:dxp.shape[3] - p] if p else dxp
        return dx, dW, db


class MaxPool2D(Gate):
    """Max over size x size windows moved by ``stride``: x (N, C, H, W) -> (N, C, H', W').

    H' = (H - size) // stride + 1. The gradient goes to one argmax per window:
    the first in row-major order when values tie (as PyTorch does).
    """

    rule = "1 at each window's argmax, 0 elsewhere (router)"
    hyperparameters = ("size", "stride")

    def __init__(self, size=2, stride=2):
        self.size, self.stride = size, stride

    def _taps(self, array, Ho, Wo):
        """The strided slice of ``array`` under each window tap (i, j), row-major."""
        s = self.stride
        for i in range(self.size):
            for j in range(self.size):
                yield array[:, :, i:i + s * Ho:s, j:j + s * Wo:s]

    def forward(self, x):
        x = np.asarray(x)
        if x.ndim != 4 or x.shape[2] < self.size or x.shape[3] < self.size:
            raise shape_error(self, f"x has shape {x.shape}; expected (N, C, H, W) with H and W "
                                    f"at least the window size {self.size}")
        Ho = (x.shape[2] - self.size) // self.stride + 1
        Wo = (x.shape[3] - self.size) // self.stride + 1
        # the max of size*size strided slices is far cheaper than a reshape-and-max
        taps = self._taps(x, Ho, Wo)
        out = next(taps).copy()
        for tap in taps:
            np.maximum(out, tap, out=out)
        self.x, self.out = x, out
        return out

    def backward(self, dout):
        dout = upstream(dout, self.out)
        dx = np.zeros(self.x.shape, dtype=dout.dtype)
        Ho, Wo = self.out.shape[2:]
        routed = np.zeros(self.out.shape, dtype=bool)   # windows whose argmax is taken
        for x_tap, dx_tap in zip(self._taps(self.x, Ho, Wo), self._taps(dx, Ho, Wo)):
            hit = (x_tap == self.out) & ~routed
            routed |= hit
            dx_tap += dout * hit
        return dx
