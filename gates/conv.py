"""Convolution and pooling over images laid out as (N, C, H, W).

Sizes, strides and pads take an int or a pair (h, w), as PyTorch's do. Output sizes follow
PyTorch: H' = floor((H + 2 pad - HH) / stride) + 1, windows past the last whole one left out.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .base import Gate, GateError, HyperparameterError, as_float, as_floats, cast_like, hyperparameter


def _output_size(gate, size, window, stride, axis):
    """Output length along one axis, floor((size - window) / stride) + 1 as PyTorch: windows
    that do not fit at the end are left out."""
    if size < window:
        raise GateError(gate, f"the (padded) input {axis} is {size} but the window is {window}; "
                              "expected an input at least as large as the window")
    return (size - window) // stride + 1


def _pad(x, pad, value=0.0):
    ph, pw = pad
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value) if ph or pw else x


def _crop(xp, pad):
    ph, pw = pad
    return xp[:, :, ph:xp.shape[2] - ph, pw:xp.shape[3] - pw] if ph or pw else xp


def _im2col(xp, kernel, stride, out_size):
    """(N, C*HH*WW, Ho*Wo): one image's taps by its output pixels, from a strided view, so that
    a product with W (F, C*HH*WW) lands directly in (N, F, Ho*Wo) order."""
    (HH, WW), (sh, sw), (Ho, Wo) = kernel, stride, out_size
    N, C = xp.shape[:2]
    windows = sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :Ho, :Wo]
    return windows.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * HH * WW, Ho * Wo)


def _col2im(W, dout, padded_shape, stride):
    """Sum over filters F of W (F, C, HH, WW) times dout (N, F, Ho, Wo), each tap added back at
    its strided offset of an (N, C, *padded_shape) array: the adjoint of `_im2col` times W.

    One product for all images, rows ordered (tap, channel) and columns (image, pixel), so that
    each tap's block is contiguous; then a loop over taps, never over pixels (15-27% faster than
    a product per image in benchmarks/conv_step.py's configurations).
    """
    F, C, HH, WW = W.shape
    N, _, Ho, Wo = dout.shape
    sh, sw = stride
    W_taps = W.transpose(2, 3, 1, 0).reshape(HH * WW * C, F)
    dout_rows = dout.transpose(1, 0, 2, 3).reshape(F, N * Ho * Wo)
    dcols = (W_taps @ dout_rows).reshape(HH, WW, C, N, Ho, Wo)
    out = np.zeros((C, N) + tuple(padded_shape), dtype=dcols.dtype)
    for i in range(HH):
        for j in range(WW):
            out[:, :, i:i + sh * Ho:sh, j:j + sw * Wo:sw] += dcols[i, j]
    return out.transpose(1, 0, 2, 3)


def _check_conv(gate, x, W, b, channels_axis, out_axis):
    """x (N, C, H, W) and W 4-D with C on ``channels_axis``, b (W.shape[out_axis],)."""
    layout = "(F, C, HH, WW)" if channels_axis == 1 else "(C_in, C_out, HH, WW)"
    if x.ndim != 4 or W.ndim != 4 or x.shape[1] != W.shape[channels_axis]:
        raise GateError(gate, f"x has shape {x.shape} but W has shape {W.shape}; expected "
                              f"x (N, C, H, W) and W {layout} with the same C")
    if np.shape(b) != (W.shape[out_axis],):
        raise GateError(gate, f"W has shape {W.shape} but b has shape {np.shape(b)}; "
                              f"expected b of shape ({W.shape[out_axis]},)")


class _Convolution(Gate):
    """What Conv2D and ConvTranspose2D share: stride and pad, each an int or a pair (h, w)."""

    hyperparameters = ("stride", "pad")

    def __init__(self, stride=1, pad=0):
        self.stride = hyperparameter(type(self).__name__, "stride", stride, "pair", low=1)
        self.pad = hyperparameter(type(self).__name__, "pad", pad, "pair", low=0)


class Conv2D(_Convolution):
    """Cross-correlation with zero padding.

    x: (N, C, H, W), W: (F, C, HH, WW), b: (F,); returns (N, F, H', W') with
    H' = floor((H + 2 pad - HH) / stride) + 1, as PyTorch. Computed as matrix products with
    an im2col array of shape (N, C*HH*WW, H'*W') built from a strided view.
    """

    rule = "dW = dout (x) cols, dx = col2im(W.T @ dout), db = sum of dout"

    def forward(self, x, W, b):
        x, W, b = as_floats(self, "x W b", x, W, b)
        _check_conv(self, x, W, b, 1, 0)
        F, _, HH, WW = W.shape
        xp = _pad(x, self.pad)
        Ho = _output_size(self, xp.shape[2], HH, self.stride[0], "height")
        Wo = _output_size(self, xp.shape[3], WW, self.stride[1], "width")
        self.cols = _im2col(xp, (HH, WW), self.stride, (Ho, Wo))
        self.W, self.xp_shape = W, xp.shape
        out = np.matmul(W.reshape(F, -1), self.cols)
        out += np.reshape(b, (F, 1))
        return out.reshape(x.shape[0], F, Ho, Wo)

    def backward(self, dout):
        dout = cast_like(dout, self.cols)
        N, F, Ho, Wo = dout.shape
        dout3 = dout.reshape(N, F, Ho * Wo)
        dW = np.matmul(dout3, self.cols.transpose(0, 2, 1)).sum(axis=0).reshape(self.W.shape)
        db = dout3.sum(axis=(0, 2))
        if not self.wants_grad(0):
            return None, dW, db
        return _crop(_col2im(self.W, dout, self.xp_shape[2:], self.stride), self.pad), dW, db


class ConvTranspose2D(_Convolution):
    """The transposed convolution: the adjoint of `Conv2D` with the same stride and pad.

    x: (N, C_in, H, W), W: (C_in, C_out, HH, WW) (``torch.nn.functional.conv_transpose2d``'s
    layout), b: (C_out,); returns (N, C_out, H', W') with H' = (H - 1) stride - 2 pad + HH.
    Forward is Conv2D's input gradient; its input gradient is a Conv2D of dout.
    """

    rule = "dx = conv2d(dout, W), dW = x (x) im2col(dout), db = sum of dout"

    def forward(self, x, W, b):
        x, W, b = as_floats(self, "x W b", x, W, b)
        _check_conv(self, x, W, b, 0, 1)
        _, C_out, HH, WW = W.shape
        full = tuple((n - 1) * s + k for n, s, k in zip(x.shape[2:], self.stride, (HH, WW)))
        if any(n - 2 * p < 1 for n, p in zip(full, self.pad)):
            raise GateError(self, f"x has shape {x.shape} and W {W.shape}: with stride {self.stride} and pad "
                                  f"{self.pad} the output would be {tuple(n - 2 * p for n, p in zip(full, self.pad))}; "
                                  "expected a pad smaller than half the full output")
        self.x, self.W = x, W
        out = _crop(_col2im(W, x, full, self.stride), self.pad)
        return out + np.reshape(b, (C_out, 1, 1))

    def backward(self, dout):
        dout = cast_like(dout, self.x)
        N, C_in, H, Wd = self.x.shape
        _, C_out, HH, WW = self.W.shape
        cols = _im2col(_pad(dout, self.pad), (HH, WW), self.stride, (H, Wd))   # (N, C_out*HH*WW, H*W)
        x3 = self.x.reshape(N, C_in, H * Wd)
        dW = np.matmul(x3, cols.transpose(0, 2, 1)).sum(axis=0).reshape(self.W.shape)
        db = dout.sum(axis=(0, 2, 3))
        if not self.wants_grad(0):
            return None, dW, db
        dx = np.matmul(self.W.reshape(C_in, -1), cols).reshape(self.x.shape)
        return dx, dW, db


class _Pool2D(Gate):
    """What max and average pooling share: size, stride and pad as pairs, the windows' taps."""

    hyperparameters = ("size", "stride", "pad")

    def __init__(self, size=2, stride=2, pad=0):
        name = type(self).__name__
        self.size = hyperparameter(name, "size", size, "pair", low=1)
        self.stride = hyperparameter(name, "stride", stride, "pair", low=1)
        self.pad = hyperparameter(name, "pad", pad, "pair", low=0)
        if any(2 * p > k for p, k in zip(self.pad, self.size)):
            # as PyTorch: a window may never lie wholly in the padding
            raise HyperparameterError(f"{name}: pad must be at most half the window size {self.size}, "
                                      f"got {pad!r}")

    def _padded(self, x, value):
        x = as_float(self, x)
        xp = _pad(x, self.pad, value) if x.ndim == 4 else x
        if x.ndim != 4 or xp.shape[2] < self.size[0] or xp.shape[3] < self.size[1]:
            raise GateError(self, f"x has shape {x.shape}; expected (N, C, H, W) with H and W (padded by "
                                  f"{self.pad}) at least the window size {self.size}")
        self.x_shape = x.shape
        self.out_size = tuple((n - k) // s + 1 for n, k, s in zip(xp.shape[2:], self.size, self.stride))
        return xp

    def _taps(self, array):
        """The strided slice of ``array`` under each window tap (i, j), row-major."""
        (sh, sw), (Ho, Wo) = self.stride, self.out_size
        for i in range(self.size[0]):
            for j in range(self.size[1]):
                yield array[:, :, i:i + sh * Ho:sh, j:j + sw * Wo:sw]


class MaxPool2D(_Pool2D):
    """Max over size windows moved by ``stride``, padding with -inf: x (N, C, H, W) -> (N, C, H', W').

    The gradient goes to one argmax per window: the first in row-major order when values tie
    (as PyTorch does).
    """

    rule = "1 at each window's argmax, 0 elsewhere (router)"

    def forward(self, x):
        xp = self._padded(x, -np.inf)
        # the max of size*size strided slices is far cheaper than a reshape-and-max
        taps = self._taps(xp)
        out = next(taps).copy()
        for tap in taps:
            np.maximum(out, tap, out=out)
        self.xp, self.out = xp, out
        return out

    def backward(self, dout):
        dout = cast_like(dout, self.out)
        overlapping = any(s < k for s, k in zip(self.stride, self.size))
        # windows that tile x exactly write every position below: no zero-fill needed
        tiled = self.stride == self.size and self.xp.shape[2:] == tuple(
            n * k for n, k in zip(self.out_size, self.size))
        dxp = (np.empty if tiled else np.zeros)(self.xp.shape, dtype=dout.dtype)
        routed = np.zeros(self.out.shape, dtype=bool)   # windows whose argmax is taken
        hit = np.empty(self.out.shape, dtype=bool)
        for x_tap, dx_tap in zip(self._taps(self.xp), self._taps(dxp)):
            np.equal(x_tap, self.out, out=hit)
            np.greater(hit, routed, out=hit)    # hit and not routed: the first tie wins
            routed |= hit
            if overlapping:
                dx_tap += dout * hit
            else:                               # each position lies in one window only
                np.multiply(dout, hit, out=dx_tap)
        return _crop(dxp, self.pad)


class AvgPool2D(_Pool2D):
    """Mean over size windows moved by ``stride``, padding with zeros that count
    (``torch.nn.functional.avg_pool2d`` with ``count_include_pad=True``): x (N, C, H, W) -> (N, C, H', W')."""

    rule = "1/(window area) to every position of each window"

    def forward(self, x):
        xp = self._padded(x, 0.0)
        taps = self._taps(xp)
        out = next(taps).copy()
        for tap in taps:
            out += tap
        self.xp_shape, self.dtype = xp.shape, xp.dtype
        return out / (self.size[0] * self.size[1])

    def backward(self, dout):
        share = cast_like(dout, self.dtype) / (self.size[0] * self.size[1])
        dxp = np.zeros(self.xp_shape, dtype=share.dtype)
        for dx_tap in self._taps(dxp):
            dx_tap += share
        return _crop(dxp, self.pad)
