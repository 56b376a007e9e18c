"""Recurrent gates: one RNN step, and RNN, LSTM and GRU layers that run their time loop inside.

Each layer takes x (N, T, D) and its initial state(s), returns h (N, T, H), keeps the last
states in ``final_h`` (and ``final_c``) for truncated backpropagation through time, and
backpropagates through time in ``backward``. The input-to-hidden products of every step
are one matrix product before the loop; only the hidden-to-hidden product is per step.
Weight layouts follow PyTorch: ``Wx = weight_ih.T``, ``Wh = weight_hh.T``.
"""
import numpy as np
from scipy.special import expit

from .base import Gate, GateError, as_floats, cast_like, unbroadcast


def _check(gate, x, h0, Wx, Wh, blocks, biases):
    """Shapes of x (N, T, D), h0 (N, H), Wx (D, k H), Wh (H, k H), biases (k H,), or a GateError.

    h0 may also be (H,) or (1, H), broadcast over the batch (a zero or learned initial state).
    The inputs are float arrays already (`as_floats` in each forward).
    """
    if x.ndim != 3 or 0 in x.shape:
        raise GateError(gate, f"x has shape {x.shape}; expected (N, T, D) with N, T, D > 0 "
                              "(a sequence of length 0 has nothing to run over)")
    N, T, D = x.shape
    H = np.shape(Wh)[0] if np.ndim(Wh) == 2 else -1
    want = {"Wx": (D, blocks * H), "Wh": (H, blocks * H), "h0": (N, H)}
    got = {"Wx": np.shape(Wx), "Wh": np.shape(Wh),
           "h0": (N, H) if np.shape(h0) in ((H,), (1, H)) else np.shape(h0)}
    want.update({f"b{k}": (blocks * H,) for k in range(len(biases))})
    got.update({f"b{k}": np.shape(b) for k, b in enumerate(biases)})
    wrong = [f"{name} {got[name]}" for name in want if got[name] != want[name]]
    if H < 1 or wrong:
        raise GateError(gate, f"x has shape {x.shape} and Wh {np.shape(Wh)} (so H = {H}), but "
                              f"{', '.join(wrong) or 'Wh is not (H, H)'}; expected Wx (D, {blocks}H), "
                              f"Wh (H, {blocks}H), h0 (N, H), biases ({blocks}H,)")
    dtypes = {"x": x.dtype, "h0": h0.dtype, "Wx": Wx.dtype, "Wh": Wh.dtype,
              **{f"b{k}": b.dtype for k, b in enumerate(biases)}}
    if len(set(dtypes.values())) > 1:
        # mixed, the loop would promote to float64 and hand float32 weights float64 gradients
        listed = ", ".join(f"{name} {dtype}" for name, dtype in dtypes.items())
        raise GateError(gate, f"the inputs have dtypes {listed}; expected one float dtype for all (feed the "
                              "states and data in the weights' dtype)")
    return x


def sigmoid_(a):
    """a <- sigmoid(a) in place, stable for any finite a.

    float32: as 0.5 + 0.5 tanh(a / 2) (tanh saturates, nothing overflows): on the gate columns of
    an LSTM step (batch 128, H 128) numpy's float32 tanh takes 106 us where scipy's expit takes
    146 us. float64: expit, which there is 2.2x faster than the tanh form (289 against 642 us).
    The `Sigmoid` gate keeps expit: it also keeps the far negative tail's relative precision,
    which the tanh form rounds to 0.
    """
    if a.dtype == np.float32:
        a *= 0.5
        np.tanh(a, out=a)
        a *= 0.5
        a += 0.5
        return a
    return expit(a, out=a)


def _time_major(a):
    """(N, T, K) -> (T * N, K), rows ordered by time step, then batch item."""
    return a.transpose(1, 0, 2).reshape(-1, a.shape[2])


def _from_time_major(rows, N, T):
    """(T * N, K) rows -> (N, T, K)."""
    return rows.reshape(T, N, -1).transpose(1, 0, 2)


