"""Fast 2-D convolution: gather every window into one matrix, then one matrix multiply.

PyTorch's convention: cross-correlation (no kernel flip), NCHW arrays, weights (F, C, kh, kw).
Internally the windows are gathered from a channels-last copy of the input, so that each row of
the window matrix is ``kh * kw`` runs of ``C`` contiguous numbers; the matrix multiply then does
all the arithmetic.

The functions that compute (`conv2d_forward`, `conv2d_backward`, `col2im`) take floating point
arrays and raise TypeError for others; the copies (`pad_channels_last`, `im2col`) take any dtype.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import _checks as chk

Pads = tuple[int, int, int, int]  # (top, bottom, left, right)


def output_size(size: int, kernel: int, stride: int, pad_before: int, pad_after: int) -> int:
    """Output length along one axis: ``floor((size + pads - kernel) / stride) + 1``."""
    return (size + pad_before + pad_after - kernel) // stride + 1


def pad_channels_last(x: np.ndarray, pads: Pads) -> np.ndarray:
    """(N, C, H, W) -> zero-padded channels-last (N, H + top + bottom, W + left + right, C)."""
    N, C, H, W = x.shape
    top, bottom, left, right = pads
    xp = np.zeros((N, H + top + bottom, W + left + right, C), dtype=x.dtype)
    xp[:, top : top + H, left : left + W, :] = x.transpose(0, 2, 3, 1)
    return xp


def im2col(xp: np.ndarray, kh: int, kw: int, stride: tuple[int, int]) -> np.ndarray:
    """Every window of a channels-last padded input as one row.

    xp : (N, Hp, Wp, C) -> cols : (N * H_out * W_out, kh * kw * C), rows in (n, i, j) order and
    columns in (di, dj, c) order.
    """
    sh, sw = stride
    N, Hp, Wp, C = xp.shape
    windows = sliding_window_view(xp, (kh, kw), axis=(1, 2))[
        :, ::sh, ::sw
    ]  # (N, Ho, Wo, C, kh, kw)
    Ho, Wo = windows.shape[1], windows.shape[2]
    # (N, Ho, Wo, C, kh, kw) -> (N, Ho, Wo, kh, kw, C): the one copy of the forward pass.
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(N * Ho * Wo, kh * kw * C)


def col2im(
    dcols: np.ndarray, padded_shape: tuple[int, ...], kh: int, kw: int, stride: tuple[int, int]
) -> np.ndarray:
    """Adjoint of `im2col`: add each window's gradient back where the window was taken from.

    dcols : (N, H_out, W_out, kh, kw, C) -> dxp : (N, Hp, Wp, C). One vectorised add per kernel
    offset (kh * kw in all), each covering every window at once; overlapping windows add up.
    """
    chk.check_floats("col2im", dcols=dcols)
    sh, sw = stride
    N, Ho, Wo = dcols.shape[:3]
    dxp = np.zeros(padded_shape, dtype=dcols.dtype)
    for di in range(kh):
        for dj in range(kw):
            dxp[:, di : di + sh * (Ho - 1) + 1 : sh, dj : dj + sw * (Wo - 1) + 1 : sw, :] += dcols[
                :, :, :, di, dj, :
            ]
    return dxp


def conv2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    stride: tuple[int, int] = (1, 1),
    pads: Pads = (0, 0, 0, 0),
) -> tuple[np.ndarray, tuple]:
    """Cross-correlate ``x`` with ``w`` and add ``b``.

    x : (N, C, H, W), W : (F, C, kh, kw), b : (F,)
    Returns y : (N, F, H_out, W_out) and the cache that `conv2d_backward` needs.
    """
    chk.check_floats("conv2d_forward", x=x, w=w, b=b)
    N, C, H, Wd = x.shape
    F, _, kh, kw = w.shape
    xp = pad_channels_last(x, pads)  # (N, Hp, Wp, C)
    cols = im2col(xp, kh, kw, stride)  # (N*Ho*Wo, kh*kw*C)
    Ho = output_size(H, kh, stride[0], pads[0], pads[1])
    Wo = output_size(Wd, kw, stride[1], pads[2], pads[3])
    w_mat = w.transpose(2, 3, 1, 0).reshape(kh * kw * C, F)  # rows in (di, dj, c) order
    out = cols @ w_mat  # (N*Ho*Wo, F)
    out += b
    y = out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)  # (N, F, Ho, Wo), a view
    cache = (x.shape, xp.shape, cols, w_mat, w.shape, stride, pads)
    return np.ascontiguousarray(y), cache


def conv2d_backward(dy: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the loss with respect to x, w and b, given dy = dL/dy.

    dy : (N, F, H_out, W_out) -> dx : (N, C, H, W), dw : (F, C, kh, kw), db : (F,)
    """
    chk.check_floats("conv2d_backward", dy=dy)
    x_shape, padded_shape, cols, w_mat, W_shape, stride, pads = cache
    N, C, H, Wd = x_shape
    F, _, kh, kw = W_shape
    Ho, Wo = dy.shape[2], dy.shape[3]
    dy_mat = dy.transpose(0, 2, 3, 1).reshape(N * Ho * Wo, F)  # rows in (n, i, j) order
    db = dy_mat.sum(axis=0)
    dw = (cols.T @ dy_mat).reshape(kh, kw, C, F).transpose(3, 2, 0, 1)  # (F, C, kh, kw)
    # A contiguous copy of the small w_mat.T: OpenBLAS can be far slower on a transposed
    # operand of a skinny product, and the copy costs next to nothing.
    dcols = (dy_mat @ np.ascontiguousarray(w_mat.T)).reshape(N, Ho, Wo, kh, kw, C)
    dxp = col2im(dcols, padded_shape, kh, kw, stride)
    top, _, left, _ = pads
    dx = dxp[:, top : top + H, left : left + Wd, :].transpose(0, 3, 1, 2)
    return np.ascontiguousarray(dx), np.ascontiguousarray(dw), db
