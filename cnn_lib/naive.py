"""Loop-by-loop reference versions: one window at a time, exactly as the chapters describe them.

Slow on purpose. They are the "before" picture in the book and the reference the fast layers are
tested against. Arguments follow the fast functions: ``stride`` an int or (sh, sw); ``padding``
an int, (ph, pw), or (top, bottom, left, right). Integer (or boolean) arrays are computed in
float64, as np.mean computes them, so that a small example can be typed as whole numbers;
complex numbers, text and objects raise TypeError.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_floats


def _float(a) -> np.ndarray:
    """``a`` in floating point: integers in float64, where no sum wraps around."""
    return as_floats(a, "cnn_lib.naive", "arrays")


def _pair(v) -> tuple[int, int]:
    return (v, v) if np.isscalar(v) else (int(v[0]), int(v[1]))


def _pads(padding) -> tuple[int, int, int, int]:
    if np.isscalar(padding):
        return (padding,) * 4
    if len(padding) == 2:
        return (padding[0], padding[0], padding[1], padding[1])
    return tuple(padding)


def _pad(x: np.ndarray, pads) -> np.ndarray:
    top, bottom, left, right = pads
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    """x : (N, C, H, W), w : (F, C, kh, kw), b : (F,) -> y : (N, F, H_out, W_out)."""
    x, w, b = _float(x), _float(w), _float(b)
    (sh, sw), pads = _pair(stride), _pads(padding)
    xp = _pad(x, pads)
    N, C, Hp, Wp = xp.shape
    F, _, kh, kw = w.shape
    H_out, W_out = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    y = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = xp[n, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
                    y[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return y


def conv2d_backward_naive(dy, x, w, stride=1, padding=0):
    """dy : (N, F, H_out, W_out) -> dx : (N, C, H, W), dw : (F, C, kh, kw), db : (F,).

    Each output y[n, f, i, j] = sum(window * w[f]) + b[f] sends dy[n, f, i, j] * w[f] back to its
    window and dy[n, f, i, j] * window to w[f].
    """
    dy, x, w = _float(dy), _float(x), _float(w)
    (sh, sw), pads = _pair(stride), _pads(padding)
    xp = _pad(x, pads)
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    _, _, H_out, W_out = dy.shape
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), np.zeros(F, dtype=w.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    rows = slice(i * sh, i * sh + kh)
                    cols = slice(j * sw, j * sw + kw)
                    dxp[n, :, rows, cols] += dy[n, f, i, j] * w[f]
                    dw[f] += dy[n, f, i, j] * xp[n, :, rows, cols]
                    db[f] += dy[n, f, i, j]
    top, _, left, _ = pads
    return dxp[:, :, top : top + H, left : left + W], dw, db


def _pool_windows(x, kernel_size, stride):
    """Yield (n, c, i, j, window) for every pooling window, in row-major order."""
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    N, C, H, W = x.shape
    H_out, W_out = (H - kh) // sh + 1, (W - kw) // sw + 1
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    yield n, c, i, j, (slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))


def _pool_out_shape(x, kernel_size, stride):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(kernel_size if stride is None else stride)
    N, C, H, W = x.shape
    return (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1)


def maxpool2d_forward_naive(x, kernel_size, stride=None):
    """x : (N, C, H, W) -> y : (N, C, H_out, W_out), the maximum of each window."""
    x = _float(x)
    y = np.zeros(_pool_out_shape(x, kernel_size, stride), dtype=x.dtype)
    for n, c, i, j, (rows, cols) in _pool_windows(x, kernel_size, stride):
        y[n, c, i, j] = np.max(x[n, c, rows, cols])
    return y


def maxpool2d_backward_naive(dy, x, kernel_size, stride=None):
    """dy : (N, C, H_out, W_out) -> dx : (N, C, H, W).

    Each window's gradient goes to its first maximum in row-major order (np.argmax's choice).
    """
    dy, x = _float(dy), _float(x)
    dx = np.zeros_like(x)
    for n, c, i, j, (rows, cols) in _pool_windows(x, kernel_size, stride):
        window = x[n, c, rows, cols]
        u, v = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, rows.start + u, cols.start + v] += dy[n, c, i, j]
    return dx


def avgpool2d_forward_naive(x, kernel_size, stride=None):
    """x : (N, C, H, W) -> y : (N, C, H_out, W_out), the mean of each window."""
    x = _float(x)
    y = np.zeros(_pool_out_shape(x, kernel_size, stride), dtype=x.dtype)
    for n, c, i, j, (rows, cols) in _pool_windows(x, kernel_size, stride):
        y[n, c, i, j] = np.mean(x[n, c, rows, cols])
    return y


def avgpool2d_backward_naive(dy, x, kernel_size, stride=None):
    """dy : (N, C, H_out, W_out) -> dx : (N, C, H, W); each input of a window gets dy / (kh*kw)."""
    dy, x = _float(dy), _float(x)
    (kh, kw) = _pair(kernel_size)
    dx = np.zeros_like(x)
    for n, c, i, j, (rows, cols) in _pool_windows(x, kernel_size, stride):
        dx[n, c, rows, cols] += dy[n, c, i, j] / (kh * kw)
    return dx
