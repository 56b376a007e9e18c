"""Plain-numpy references of the gates (the first oracle: slow and obviously right) and the
PyTorch references that need more than a line (the second), for ``gates.catalogue``."""
import numpy as np
from scipy.special import erf  # noqa: F401 - the reference of the Erf gate


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def pair(n):
    return (n, n) if np.ndim(n) == 0 else tuple(n)


def conv(x, W, b, stride, pad):
    """Cross-correlation written out over output pixels: slow and obviously right."""
    (sh, sw), (ph, pw) = pair(stride), pair(pad)
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    F, _, HH, WW = W.shape
    Ho, Wo = (x.shape[2] - HH) // sh + 1, (x.shape[3] - WW) // sw + 1
    out = np.empty((x.shape[0], F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            patch = x[:, :, i * sh:i * sh + HH, j * sw:j * sw + WW]
            out[:, :, i, j] = np.tensordot(patch, W, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def conv_transpose(x, W, b, stride, pad):
    """Each input pixel scatters W, scaled by its value, at its strided place; then the pad is cut."""
    (sh, sw), (ph, pw) = pair(stride), pair(pad)
    N, _, H, Wd = x.shape
    _, F, HH, WW = W.shape
    out = np.zeros((N, F, (H - 1) * sh + HH, (Wd - 1) * sw + WW))
    for i in range(H):
        for j in range(Wd):
            out[:, :, i * sh:i * sh + HH, j * sw:j * sw + WW] += np.tensordot(x[:, :, i, j], W, axes=(1, 0))
    return out[:, :, ph:out.shape[2] - ph, pw:out.shape[3] - pw] + b.reshape(1, -1, 1, 1)


def pool(x, size, stride, pad=0, reduce=np.max, fill=-np.inf):
    """Pooling written out over windows: ``reduce`` of each window of x padded with ``fill``."""
    (kh, kw), (sh, sw), (ph, pw) = pair(size), pair(stride), pair(pad)
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    Ho, Wo = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    return np.array([[reduce(x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw], axis=(2, 3))
                      for j in range(Wo)] for i in range(Ho)]).transpose(2, 3, 0, 1)


def avg_pool(x, size, stride, pad=0):
    return pool(x, size, stride, pad, np.mean, 0.0)


def batchnorm(x, gamma, beta, eps=1e-5):
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    xhat = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    return xhat * gamma.reshape(shape) + beta.reshape(shape)


def layer_norm(x, gamma, beta, eps=1e-5):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps) * gamma + beta


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def rnn(x, h, Wx, Wh, b):
    out = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        out.append(h)
    return np.stack(out, axis=1)


def lstm(x, h, c, Wx, Wh, b):
    out, H = [], Wh.shape[0]
    for t in range(x.shape[1]):
        a = x[:, t] @ Wx + h @ Wh + b
        i, f, g, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        out.append(h)
    return np.stack(out, axis=1)


def gru(x, h, Wx, Wh, bx, bh):
    out, H = [], Wh.shape[0]
    h = np.broadcast_to(h, (x.shape[0], H))
    for t in range(x.shape[1]):
        xa, ha = x[:, t] @ Wx + bx, h @ Wh + bh
        r, z = sigmoid(xa[:, :H] + ha[:, :H]), sigmoid(xa[:, H:2 * H] + ha[:, H:2 * H])
        n = np.tanh(xa[:, 2 * H:] + r * ha[:, 2 * H:])
        h = (1 - z) * n + z * h
        out.append(h)
    return np.stack(out, axis=1)


def torch_recurrent(kind):
    """A torch reference for RNN / LSTM / GRU: ``torch.nn`` modules run with our arrays as their weights."""
    def reference(torch, x, h0, *rest):
        H = h0.shape[1]
        module = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[kind](
            x.shape[2], H, batch_first=True, dtype=x.dtype)
        if kind == "LSTM":
            c0, Wx, Wh, b = rest
            state, bias_ih, bias_hh = (h0[None], c0[None]), b, torch.zeros_like(b)
        elif kind == "GRU":
            Wx, Wh, bias_ih, bias_hh = rest
            state = h0[None]
        else:
            Wx, Wh, bias_ih = rest
            state, bias_hh = h0[None], torch.zeros_like(bias_ih)
        weights = {"weight_ih_l0": Wx.T, "weight_hh_l0": Wh.T, "bias_ih_l0": bias_ih, "bias_hh_l0": bias_hh}
        return torch.func.functional_call(module, weights, (x, state))[0]
    return reference


def gelu(x):
    return x * 0.5 * (1 + erf(x / np.sqrt(2)))


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def amax(x, axis=None, keepdims=False):
    return np.amax(x, axis=axis, keepdims=keepdims)