def _time_major_products(x, Wx, b):
    """x_t Wx + b for every step as one product: (T, N, K), a fresh array the loop may write into."""
    N, T, _ = x.shape
    out = _time_major(x) @ Wx
    out += b
    return out.reshape(T, N, -1)


def _input_and_weight_gradients(gate, d_input_side, d_hidden_side):
    """dx, dWx and dWh of a recurrent layer, from the gradients at every step's x_t Wx (+ b) and
    h_{t-1} Wh (+ b): (T * N, k H) rows in time-major order. Three products, no loop over t."""
    N, T, _ = gate.x.shape
    dx = _from_time_major(d_input_side @ gate.Wx.T, N, T) if gate.wants_grad(0) else None
    dWx = _time_major(gate.x).T @ d_input_side
    dWh = _time_major(_previous(gate.h0, gate.hs)).T @ d_hidden_side
    return dx, dWx, dWh


def _previous(h0, hs):
    """The state entering each step: (N, T, H), h0 first, then every h but the last."""
    return np.concatenate([np.broadcast_to(h0, hs[:, 0].shape)[:, None], hs[:, :-1]], axis=1)


class RNNStep(Gate):
    """h = tanh(x Wx + h_prev Wh + b): x (N, D), h_prev (N, H), Wx (D, H), Wh (H, H), b (H,)."""

    rule = "dt = dout (1 - h^2); dx = dt Wx.T, dh_prev = dt Wh.T, dWx = x.T dt, dWh = h_prev.T dt, db = sum dt"

    def forward(self, x, h_prev, Wx, Wh, b):
        x, h_prev, Wx, Wh, b = as_floats(self, "x h_prev Wx Wh b", x, h_prev, Wx, Wh, b)
        if x.ndim != 2:
            raise GateError(self, f"x has shape {x.shape}; expected (N, D), one time step")
        _check(self, x[:, None], h_prev, Wx, Wh, 1, (b,))
        # h_prev of shape (H,) or (1, H) is one state for the whole batch, as for the layers
        self.x, self.h_prev_shape, self.Wx, self.Wh = x, h_prev.shape, Wx, Wh
        self.h_prev = np.broadcast_to(h_prev, (x.shape[0], Wh.shape[0]))
        self.h = np.tanh(x @ Wx + self.h_prev @ Wh + b)
        return self.h

    def backward(self, dout):
        dt = cast_like(dout, self.h) * (1 - self.h * self.h)
        return (dt @ self.Wx.T, unbroadcast(dt @ self.Wh.T, self.h_prev_shape), self.x.T @ dt,
                self.h_prev.T @ dt, dt.sum(axis=0))


class RNN(Gate):
    """h_t = tanh(x_t Wx + h_{t-1} Wh + b) over t: x (N, T, D), h0 (N, H) -> h (N, T, H)."""

    rule = "backpropagation through time: dh_t = dout_t + dt_{t+1} Wh.T, dt_t = dh_t (1 - h_t^2)"

    def forward(self, x, h0, Wx, Wh, b):
        x, h0, Wx, Wh, b = as_floats(self, "x h0 Wx Wh b", x, h0, Wx, Wh, b)
        x = _check(self, x, h0, Wx, Wh, 1, (b,))
        N, T, _ = x.shape
        xw = _time_major_products(x, Wx, b)
        self.hs = np.empty((N, T, xw.shape[2]), xw.dtype)
        h = np.broadcast_to(h0, (N, np.shape(Wh)[0]))
        for t in range(T):
            h = self.hs[:, t] = np.tanh(xw[t] + h @ Wh)
        self.x, self.h0, self.Wx, self.Wh = x, h0, Wx, Wh
        self.final_h = self.hs[:, -1].copy()
        return self.hs

    def backward(self, dout):
        dout = cast_like(dout, self.hs)
        N, T, H = self.hs.shape
        dts = np.empty((T, N, H), self.hs.dtype)      # gradient at each step's tanh input
        dh_next = np.zeros((N, H), self.hs.dtype)
        for t in reversed(range(T)):
            h = self.hs[:, t]
            dt = dts[t] = (dout[:, t] + dh_next) * (1 - h * h)
            dh_next = dt @ self.Wh.T
        dts2 = dts.reshape(T * N, H)
        dx, dWx, dWh = _input_and_weight_gradients(self, dts2, dts2)
        return dx, unbroadcast(dh_next, np.shape(self.h0)), dWx, dWh, dts2.sum(axis=0)


