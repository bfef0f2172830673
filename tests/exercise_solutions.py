"""Solutions to the "Your turn" exercises, right and wrong, as readers write them.

RIGHT[name]: the solution as the chapter would show it, then at least one written another way
(loops, einsum, sliding windows, np.add.at, ...). Every one must be accepted.
WRONG[name]: realistic mistakes, each a `Wrong(fn, expect, mistake)`: ``expect`` is a piece of
text the verdict must contain (the hint that names the mistake, or what the checker says
plainly), ``mistake`` says in words what the code gets wrong. Every one must be rejected.

These are written apart from the checkers' own mistake variants on purpose: a hint must
recognise a mistake however the reader's code makes it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view


class Wrong(NamedTuple):
    fn: object
    expect: str
    mistake: str


RIGHT: dict[str, list] = {}
WRONG: dict[str, list[Wrong]] = {}

# ---------------------------------------------------------------------------------------------
# conv_output_size


def conv_output_size(size, kernel_size, stride=1, padding=0):
    return (size + 2 * padding - kernel_size) // stride + 1


def conv_output_size_by_counting(size, kernel_size, stride=1, padding=0):
    # Count the window starts 0, s, 2s, ... whose window still fits in the padded input.
    return len(range(0, size + 2 * padding - kernel_size + 1, stride))


RIGHT["conv_output_size"] = [conv_output_size, conv_output_size_by_counting]
WRONG["conv_output_size"] = [
    Wrong(
        lambda size, kernel_size, stride=1, padding=0: (size + 2 * padding - kernel_size) // stride,
        "off by one in the output size",
        "forgets the + 1 for the first window",
    ),
    Wrong(
        lambda size, kernel_size, stride=1, padding=0: (
            (size + 2 * padding - kernel_size) / stride + 1
        ),
        "round down with //",
        "true division: returns a float",
    ),
    Wrong(
        lambda size, kernel_size, stride=1, padding=0: (size + padding - kernel_size) // stride + 1,
        "the padding goes on both sides",
        "adds the padding once",
    ),
    Wrong(
        lambda size, kernel_size, stride=1, padding=0: (
            math.ceil((size + 2 * padding - kernel_size) / stride) + 1
        ),
        "rounded up",
        "rounds up (ceil mode)",
    ),
    Wrong(
        lambda size, kernel_size, stride=1, padding=0: (
            int(round((size + 2 * padding - kernel_size) / stride)) + 1
        ),
        "round() goes to the nearest integer",
        "rounds to the nearest integer",
    ),
    Wrong(
        lambda size, kernel_size, stride=1, padding=0: (
            (size + 2 * padding - kernel_size + 1) // stride
        ),
        "the + 1 belongs after the division",
        "adds the 1 before dividing",
    ),
]

# ---------------------------------------------------------------------------------------------
# same_padding


def _pair(kernel_size):
    if isinstance(kernel_size, int):
        return kernel_size, kernel_size
    return kernel_size


def same_padding(kernel_size):
    kh, kw = _pair(kernel_size)
    top, left = (kh - 1) // 2, (kw - 1) // 2
    return (top, kh - 1 - top, left, kw - 1 - left)


def same_padding_with_divmod(kernel_size):
    sides = []
    for k in np.broadcast_to(kernel_size, (2,)):
        half, extra = divmod(int(k) - 1, 2)
        sides += [half, half + extra]
    return tuple(sides)


def _same_padding_k_half(kernel_size):
    kh, kw = _pair(kernel_size)
    return (kh // 2, kh // 2, kw // 2, kw // 2)


def _same_padding_extra_on_top(kernel_size):
    kh, kw = _pair(kernel_size)
    return (kh // 2, (kh - 1) // 2, kw // 2, (kw - 1) // 2)


def _same_padding_wrong_order(kernel_size):
    kh, kw = _pair(kernel_size)
    top, left = (kh - 1) // 2, (kw - 1) // 2
    return (top, left, kh - 1 - top, kw - 1 - left)


def _same_padding_int_only(kernel_size):
    total = kernel_size - 1
    return (total // 2, total - total // 2, total // 2, total - total // 2)


def _same_padding_swapped(kernel_size):
    kw, kh = _pair(kernel_size)
    top, left = (kh - 1) // 2, (kw - 1) // 2
    return (top, kh - 1 - top, left, kw - 1 - left)


RIGHT["same_padding"] = [same_padding, same_padding_with_divmod]
WRONG["same_padding"] = [
    Wrong(_same_padding_k_half, "pads one row too many", "k // 2 on every side"),
    Wrong(_same_padding_extra_on_top, "not at the top and left", "the extra row on top (left)"),
    Wrong(_same_padding_wrong_order, "the order is (top, bottom, left, right)", "wrong order"),
    Wrong(_same_padding_int_only, "it raised TypeError", "accepts an int only"),
    Wrong(_same_padding_swapped, "H and W swapped", "reads the pair as (k_w, k_h)"),
]

# ---------------------------------------------------------------------------------------------
# conv2d_forward


def _pad(x, padding):
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def conv2d_forward(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    xp = _pad(x, padding)
    y = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = xp[n, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
                    y[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return y


def conv2d_forward_einsum(x, w, b, stride=1, padding=0):
    windows = sliding_window_view(_pad(x, padding), w.shape[2:], axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]  # (N, C, H_out, W_out, kh, kw)
    return np.einsum("ncijab,fcab->nfij", windows, w) + b.reshape(1, -1, 1, 1)


def conv2d_forward_im2col(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    xp = _pad(x, padding)
    H_out = (xp.shape[2] - kh) // stride + 1
    W_out = (xp.shape[3] - kw) // stride + 1
    cols = np.empty((N, H_out, W_out, C * kh * kw))
    for i in range(H_out):
        for j in range(W_out):
            patch = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            cols[:, i, j] = patch.reshape(N, -1)
    y = cols @ w.reshape(F, -1).T + b  # (N, H_out, W_out, F)
    return y.transpose(0, 3, 1, 2)


def _conv_forward_loops(x, w, b, stride=1, padding=0, *, flip=False, plus_one=1, step=None):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    H_out = (H + 2 * padding - kh) // stride + plus_one
    W_out = (W + 2 * padding - kw) // stride + plus_one
    step = stride if step is None else step
    kernel = w[:, :, ::-1, ::-1] if flip else w
    xp = _pad(x, padding)
    y = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = xp[n, :, i * step : i * step + kh, j * step : j * step + kw]
                    y[n, f, i, j] = np.sum(window * kernel[f]) + b[f]
    return y


def _conv_forward_bias_last_axis(x, w, b, stride=1, padding=0):
    windows = sliding_window_view(_pad(x, padding), w.shape[2:], axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]
    return np.einsum("ncijab,fcab->nfij", windows, w) + b


def _conv_forward_hw_swapped(x, w, b, stride=1, padding=0):
    windows = sliding_window_view(_pad(x, padding), w.shape[2:], axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]
    return np.einsum("ncijab,fcab->nfji", windows, w) + b.reshape(1, -1, 1, 1)


def _conv_forward_no_padding(x, w, b, stride=1, padding=0):
    return conv2d_forward_einsum(x, w, b, stride, 0)


RIGHT["conv2d_forward"] = [conv2d_forward, conv2d_forward_einsum, conv2d_forward_im2col]
WRONG["conv2d_forward"] = [
    Wrong(
        lambda *a: _conv_forward_loops(*a, flip=True),
        "the kernel is flipped",
        "true convolution: flips the kernel",
    ),
    Wrong(
        lambda *a: _conv_forward_loops(*a, plus_one=0),
        "off by one in the output size",
        "output size without the + 1",
    ),
    Wrong(
        lambda x, w, b, stride=1, padding=0: _conv_forward_loops(x, w, 0 * b, stride, padding),
        "the bias b is not added",
        "forgets the bias",
    ),
    Wrong(
        _conv_forward_bias_last_axis,
        "the bias goes along the channel axis",
        "adds b along the last axis",
    ),
    Wrong(_conv_forward_hw_swapped, "H and W swapped", "returns (N, F, W_out, H_out)"),
    Wrong(_conv_forward_no_padding, "the padding is ignored", "never pads"),
    Wrong(
        lambda *a: _conv_forward_loops(*a, step=1),
        "window (i, j) starts at (i * s, j * s)",
        "windows do not move by the stride",
    ),
]

# ---------------------------------------------------------------------------------------------
# conv2d_backward


def conv2d_backward(dy, x, w, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    _, _, H_out, W_out = dy.shape
    xp = _pad(x, padding)
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), np.zeros(F)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    rows = slice(i * stride, i * stride + kh)
                    cols = slice(j * stride, j * stride + kw)
                    dxp[n, :, rows, cols] += dy[n, f, i, j] * w[f]
                    dw[f] += dy[n, f, i, j] * xp[n, :, rows, cols]
                    db[f] += dy[n, f, i, j]
    return dxp[:, :, padding : padding + H, padding : padding + W], dw, db


def conv2d_backward_vectorised(dy, x, w, stride=1, padding=0):
    # dw from the windows with one einsum; dx by one add per kernel offset (col2im).
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    H_out, W_out = dy.shape[2:]
    xp = _pad(x, padding)
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    dw = np.einsum("nfij,ncijab->fcab", dy, windows)
    db = dy.sum(axis=(0, 2, 3))
    dcols = np.einsum("nfij,fcab->ncijab", dy, w)
    dxp = np.zeros_like(xp)
    for a in range(kh):
        for c in range(kw):
            rows = slice(a, a + stride * (H_out - 1) + 1, stride)
            cols = slice(c, c + stride * (W_out - 1) + 1, stride)
            dxp[:, :, rows, cols] += dcols[..., a, c]
    return dxp[:, :, padding : padding + H, padding : padding + W], dw, db


def conv2d_backward_add_at(dy, x, w, stride=1, padding=0):
    # col2im with np.add.at, which adds every repeated index (fancy-index += would not).
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    H_out, W_out = dy.shape[2:]
    xp = _pad(x, padding)
    i = (np.arange(H_out) * stride)[:, None] + np.arange(kh)  # (H_out, kh) rows of each window
    j = (np.arange(W_out) * stride)[:, None] + np.arange(kw)
    rows = i[:, None, :, None]  # (H_out, 1, kh, 1)
    cols = j[None, :, None, :]  # (1, W_out, 1, kw)
    patches = xp[:, :, rows, cols]  # (N, C, H_out, W_out, kh, kw)
    dw = np.tensordot(dy, patches, axes=([0, 2, 3], [0, 2, 3]))
    dpatches = np.tensordot(dy, w, axes=([1], [0]))  # (N, H_out, W_out, C, kh, kw)
    dxp = np.zeros_like(xp)
    np.add.at(dxp, (slice(None), slice(None), rows, cols), dpatches.transpose(0, 3, 1, 2, 4, 5))
    db = dy.sum(axis=(0, 2, 3))
    return dxp[:, :, padding : padding + H, padding : padding + W], dw, db


def _conv_backward_fancy_index(dy, x, w, stride=1, padding=0):
    # The classic col2im bug: fancy-index += counts a repeated index once.
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    H_out, W_out = dy.shape[2:]
    xp = _pad(x, padding)
    i = (np.arange(H_out) * stride)[:, None] + np.arange(kh)
    j = (np.arange(W_out) * stride)[:, None] + np.arange(kw)
    rows, cols = i[:, None, :, None], j[None, :, None, :]
    patches = xp[:, :, rows, cols]
    dw = np.tensordot(dy, patches, axes=([0, 2, 3], [0, 2, 3]))
    dpatches = np.tensordot(dy, w, axes=([1], [0])).transpose(0, 3, 1, 2, 4, 5)
    dxp = np.zeros_like(xp)
    dxp[:, :, rows, cols] += dpatches
    return dxp[:, :, padding : padding + H, padding : padding + W], dw, dy.sum(axis=(0, 2, 3))


def _conv_backward_loops(dy, x, w, stride=1, padding=0, *, assign=False, crop=True, flip=False):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    _, _, H_out, W_out = dy.shape
    xp = _pad(x, padding)
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), np.zeros(F)
    kernel = w[:, :, ::-1, ::-1] if flip else w
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                rows = slice(i * stride, i * stride + kh)
                cols = slice(j * stride, j * stride + kw)
                grad = np.einsum("f,fcab->cab", dy[n, :, i, j], kernel)
                if assign:
                    dxp[n, :, rows, cols] = grad
                else:
                    dxp[n, :, rows, cols] += grad
                dw += np.einsum("f,cab->fcab", dy[n, :, i, j], xp[n, :, rows, cols])
                db += dy[n, :, i, j]
    if crop:
        return dxp[:, :, padding : padding + H, padding : padding + W], dw, db
    return dxp, dw, db


def _conv_backward_assign_in_nfij_loops(dy, x, w, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    xp = _pad(x, padding)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(dy.shape[2]):
                for j in range(dy.shape[3]):
                    r, c = i * stride, j * stride
                    dxp[n, :, r : r + kh, c : c + kw] = dy[n, f, i, j] * w[f]
                    dw[f] += dy[n, f, i, j] * xp[n, :, r : r + kh, c : c + kw]
    return dxp[:, :, padding : padding + H, padding : padding + W], dw, dy.sum(axis=(0, 2, 3))


def _conv_backward_db_mean(dy, x, w, stride=1, padding=0):
    dx, dw, _ = conv2d_backward_vectorised(dy, x, w, stride, padding)
    return dx, dw, dy.mean(axis=(0, 2, 3))


def _conv_backward_dw_over_n(dy, x, w, stride=1, padding=0):
    dx, dw, db = conv2d_backward_vectorised(dy, x, w, stride, padding)
    return dx, dw / x.shape[0], db


RIGHT["conv2d_backward"] = [conv2d_backward, conv2d_backward_vectorised, conv2d_backward_add_at]
WRONG["conv2d_backward"] = [
    Wrong(
        lambda *a: _conv_backward_loops(*a, assign=True),
        "the gradients of overlapping windows must add up",
        "assigns each window's gradient instead of adding it",
    ),
    Wrong(
        _conv_backward_assign_in_nfij_loops,
        "the gradients of overlapping windows must add up",
        "assigns in loops over (n, f, i, j): keeps the last window's and the last kernel's",
    ),
    Wrong(
        _conv_backward_fancy_index,
        "the gradients of overlapping windows must add up",
        "col2im with fancy-index +=, which counts a repeated index once",
    ),
    Wrong(
        lambda *a: _conv_backward_loops(*a, crop=False),
        "dx still includes the padding",
        "returns the gradient of the padded input",
    ),
    Wrong(
        lambda *a: _conv_backward_loops(*a, flip=True),
        "the kernel is flipped in dx",
        "flips the kernel for dx",
    ),
    Wrong(_conv_backward_db_mean, "not the mean", "db as a mean"),
    Wrong(_conv_backward_dw_over_n, "dw is divided by the batch size", "dw divided by N"),
]

# ---------------------------------------------------------------------------------------------
# maxpool2d_forward


def maxpool2d_forward(x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    N, C, H, W = x.shape
    H_out, W_out = (H - k) // s + 1, (W - k) // s + 1
    y = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            y[:, :, i, j] = x[:, :, i * s : i * s + k, j * s : j * s + k].max(axis=(2, 3))
    return y


def maxpool2d_forward_windows(x, kernel_size, stride=None):
    s = kernel_size if stride is None else stride
    windows = sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))
    return windows[:, :, ::s, ::s].max(axis=(4, 5))


def maxpool2d_forward_offsets(x, kernel_size, stride=None):
    # One np.maximum per offset inside the window, over every window at once.
    k = kernel_size
    s = k if stride is None else stride
    H_out, W_out = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
    y = np.full((*x.shape[:2], H_out, W_out), -np.inf)
    for a in range(k):
        for c in range(k):
            y = np.maximum(
                y, x[:, :, a : a + s * (H_out - 1) + 1 : s, c : c + s * (W_out - 1) + 1 : s]
            )
    return y


def _maxpool_stride_one(x, kernel_size, stride=1):
    return maxpool2d_forward(x, kernel_size, stride)


def _maxpool_ceil(x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    N, C, H, W = x.shape
    H_out, W_out = math.ceil((H - k) / s) + 1, math.ceil((W - k) / s) + 1
    y = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            y[:, :, i, j] = x[:, :, i * s : i * s + k, j * s : j * s + k].max(axis=(2, 3))
    return y


def _maxpool_from_zero(x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    N, C, H, W = x.shape
    H_out, W_out = (H - k) // s + 1, (W - k) // s + 1
    y = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    best = 0.0
                    for a in range(k):
                        for b in range(k):
                            best = max(best, x[n, c, i * s + a, j * s + b])
                    y[n, c, i, j] = best
    return y


def _maxpool_reshape(x, kernel_size, stride=None):
    N, C, H, W = x.shape
    k = kernel_size
    x = x[:, :, : H // k * k, : W // k * k]
    return x.reshape(N, C, H // k, k, W // k, k).max(axis=(3, 5))


def _maxpool_hw_unpacked(x, kernel_size, stride=None):
    s = kernel_size if stride is None else stride
    N, C, W, H = x.shape
    H_out, W_out = (H - kernel_size) // s + 1, (W - kernel_size) // s + 1
    y = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    y[n, c, i, j] = np.max(
                        x[n, c, i * s : i * s + kernel_size, j * s : j * s + kernel_size]
                    )
    return y


RIGHT["maxpool2d_forward"] = [
    maxpool2d_forward,
    maxpool2d_forward_windows,
    maxpool2d_forward_offsets,
]
WRONG["maxpool2d_forward"] = [
    Wrong(_maxpool_stride_one, "stride=None means stride = kernel_size", "default stride 1"),
    Wrong(_maxpool_ceil, "ceil mode", "keeps the partial windows at the edge"),
    Wrong(_maxpool_from_zero, "the running maximum starts at 0", "max initialised to 0"),
    Wrong(_maxpool_reshape, "reshaping into k x k blocks", "reshape trick, ignores the stride"),
    Wrong(_maxpool_hw_unpacked, "H and W swapped", "N, C, W, H = x.shape"),
]

# ---------------------------------------------------------------------------------------------
# maxpool2d_backward


def maxpool2d_backward(dy, x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    N, C, H_out, W_out = dy.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * s : i * s + k, j * s : j * s + k]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * s + a, j * s + b] += dy[n, c, i, j]
    return dx


def maxpool2d_backward_add_at(dy, x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    windows = sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    N, C, H_out, W_out = dy.shape
    first = windows.reshape(N, C, H_out, W_out, k * k).argmax(axis=-1)  # first max, row-major
    a, b = np.divmod(first, k)
    rows = np.arange(H_out)[:, None] * s + a
    cols = np.arange(W_out)[None, :] * s + b
    n = np.arange(N)[:, None, None, None]
    c = np.arange(C)[None, :, None, None]
    dx = np.zeros_like(x)
    np.add.at(dx, (n, c, rows, cols), dy)
    return dx


def _maxpool_backward_loops(dy, x, kernel_size, stride=None, *, rule="first", assign=False):
    k = kernel_size
    s = k if stride is None else stride
    N, C, H_out, W_out = dy.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * s : i * s + k, j * s : j * s + k]
                    if rule == "all":
                        dx[n, c, i * s : i * s + k, j * s : j * s + k] += dy[n, c, i, j] * (
                            window == window.max()
                        )
                        continue
                    best, where = -np.inf, None
                    for a in range(k):
                        for b in range(k):
                            if window[a, b] >= best if rule == "last" else window[a, b] > best:
                                best, where = window[a, b], (i * s + a, j * s + b)
                    if assign:
                        dx[n, c, where[0], where[1]] = dy[n, c, i, j]
                    else:
                        dx[n, c, where[0], where[1]] += dy[n, c, i, j]
    return dx


def _maxpool_backward_shared(dy, x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    dx = np.zeros_like(x)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            window = x[:, :, i * s : i * s + k, j * s : j * s + k]
            ties = window == window.max(axis=(2, 3), keepdims=True)
            share = ties / ties.sum(axis=(2, 3), keepdims=True)
            dx[:, :, i * s : i * s + k, j * s : j * s + k] += dy[:, :, i, j, None, None] * share
    return dx


RIGHT["maxpool2d_backward"] = [maxpool2d_backward, maxpool2d_backward_add_at]
WRONG["maxpool2d_backward"] = [
    Wrong(
        lambda *a: _maxpool_backward_loops(*a, rule="all"),
        "every tied maximum got the gradient",
        "mask == max: every tie gets dy",
    ),
    Wrong(_maxpool_backward_shared, "shared among tied maxima", "splits dy among ties"),
    Wrong(
        lambda *a: _maxpool_backward_loops(*a, rule="last"),
        "the last of the tied maxima",
        ">= in the scan: the last maximum wins",
    ),
    Wrong(
        lambda *a: _maxpool_backward_loops(*a, assign=True),
        "the gradients of overlapping windows must add up",
        "assigns instead of adding",
    ),
    Wrong(
        lambda dy, x, kernel_size, stride=1: maxpool2d_backward(dy, x, kernel_size, stride),
        "stride=None means stride = kernel_size",
        "default stride 1",
    ),
]

# ---------------------------------------------------------------------------------------------
# avgpool2d_backward


def avgpool2d_backward(dy, x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    N, C, H_out, W_out = dy.shape
    dx = np.zeros_like(x)
    for i in range(H_out):
        for j in range(W_out):
            dx[:, :, i * s : i * s + k, j * s : j * s + k] += dy[:, :, i : i + 1, j : j + 1] / (
                k * k
            )
    return dx


def avgpool2d_backward_offsets(dy, x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    H_out, W_out = dy.shape[2:]
    share = dy / k**2
    dx = np.zeros(x.shape)
    for a in range(k):
        for b in range(k):
            dx[:, :, a : a + s * (H_out - 1) + 1 : s, b : b + s * (W_out - 1) + 1 : s] += share
    return dx


def _avgpool_loops(dy, x, kernel_size, stride=None, *, divisor=None, assign=False):
    k = kernel_size
    s = k if stride is None else stride
    divisor = k * k if divisor is None else divisor
    dx = np.zeros_like(x)
    for n in range(dy.shape[0]):
        for c in range(dy.shape[1]):
            for i in range(dy.shape[2]):
                for j in range(dy.shape[3]):
                    if assign:
                        dx[n, c, i * s : i * s + k, j * s : j * s + k] = dy[n, c, i, j] / divisor
                    else:
                        dx[n, c, i * s : i * s + k, j * s : j * s + k] += dy[n, c, i, j] / divisor
    return dx


def _avgpool_kron(dy, x, kernel_size, stride=None):
    k = kernel_size
    spread = np.kron(dy, np.ones((k, k))) / k**2
    dx = np.zeros_like(x)
    h, w = min(spread.shape[2], x.shape[2]), min(spread.shape[3], x.shape[3])
    dx[:, :, :h, :w] = spread[:, :, :h, :w]
    return dx


RIGHT["avgpool2d_backward"] = [avgpool2d_backward, avgpool2d_backward_offsets]
WRONG["avgpool2d_backward"] = [
    Wrong(
        lambda *a: _avgpool_loops(*a, assign=True),
        "the gradients of overlapping windows must add up",
        "assigns instead of adding",
    ),
    Wrong(
        lambda *a: _avgpool_loops(*a, divisor=1),
        "the division by the window's size is missing",
        "forgets to divide by k * k",
    ),
    Wrong(
        lambda dy, x, k, stride=None: _avgpool_loops(dy, x, k, stride, divisor=k),
        "divided by k, not by the k * k inputs",
        "divides by k",
    ),
    Wrong(
        _avgpool_kron, "np.repeat spreads dy right only", "np.kron spreading, ignores the stride"
    ),
    Wrong(
        lambda dy, x, kernel_size, stride=1: avgpool2d_backward(dy, x, kernel_size, stride),
        "stride=None means stride = kernel_size",
        "default stride 1",
    ),
]

# ---------------------------------------------------------------------------------------------
# nchw_to_nhwc_rows


def nchw_to_nhwc_rows(w, shape):
    C, H, W = shape
    perm = np.arange(C * H * W).reshape(C, H, W).transpose(1, 2, 0).reshape(-1)
    return w[perm]


def nchw_to_nhwc_rows_reshape(w, shape):
    C, H, W = shape
    return w.reshape(C, H, W, -1).transpose(1, 2, 0, 3).reshape(C * H * W, -1)


def nchw_to_nhwc_rows_loops(w, shape):
    C, H, W = shape
    w2 = np.empty_like(w)
    for c in range(C):
        for i in range(H):
            for j in range(W):
                w2[i * W * C + j * C + c] = w[c * H * W + i * W + j]
    return w2


def _nchw_inverse(w, shape):
    C, H, W = shape
    perm = np.arange(C * H * W).reshape(C, H, W).transpose(1, 2, 0).reshape(-1)
    w2 = np.empty_like(w)
    w2[perm] = w
    return w2


RIGHT["nchw_to_nhwc_rows"] = [nchw_to_nhwc_rows, nchw_to_nhwc_rows_reshape, nchw_to_nhwc_rows_loops]
WRONG["nchw_to_nhwc_rows"] = [
    Wrong(_nchw_inverse, "the inverse permutation", "scatters instead of gathering"),
    Wrong(
        lambda w, shape: w.reshape(*shape, -1).reshape(w.shape),
        "the rows are unchanged",
        "reshapes without a transpose",
    ),
    Wrong(
        lambda w, shape: w.reshape(*shape, -1).transpose(2, 1, 0, 3).reshape(w.shape),
        "H and W swapped",
        "(j, i, c) order",
    ),
    Wrong(
        lambda w, shape: w.reshape(*shape, -1).transpose(1, 0, 2, 3).reshape(w.shape),
        "the channel must vary fastest",
        "(i, c, j) order",
    ),
]

# ---------------------------------------------------------------------------------------------
# dropout_forward and dropout_backward


def dropout_forward(x, p, rng):
    mask = rng.random(x.shape) >= p
    return x * mask / (1 - p), mask


def dropout_forward_binomial(x, p, rng):
    mask = rng.binomial(1, 1 - p, size=x.shape).astype(bool)
    return np.where(mask, x / (1 - p), 0.0), mask


def _dropout_unscaled(x, p, rng):
    mask = rng.random(x.shape) >= p
    return x * mask, mask


def _dropout_times_keep(x, p, rng):
    mask = rng.random(x.shape) >= p
    return x * mask * (1 - p), mask


def _dropout_keep_with_p(x, p, rng):
    mask = rng.random(x.shape) < p
    return x * mask / (1 - p), mask


def _dropout_global_random(x, p, rng):
    mask = np.random.rand(*x.shape) >= p
    return x * mask / (1 - p), mask


def _dropout_float_mask(x, p, rng):
    mask = (rng.random(x.shape) >= p).astype(x.dtype)
    return x * mask / (1 - p), mask


def _dropout_in_place(x, p, rng):
    mask = rng.random(x.shape) >= p
    x *= mask / (1 - p)
    return x, mask


def dropout_forward_choice(x, p, rng):
    mask = rng.choice([True, False], size=x.shape, p=[1 - p, p])
    return np.where(mask, x / (1 - p), 0.0), mask


def _dropout_one_mask_for_the_batch(x, p, rng):
    keep = rng.random(x.shape[1:]) >= p  # one draw per feature, shared by every example
    mask = np.broadcast_to(keep, x.shape).copy()
    return x * mask / (1 - p), mask


def _dropout_fixed_count(x, p, rng):
    # Drops exactly round(p * D) units of each example: the right rate, not independent units.
    flat = np.ones((len(x), x[0].size), dtype=bool)
    for row in flat:
        row[rng.permutation(row.size)[: round(p * row.size)]] = False
    mask = flat.reshape(x.shape)
    return x * mask / (1 - p), mask


RIGHT["dropout_forward"] = [dropout_forward, dropout_forward_binomial, dropout_forward_choice]
WRONG["dropout_forward"] = [
    Wrong(_dropout_unscaled, "not scaled by 1 / (1 - p)", "no scaling while training"),
    Wrong(_dropout_times_keep, "scaled by (1 - p) instead of 1 / (1 - p)", "test-time scaling"),
    Wrong(_dropout_keep_with_p, "keeps units with probability p", "keeps with probability p"),
    Wrong(_dropout_global_random, "not from np.random", "draws from np.random, not rng"),
    Wrong(_dropout_float_mask, "the mask must be boolean", "a 0/1 float mask"),
    Wrong(_dropout_in_place, "writes into its argument x", "scales x in place"),
    Wrong(
        _dropout_one_mask_for_the_batch,
        "every example in the batch gets the same mask",
        "one mask drawn per feature and shared by the batch",
    ),
    Wrong(
        _dropout_fixed_count,
        "every example keeps exactly 350 of its 500 units",
        "drops a fixed number of units per example",
    ),
]


def dropout_backward(dy, mask, p):
    return dy * mask / (1 - p)


def dropout_backward_where(dy, mask, p):
    return np.where(mask, dy / (1 - p), 0.0)


def _dropout_backward_in_place(dy, mask, p):
    dy[~mask] = 0
    dy /= 1 - p
    return dy


RIGHT["dropout_backward"] = [dropout_backward, dropout_backward_where]
WRONG["dropout_backward"] = [
    Wrong(lambda dy, mask, p: dy * mask, "not scaled by 1 / (1 - p)", "forgets the scale"),
    Wrong(lambda dy, mask, p: dy / (1 - p), "the mask is not applied", "forgets the mask"),
    Wrong(
        lambda dy, mask, p: dy * mask * (1 - p),
        "scaled by (1 - p) instead of 1 / (1 - p)",
        "multiplies by the keep probability",
    ),
    Wrong(lambda dy, mask, p: dy * mask / p, "scaled by 1 / p", "divides by p"),
    Wrong(_dropout_backward_in_place, "writes into its argument dy", "zeroes dy in place"),
]

# ---------------------------------------------------------------------------------------------
# dense_backward


def dense_backward(dy, x, w):
    return dy @ w.T, x.T @ dy, dy.sum(axis=0)


def dense_backward_einsum(dy, x, w):
    dx = np.einsum("no,io->ni", dy, w)
    dw = np.einsum("ni,no->io", x, dy)
    db = np.einsum("no->o", dy)
    return dx, dw, db


def dense_backward_loops(dy, x, w):
    dx, dw, db = np.zeros_like(x), np.zeros_like(w), np.zeros(w.shape[1])
    for n in range(x.shape[0]):
        dx[n] = w @ dy[n]
        dw += np.outer(x[n], dy[n])
        db += dy[n]
    return dx, dw, db


RIGHT["dense_backward"] = [dense_backward, dense_backward_einsum, dense_backward_loops]
WRONG["dense_backward"] = [
    Wrong(lambda dy, x, w: (dy @ w.T, x.T @ dy, dy.mean(axis=0)), "not the mean", "db as a mean"),
    Wrong(
        lambda dy, x, w: (dy @ w.T, dy.T @ x, dy.sum(axis=0)), "dw is transposed", "dw (out, in)"
    ),
    Wrong(
        lambda dy, x, w: (dy @ w.T, x.T @ dy / len(x), dy.sum(axis=0)),
        "dw is divided by the batch size",
        "dw divided by N",
    ),
    Wrong(
        lambda dy, x, w: (dy @ w.T, x.T @ dy, dy.sum()),
        "db sums over the batch only",
        "db summed over everything",
    ),
    Wrong(
        lambda dy, x, w: (dy @ w, x.T @ dy, dy.sum(axis=0)),
        "it raised ValueError",
        "w not transposed",
    ),
]

# ---------------------------------------------------------------------------------------------
# relu_backward


def relu_backward(dy, x):
    return dy * (x > 0)


def relu_backward_where(dy, x):
    return np.where(x > 0, dy, 0.0)


def relu_backward_copy(dy, x):
    dx = dy.copy()
    dx[x <= 0] = 0
    return dx


def _relu_backward_in_place(dy, x):
    dy[x <= 0] = 0
    return dy


RIGHT["relu_backward"] = [relu_backward, relu_backward_where, relu_backward_copy]
WRONG["relu_backward"] = [
    Wrong(lambda dy, x: dy * (x >= 0), "at x = 0 the gradient must be 0", "x >= 0"),
    Wrong(lambda dy, x: np.maximum(dy, 0), "the mask comes from x", "relu applied to dy"),
    Wrong(lambda dy, x: (x > 0) * 1.0, "must multiply dy", "returns the mask alone"),
    Wrong(lambda dy, x: dy * np.maximum(x, 0), "dy is multiplied by x", "multiplies by relu(x)"),
    Wrong(_relu_backward_in_place, "writes into its argument dy", "zeroes dy in place"),
]

# ---------------------------------------------------------------------------------------------
# log_softmax


def log_softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def log_softmax_logsumexp(z):
    m = np.max(z, axis=1, keepdims=True)
    lse = m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    return z - lse


def log_softmax_logaddexp(z):
    return z - np.logaddexp.reduce(z, axis=1, keepdims=True)


def _log_softmax_naive(z):
    return np.log(np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True))


def _log_of_stable_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.log(e / e.sum(axis=1, keepdims=True))


def _log_softmax_global_max(z):
    shifted = z - np.max(z)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _log_softmax_no_keepdims(z):
    shifted = z - z.max(axis=1)
    return shifted - np.log(np.exp(shifted).sum(axis=1))


def _log_softmax_in_place(z):
    z -= z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


RIGHT["log_softmax"] = [log_softmax, log_softmax_logsumexp, log_softmax_logaddexp]
WRONG["log_softmax"] = [
    Wrong(_log_softmax_naive, "without subtracting the max overflows", "no max subtracted"),
    Wrong(_log_of_stable_softmax, "log(softmax(z)) underflows", "log of the probabilities"),
    Wrong(_log_softmax_global_max, "the max must be taken per row", "one max for the batch"),
    Wrong(_log_softmax_no_keepdims, "keepdims=True is missing", "max without keepdims"),
    Wrong(lambda z: log_softmax(z.T).T, "along the wrong axis", "softmax over the batch"),
    Wrong(_log_softmax_in_place, "writes into its argument z", "shifts z in place"),
]

# ---------------------------------------------------------------------------------------------
# cross_entropy_backward


def cross_entropy_backward(z, t):
    N = len(z)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(N), t] -= 1
    return p / N


def cross_entropy_backward_eye(z, t):
    N, K = z.shape
    onehot = np.eye(K)[t]
    return (np.exp(log_softmax_logaddexp(z)) - onehot) / N


def _ce_no_mean(z, t):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(z)), t] -= 1
    return p


def _ce_naive_softmax(z, t):
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    p[np.arange(len(z)), t] -= 1
    return p / len(z)


def _ce_global_max(z, t):
    p = np.exp(z - np.max(z))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(z)), t] -= 1
    return p / len(z)


def _ce_columns(z, t):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[:, t] -= 1
    return p / len(z)


def _ce_sign(z, t):
    return -cross_entropy_backward(z, t)


def _ce_in_place(z, t):
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    p[np.arange(len(z)), t] -= 1
    return p / len(z)


RIGHT["cross_entropy_backward"] = [cross_entropy_backward, cross_entropy_backward_eye]
WRONG["cross_entropy_backward"] = [
    Wrong(_ce_no_mean, "divide by the batch size N", "gradient of the summed loss"),
    Wrong(_ce_naive_softmax, "without subtracting the max overflows", "no max subtracted"),
    Wrong(_ce_columns, "1 is subtracted from whole columns", "p[:, t] -= 1"),
    Wrong(_ce_global_max, "the max must be taken per row", "one max for the whole batch"),
    Wrong(_ce_sign, "the sign is flipped", "onehot - softmax"),
    Wrong(_ce_in_place, "writes into its argument z", "shifts z in place"),
]

# ---------------------------------------------------------------------------------------------
# sgd_momentum_step and adam_step


def sgd_momentum_step(w, dw, v, lr, momentum):
    v = momentum * v + dw
    return w - lr * v, v


def sgd_momentum_step_copies(w, dw, v, lr, momentum):
    # PyTorch's in-place updates, on copies: buf.mul_(momentum).add_(grad); param.add_(buf, -lr)
    buf = v.copy()
    buf *= momentum
    buf += dw
    w_new = w.copy()
    w_new -= lr * buf
    return w_new, buf


def _sgd_cs231n(w, dw, v, lr, momentum):
    v = momentum * v - lr * dw
    return w + v, v


def _sgd_dampened(w, dw, v, lr, momentum):
    v = momentum * v + (1 - momentum) * dw
    return w - lr * v, v


def _sgd_old_velocity(w, dw, v, lr, momentum):
    w = w - lr * v
    return w, momentum * v + dw


def _sgd_in_place(w, dw, v, lr, momentum):
    v *= momentum
    v += dw
    w -= lr * v
    return w, v


RIGHT["sgd_momentum_step"] = [sgd_momentum_step, sgd_momentum_step_copies]
WRONG["sgd_momentum_step"] = [
    Wrong(_sgd_cs231n, "lr belongs outside v", "CS231n's form, lr inside v"),
    Wrong(_sgd_dampened, "no (1 - momentum)", "dampening = momentum"),
    Wrong(_sgd_old_velocity, "w moved by the old v", "steps with the old velocity"),
    Wrong(_sgd_in_place, "writes into its argument", "updates in place"),
]


def adam_step(w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**step)
    v_hat = v / (1 - beta2**step)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adam_step_pytorch_form(w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    # The order of torch.optim.Adam's implementation: the corrections folded into lr and denom.
    m = m * beta1 + dw * (1 - beta1)
    v = v * beta2 + dw * dw * (1 - beta2)
    step_size = lr / (1 - beta1**step)
    denom = np.sqrt(v) / math.sqrt(1 - beta2**step) + eps
    return w - step_size * m / denom, m, v


def _adam_zero_based(w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    return adam_step(w, dw, m, v, step - 1, lr, beta1, beta2, eps)


def _adam_uncorrected(w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * m / (np.sqrt(v) + eps), m, v


def _adam_eps_inside(w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat, v_hat = m / (1 - beta1**step), v / (1 - beta2**step)
    return w - lr * m_hat / np.sqrt(v_hat + eps), m, v


def _adam_returns_hats(w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m = m / (1 - beta1**step)
    v = v / (1 - beta2**step)
    return w - lr * m / (np.sqrt(v) + eps), m, v


def _adam_in_place(w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m *= beta1
    m += (1 - beta1) * dw
    v *= beta2
    v += (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + eps), m, v


def _adam_paper_form(w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    # Kingma and Ba's Algorithm 1, "more efficient" order: eps meets the uncorrected sqrt(v).
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    lr_t = lr * math.sqrt(1 - beta2**step) / (1 - beta1**step)
    return w - lr_t * m / (np.sqrt(v) + eps), m, v


def _adam_power_of_difference(w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1) ** step
    v_hat = v / (1 - beta2) ** step
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_fixed_eps(w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat, v_hat = m / (1 - beta1**step), v / (1 - beta2**step)
    return w - lr * m_hat / (np.sqrt(v_hat) + 1e-8), m, v


RIGHT["adam_step"] = [adam_step, adam_step_pytorch_form]
WRONG["adam_step"] = [
    Wrong(_adam_zero_based, "bias correction uses the wrong step", "step counted from 0"),
    Wrong(_adam_uncorrected, "there is no bias correction", "no bias correction"),
    Wrong(_adam_eps_inside, "eps goes outside the square root", "eps inside the square root"),
    Wrong(_adam_returns_hats, "not their bias-corrected m_hat and v_hat", "returns m_hat, v_hat"),
    Wrong(_adam_in_place, "writes into its argument m", "updates the moments in place"),
    Wrong(_adam_fixed_eps, "eps is 1e-8 here, not the argument eps", "1e-8 written in the formula"),
    Wrong(_adam_paper_form, "the Adam paper's faster form", "eps added to the uncorrected sqrt(v)"),
    Wrong(
        _adam_power_of_difference,
        "not by (1 - beta1)**step",
        "(1 - beta1)**step for 1 - beta1**step",
    ),
]

# ---------------------------------------------------------------------------------------------
# More ways to be right and wrong, from trying to break the checkers


def conv2d_forward_as_strided(x, w, b, stride=1, padding=0):
    xp = _pad(x, padding)
    N, C, H, W = xp.shape
    F, _, kh, kw = w.shape
    H_out, W_out = (H - kh) // stride + 1, (W - kw) // stride + 1
    sN, sC, sH, sW = xp.strides
    windows = as_strided(
        xp, (N, C, H_out, W_out, kh, kw), (sN, sC, sH * stride, sW * stride, sH, sW)
    )
    y = np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, H_out, W_out, F)
    return y.transpose(0, 3, 1, 2) + b[None, :, None, None]


def _conv_forward_square_output(x, w, b, stride=1, padding=0):
    # W_out taken equal to H_out, as if every input were square.
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    H_out = (H + 2 * padding - kh) // stride + 1
    xp = _pad(x, padding)
    y = np.zeros((N, F, H_out, H_out))
    for i in range(H_out):
        for j in range(H_out):
            window = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            y[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return y


def conv2d_backward_full_convolution(dy, x, w, stride=1, padding=0):
    # The textbook way: dx is the full convolution of the dilated dy with the rotated kernel,
    # dw the cross-correlation of the padded x with the dilated dy.
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    H_out, W_out = dy.shape[2:]
    xp = _pad(x, padding)
    dilated = np.zeros((N, F, (H_out - 1) * stride + 1, (W_out - 1) * stride + 1))
    dilated[:, :, ::stride, ::stride] = dy
    full = np.pad(dilated, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    windows = sliding_window_view(full, (kh, kw), axis=(2, 3))
    covered = np.einsum("nfijab,fcab->ncij", windows, w[:, :, ::-1, ::-1])
    dxp = np.zeros_like(xp)
    dxp[:, :, : covered.shape[2], : covered.shape[3]] = covered  # rows no window reaches: 0
    x_windows = sliding_window_view(xp, dilated.shape[2:], axis=(2, 3))[:, :, :kh, :kw]
    dw = np.einsum("ncabij,nfij->fcab", x_windows, dilated)
    return dxp[:, :, padding : padding + H, padding : padding + W], dw, dy.sum(axis=(0, 2, 3))


def maxpool2d_backward_put_along_axis(dy, x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    N, C, H_out, W_out = dy.shape
    dx = np.zeros_like(x)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * s : i * s + k, j * s : j * s + k].reshape(N, C, k * k)
            share = np.zeros_like(window)
            np.put_along_axis(share, window.argmax(axis=-1)[..., None], dy[:, :, i, j, None], -1)
            dx[:, :, i * s : i * s + k, j * s : j * s + k] += share.reshape(N, C, k, k)
    return dx


def _maxpool_backward_divmod_by_stride(dy, x, kernel_size, stride=None):
    # The row and column of the maximum inside its window, read with the stride as the
    # window's width: right only when stride == kernel_size.
    k = kernel_size
    s = k if stride is None else stride
    N, C, H_out, W_out = dy.shape
    dx = np.zeros_like(x)
    for i in range(H_out):
        for j in range(W_out):
            first = x[:, :, i * s : i * s + k, j * s : j * s + k].reshape(N, C, -1).argmax(-1)
            a, b = np.divmod(first, s)
            for n in range(N):
                for c in range(C):
                    row = min(i * s + a[n, c], x.shape[2] - 1)
                    col = min(j * s + b[n, c], x.shape[3] - 1)
                    dx[n, c, row, col] += dy[n, c, i, j]
    return dx


def _maxpool_backward_fancy_index(dy, x, kernel_size, stride=None):
    # dx[rows, cols] += dy with fancy indices adds a repeated position once.
    k = kernel_size
    s = k if stride is None else stride
    N, C, H_out, W_out = dy.shape
    windows = sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    a, b = np.divmod(windows.reshape(N, C, H_out, W_out, k * k).argmax(axis=-1), k)
    rows = np.arange(H_out)[:, None] * s + a
    cols = np.arange(W_out)[None, :] * s + b
    n = np.arange(N)[:, None, None, None]
    c = np.arange(C)[None, :, None, None]
    dx = np.zeros_like(x)
    dx[n, c, rows, cols] += dy
    return dx


def avgpool2d_backward_add_at(dy, x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    N, C, H_out, W_out = dy.shape
    rows = (np.arange(H_out) * s)[:, None, None, None] + np.arange(k)[None, None, :, None]
    cols = (np.arange(W_out) * s)[None, :, None, None] + np.arange(k)[None, None, None, :]
    share = np.broadcast_to(dy[..., None, None] / k**2, (N, C, H_out, W_out, k, k))
    dx = np.zeros(x.shape)
    np.add.at(dx, (slice(None), slice(None), rows, cols), share)
    return dx


def _avgpool_divided_by_stride(dy, x, kernel_size, stride=None):
    s = kernel_size if stride is None else stride
    return _avgpool_loops(dy, x, kernel_size, stride, divisor=s * s)


def _avgpool_averaged_over_windows(dy, x, kernel_size, stride=None):
    # Each input's total divided by the number of windows that cover it, as well as by k * k.
    k = kernel_size
    s = k if stride is None else stride
    total, count = np.zeros(x.shape), np.zeros(x.shape)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            total[:, :, i * s : i * s + k, j * s : j * s + k] += dy[:, :, i : i + 1, j : j + 1]
            count[:, :, i * s : i * s + k, j * s : j * s + k] += 1
    return total / np.maximum(count, 1) / k**2


def nchw_to_nhwc_rows_ravel(w, shape):
    C, H, W = shape
    i, j, c = np.meshgrid(np.arange(H), np.arange(W), np.arange(C), indexing="ij")
    return w[np.ravel_multi_index((c.ravel(), i.ravel(), j.ravel()), (C, H, W))]


def same_padding_floor_ceil(kernel_size):
    kh, kw = (kernel_size, kernel_size) if np.ndim(kernel_size) == 0 else kernel_size
    return ((kh - 1) // 2, kh // 2, (kw - 1) // 2, kw // 2)


def _same_padding_square(kernel_size):
    k = kernel_size if isinstance(kernel_size, int) else kernel_size[0]
    return ((k - 1) // 2, k // 2, (k - 1) // 2, k // 2)


def dropout_forward_uniform(x, p, rng):
    mask = rng.uniform(size=x.shape) >= p
    return x * mask / (1 - p), mask


def relu_backward_heaviside(dy, x):
    return dy * np.heaviside(x, 0.0)


def log_softmax_loops(z):
    log_p = np.empty_like(z)
    for n, row in enumerate(z):
        m = max(row)
        total = sum(math.exp(v - m) for v in row)
        log_p[n] = [v - m - math.log(total) for v in row]
    return log_p


def _log_softmax_minus_min(z):
    m = z.min(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def _ce_rows_minus_one(z, t):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[t] -= 1  # whole rows t, not the entries [n, t[n]]
    return p / len(z)


def _adam_eps_squared_inside(w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat, v_hat = m / (1 - beta1**step), v / (1 - beta2**step)
    return w - lr * m_hat / np.sqrt(v_hat + eps**2), m, v


RIGHT["conv2d_forward"].append(conv2d_forward_as_strided)
RIGHT["conv2d_backward"].append(conv2d_backward_full_convolution)
RIGHT["maxpool2d_backward"].append(maxpool2d_backward_put_along_axis)
RIGHT["avgpool2d_backward"].append(avgpool2d_backward_add_at)
RIGHT["nchw_to_nhwc_rows"].append(nchw_to_nhwc_rows_ravel)
RIGHT["same_padding"].append(same_padding_floor_ceil)
RIGHT["dropout_forward"].append(dropout_forward_uniform)
RIGHT["relu_backward"].append(relu_backward_heaviside)
RIGHT["log_softmax"].append(log_softmax_loops)

WRONG["same_padding"].append(
    Wrong(_same_padding_square, "it returns (1, 1, 1, 1); expected (1, 1, 2, 2)", "k_h for both")
)
WRONG["conv2d_forward"].append(
    Wrong(
        _conv_forward_square_output,
        "y has shape (2, 3, 5, 5); expected (2, 3, 5, 6)",
        "W_out = H_out",
    )
)
WRONG["maxpool2d_backward"] += [
    Wrong(
        _maxpool_backward_fancy_index,
        "the gradients of overlapping windows must add up",
        "fancy-index +=, which adds a repeated position once",
    ),
    Wrong(
        _maxpool_backward_divmod_by_stride,
        "First failing case, overlapping windows: 3x3, stride 2",
        "unravels the argmax with the stride as the window's width",
    ),
]
WRONG["avgpool2d_backward"] += [
    Wrong(
        _avgpool_divided_by_stride,
        "First failing case, overlapping windows: 3x3, stride 2",
        "divides by stride * stride",
    ),
    Wrong(
        _avgpool_averaged_over_windows,
        "First failing case, overlapping windows: 3x3, stride 2",
        "also divides by the number of windows over each input",
    ),
]
WRONG["relu_backward"].append(
    Wrong(lambda dy, x: dy * np.heaviside(x, 0.5), "First failing case, integer x", "1/2 at 0")
)
WRONG["log_softmax"] += [
    Wrong(_log_softmax_minus_min, "log_p has -inf at log_p[0, 0]", "the row's minimum subtracted"),
    Wrong(
        lambda z: z - np.log(np.sum(np.exp(z), axis=1, keepdims=True)),
        "log(sum(exp(z))) without the max overflows",
        "log-sum-exp without the max",
    ),
]
WRONG["cross_entropy_backward"].append(
    Wrong(_ce_rows_minus_one, "dz is wrong: largest error", "p[t] -= 1")
)
WRONG["adam_step"].append(
    Wrong(_adam_eps_squared_inside, "First failing case, small gradients", "sqrt(v_hat + eps**2)")
)
