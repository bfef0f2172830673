"""Fast max and average pooling: one vectorised pass per kernel offset, never one per window.

For each offset (di, dj) inside the window, ``x[:, :, di::sh, dj::sw]`` (cut to H_out x W_out) is
that offset's value in every window at once, so a ``kh x kw`` pool costs ``kh * kw`` array
operations over the output, whatever the image size. Windows may overlap (stride < kernel).
Every function takes floating point arrays and raises TypeError for others: integers would wrap
around in sums and round a mean to zero.
"""

from __future__ import annotations

import numpy as np

from . import _checks as chk
from .conv import output_size


def _offset(x: np.ndarray, di: int, dj: int, out_hw: tuple[int, int], stride: tuple[int, int]):
    """The value at offset (di, dj) of every window: a strided view of shape (N, C, Ho, Wo)."""
    (Ho, Wo), (sh, sw) = out_hw, stride
    return x[:, :, di : di + sh * (Ho - 1) + 1 : sh, dj : dj + sw * (Wo - 1) + 1 : sw]


def pool_output_hw(x_shape, kernel: tuple[int, int], stride: tuple[int, int]) -> tuple[int, int]:
    H, W = x_shape[-2:]
    return output_size(H, kernel[0], stride[0], 0, 0), output_size(W, kernel[1], stride[1], 0, 0)


def maxpool2d_forward(
    x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum of each window.

    x : (N, C, H, W) -> y : (N, C, H_out, W_out), and argmax : (N, C, H_out, W_out) holding the
    row-major offset ``di * kw + dj`` of the window's first maximum.
    """
    chk.check_floats("maxpool2d_forward", x=x)
    kh, kw = kernel
    out_hw = pool_output_hw(x.shape, kernel, stride)
    y = _offset(x, 0, 0, out_hw, stride).copy()
    for di in range(kh):
        for dj in range(kw):
            if di or dj:
                np.maximum(y, _offset(x, di, dj, out_hw, stride), out=y)
    # argmax = the smallest offset whose value equals the maximum: offsets that miss it are
    # pushed past every real offset (+ kh * kw), so the minimum picks the first maximum in
    # row-major order, as PyTorch does. Plain arithmetic: much faster than masked writes.
    argmax = np.full(y.shape, kh * kw, dtype=np.int32)
    candidate = np.empty(y.shape, dtype=np.int32)
    for di in range(kh):
        for dj in range(kw):
            np.not_equal(_offset(x, di, dj, out_hw, stride), y, out=candidate)
            candidate *= kh * kw
            candidate += di * kw + dj
            np.minimum(argmax, candidate, out=argmax)
    missing = argmax == kh * kw  # only a NaN, which equals nothing, leaves a window unmatched
    if missing.any():
        # Like np.argmax (and PyTorch), a NaN counts as the maximum: take the window's first NaN.
        for di in reversed(range(kh)):
            for dj in reversed(range(kw)):
                nan_here = missing & np.isnan(_offset(x, di, dj, out_hw, stride))
                argmax[nan_here] = di * kw + dj
    return y, argmax


def maxpool2d_backward(
    dy: np.ndarray,
    argmax: np.ndarray,
    x_shape: tuple[int, ...],
    kernel: tuple[int, int],
    stride: tuple[int, int],
) -> np.ndarray:
    """Send each window's gradient to its first maximum; overlapping windows add up.

    dy, argmax : (N, C, H_out, W_out) -> dx : (N, C, H, W)

    The derivative of max is one-hot: sending the gradient to every tied input would count it
    several times over, so it goes to the one input that the forward pass chose.
    """
    chk.check_floats("maxpool2d_backward", dy=dy)
    kh, kw = kernel
    out_hw = dy.shape[-2:]
    dx = np.zeros(x_shape, dtype=dy.dtype)
    for di in range(kh):
        for dj in range(kw):
            _offset(dx, di, dj, out_hw, stride)[...] += dy * (argmax == di * kw + dj)
    return dx


def avgpool2d_forward(
    x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]
) -> np.ndarray:
    """Mean of each window. x : (N, C, H, W) -> y : (N, C, H_out, W_out)."""
    chk.check_floats("avgpool2d_forward", x=x)
    kh, kw = kernel
    out_hw = pool_output_hw(x.shape, kernel, stride)
    y = _offset(x, 0, 0, out_hw, stride).copy()
    for di in range(kh):
        for dj in range(kw):
            if di or dj:
                y += _offset(x, di, dj, out_hw, stride)
    y *= x.dtype.type(1.0 / (kh * kw))
    return y


def avgpool2d_backward(
    dy: np.ndarray, x_shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int]
) -> np.ndarray:
    """Spread each window's gradient evenly over its kh * kw inputs.

    dy : (N, C, H_out, W_out) -> dx : (N, C, H, W)
    """
    chk.check_floats("avgpool2d_backward", dy=dy)
    kh, kw = kernel
    share = dy * dy.dtype.type(1.0 / (kh * kw))
    dx = np.zeros(x_shape, dtype=dy.dtype)
    for di in range(kh):
        for dj in range(kw):
            _offset(dx, di, dj, dy.shape[-2:], stride)[...] += share
    return dx