class LSTM(Gate):
    """Long short-term memory over t, blocks in PyTorch's order i, f, g, o.

    a = x_t Wx + h_{t-1} Wh + b; i, f, o = sigmoid(a_i, a_f, a_o); g = tanh(a_g);
    c_t = f c_{t-1} + i g; h_t = o tanh(c_t). x (N, T, D), h0, c0 (N, H) -> h (N, T, H).
    """

    rule = "through time: dc_t = dc_{t+1} f_{t+1} + dh_t o_t (1 - tanh(c_t)^2); gates by their local rules"

    def forward(self, x, h0, c0, Wx, Wh, b):
        x, h0, c0, Wx, Wh, b = as_floats(self, "x h0 c0 Wx Wh b", x, h0, c0, Wx, Wh, b)
        x = _check(self, x, h0, Wx, Wh, 4, (b,))
        N, T, _ = x.shape
        H = np.shape(Wh)[0]
        if np.shape(c0) not in ((N, H), (1, H), (H,)):
            raise GateError(self, f"c0 has shape {np.shape(c0)} but x has shape {x.shape} and H = {H}; "
                                  f"expected c0 ({N}, {H}) or ({H},)")
        # Caches are time-major (T, N, ...), so each step reads and writes contiguous blocks;
        # the input products of every step are one product, turned into i, f, g, o in place.
        self.acts = _time_major_products(x, Wx, b)
        self.cs = np.empty((T, N, H), self.acts.dtype)
        self.tanh_cs = np.empty_like(self.cs)
        self.hs = np.empty((N, T, H), self.acts.dtype)
        h, c = np.broadcast_to(h0, (N, H)), np.broadcast_to(c0, (N, H))
        for t in range(T):
            a = self.acts[t]
            a += h @ Wh
            sigmoid_(a[:, :2 * H])
            np.tanh(a[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
            sigmoid_(a[:, 3 * H:])
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            c = np.multiply(f, c, out=self.cs[t])
            c += i * g
            tanh_c = np.tanh(c, out=self.tanh_cs[t])
            h = np.multiply(o, tanh_c, out=self.hs[:, t])
        self.x, self.h0, self.c0, self.Wx, self.Wh = x, h0, c0, Wx, Wh
        self.final_h, self.final_c = self.hs[:, -1].copy(), self.cs[-1].copy()
        return self.hs

    def backward(self, dout):
        dout = cast_like(dout, self.hs)
        N, T, H = self.hs.shape
        acts = self.acts
        # local derivatives of every step at once: s (1 - s) for i, f, o; 1 - g^2 for g
        local = acts * (1 - acts)
        g_all = acts[:, :, 2 * H:3 * H]
        np.subtract(1, g_all * g_all, out=local[:, :, 2 * H:3 * H])
        o_dtanh = acts[:, :, 3 * H:] * (1 - self.tanh_cs * self.tanh_cs)   # dh_t -> dc_t
        # local[t] becomes the gradient at step t's pre-activations: no third (T, N, 4H) array
        das, upstream = local, np.empty((N, 4 * H), acts.dtype)
        dh_next = np.zeros((N, H), self.hs.dtype)
        dc = np.zeros((N, H), self.hs.dtype)
        c0 = np.broadcast_to(self.c0, (N, H))
        for t in reversed(range(T)):
            a = acts[t]
            dh = dout[:, t] + dh_next
            dc += dh * o_dtanh[t]
            np.multiply(dc, a[:, 2 * H:3 * H], out=upstream[:, :H])                    # via i
            np.multiply(dc, self.cs[t - 1] if t else c0, out=upstream[:, H:2 * H])     # via f
            np.multiply(dc, a[:, :H], out=upstream[:, 2 * H:3 * H])                    # via g
            np.multiply(dh, self.tanh_cs[t], out=upstream[:, 3 * H:])                  # via o
            da = np.multiply(upstream, local[t], out=das[t])
            dh_next = da @ self.Wh.T
            dc *= a[:, H:2 * H]                                                         # dc_{t-1} = dc_t f_t
        das2 = das.reshape(T * N, 4 * H)
        dx, dWx, dWh = _input_and_weight_gradients(self, das2, das2)
        return (dx, unbroadcast(dh_next, np.shape(self.h0)), unbroadcast(dc, np.shape(self.c0)),
                dWx, dWh, das2.sum(axis=0))


class GRU(Gate):
    """Gated recurrent unit over t, PyTorch's equations and block order r, z, n.

    r = sigmoid(x Wx_r + bx_r + h Wh_r + bh_r); z likewise; n = tanh(x Wx_n + bx_n + r (h Wh_n + bh_n));
    h_t = (1 - z) n + z h_{t-1}. x (N, T, D), h0 (N, H) -> h (N, T, H); Wx (D, 3H), Wh (H, 3H).
    """

    rule = "through time: dh_{t-1} = dh_t z + (da_r, da_z, da_n r) Wh.T"

    def forward(self, x, h0, Wx, Wh, bx, bh):
        x, h0, Wx, Wh, bx, bh = as_floats(self, "x h0 Wx Wh bx bh", x, h0, Wx, Wh, bx, bh)
        x = _check(self, x, h0, Wx, Wh, 3, (bx, bh))
        N, T, _ = x.shape
        H = np.shape(Wh)[0]
        # time-major, as in LSTM: the input products of every step become r, z, n in place
        self.acts = _time_major_products(x, Wx, bx)
        self.hw_n = np.empty((T, N, H), self.acts.dtype)     # h_{t-1} Wh_n + bh_n, which r multiplies
        self.hs = np.empty((N, T, H), self.acts.dtype)
        h = np.broadcast_to(h0, (N, H))
        for t in range(T):
            a, hw = self.acts[t], h @ Wh + bh
            a[:, :2 * H] += hw[:, :2 * H]
            sigmoid_(a[:, :2 * H])
            r, z = a[:, :H], a[:, H:2 * H]
            self.hw_n[t] = hw[:, 2 * H:]
            n = a[:, 2 * H:] = np.tanh(a[:, 2 * H:] + r * hw[:, 2 * H:])
            h = self.hs[:, t] = n + z * (h - n)
        self.x, self.h0, self.Wx, self.Wh = x, h0, Wx, Wh
        self.final_h = self.hs[:, -1].copy()
        return self.hs

    def backward(self, dout):
        dout = cast_like(dout, self.hs)
        N, T, H = self.hs.shape
        dxa = np.empty_like(self.acts)     # gradient at x Wx + bx, per block
        dha = np.empty_like(self.acts)     # gradient at h Wh + bh, per block
        dh_next = np.zeros((N, H), self.hs.dtype)
        h0 = np.broadcast_to(self.h0, (N, H))
        for t in reversed(range(T)):
            a = self.acts[t]
            r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
            h_prev = self.hs[:, t - 1] if t else h0
            dh = dout[:, t] + dh_next
            da_n = dh * (1 - z) * (1 - n * n)
            dxa[t, :, :H] = da_n * self.hw_n[t] * r * (1 - r)
            dxa[t, :, H:2 * H] = dh * (h_prev - n) * z * (1 - z)
            dxa[t, :, 2 * H:] = da_n
            dha[t, :, :2 * H] = dxa[t, :, :2 * H]
            dha[t, :, 2 * H:] = da_n * r
            dh_next = dh * z + dha[t] @ self.Wh.T
        dxa2, dha2 = dxa.reshape(T * N, 3 * H), dha.reshape(T * N, 3 * H)
        dx, dWx, dWh = _input_and_weight_gradients(self, dxa2, dha2)
        return (dx, unbroadcast(dh_next, np.shape(self.h0)), dWx, dWh, dxa2.sum(axis=0),
                dha2.sum(axis=0))
