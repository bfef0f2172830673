"""Fast max and average pooling: one vectorised pass per kernel offset, never one per window.

For each offset (u, v) inside the window, ``window_offset(x, u, v, ...)`` is that offset's
value in every window at once (a strided view of shape (N, C, H_out, W_out)), so a ``kh x kw``
pool costs ``kh * kw`` array operations over the output, whatever the image size. Windows may
overlap (stride < kernel). As in `conv`, the batch is split across threads by
`parallel.for_batch`; each image's numbers come out the same whatever the split.
Every function takes floating point arrays and raises TypeError for others: integers would wrap
around in sums and round a mean to zero.
"""

from __future__ import annotations

import numpy as np

from . import _checks as chk
from .conv import output_size, window_offset
from .parallel import for_batch


def pool_output_hw(x_shape, kernel: tuple[int, int], stride: tuple[int, int]) -> tuple[int, int]:
    """(H_out, W_out) of a pooling window ``kernel`` moved by ``stride`` over (..., H, W)."""
    H, W = x_shape[-2:]
    return output_size(H, kernel[0], stride[0], 0, 0), output_size(W, kernel[1], stride[1], 0, 0)


def maxpool2d_forward(
    x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum of each window.

    x : (N, C, H, W) -> y : (N, C, H_out, W_out), and argmax : (N, C, H_out, W_out) holding the
    row-major offset ``u * kw + v`` of the window's first maximum (uint8 for windows of up to
    255 numbers, else int32).

    A window holding NaN has NaN as its maximum (as ``np.max`` says), and its argmax is the
    offset of its first NaN, the one ``np.argmax`` picks and the loop version uses. PyTorch's CPU
    kernel takes the last NaN instead. No choice is more right: the gradient of a NaN is
    meaningless, and the step that met it is lost whichever input receives it. cnn_lib follows
    NumPy, so that the fast and the loop versions agree to the last bit.
    """
    chk.check_floats("maxpool2d_forward", x=x)
    kh, kw = kernel
    out_hw = pool_output_hw(x.shape, kernel, stride)
    offsets = [(u, v) for u in range(kh) for v in range(kw)]  # row-major, k = u * kw + v
    y = np.empty((x.shape[0], x.shape[1], *out_hw), dtype=x.dtype)
    argmax = np.empty(y.shape, dtype=np.uint8 if kh * kw <= 255 else np.int32)
    # Work arrays made here, not in the threads (see conv2d_forward).
    bigger_all = np.empty(y.shape, dtype=bool)
    k_if_bigger_all = np.empty(y.shape, dtype=argmax.dtype)

    def images(start: int, stop: int) -> None:
        xs, ys, am = x[start:stop], y[start:stop], argmax[start:stop]
        bigger, k_if_bigger = bigger_all[start:stop], k_if_bigger_all[start:stop]
        ys[...] = window_offset(xs, 0, 0, out_hw, stride)
        am[...] = 0
        for k, (u, v) in enumerate(offsets[1:], start=1):
            value = window_offset(xs, u, v, out_hw, stride)
            # Strictly greater: a tie keeps the earlier offset. The offsets come in increasing
            # order, so the largest k at which the running maximum grew is the first maximum.
            # Plain arithmetic on 0/1 bytes: far faster than a masked write (am[bigger] = k).
            np.greater(value, ys, out=bigger)
            np.multiply(bigger.view(np.uint8), am.dtype.type(k), out=k_if_bigger)
            np.maximum(am, k_if_bigger, out=am)
            np.maximum(ys, value, out=ys)  # unlike the comparison, lets a NaN through to y
        nan_windows = np.isnan(ys, out=bigger)  # `greater` is False for NaN: set their argmax
        if nan_windows.any():
            for k, (u, v) in reversed(list(enumerate(offsets))):  # the first NaN is set last
                nan_here = nan_windows & np.isnan(window_offset(xs, u, v, out_hw, stride))
                am[nan_here] = k

    for_batch(images, x.shape[0])
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

    Where the maximum is unique, the derivative of max is one-hot. At a tie max has no
    derivative; one-hot is the subgradient PyTorch and this library use: sending the gradient
    to every tied input would count it several times over, so it goes to the one input that
    the forward pass chose.
    """
    chk.check_floats("maxpool2d_backward", dy=dy)
    kh, kw = kernel
    out_hw = dy.shape[-2:]
    dx = np.zeros(x_shape, dtype=dy.dtype)
    overlap = stride[0] < kh or stride[1] < kw  # then an input can be in several windows
    # Work arrays made here, not in the threads (see conv2d_forward).
    chosen = np.empty(dy.shape, dtype=bool)
    share = np.empty(dy.shape, dtype=dy.dtype) if overlap else None

    def images(start: int, stop: int) -> None:
        dxs, dys, am, mask = dx[start:stop], dy[start:stop], argmax[start:stop], chosen[start:stop]
        for u in range(kh):
            for v in range(kw):
                np.equal(am, u * kw + v, out=mask)
                target = window_offset(dxs, u, v, out_hw, stride)
                if overlap:
                    np.multiply(dys, mask, out=share[start:stop])
                    target += share[start:stop]
                else:  # each input in at most one window: write, no need to add
                    np.multiply(dys, mask, out=target)

    for_batch(images, dy.shape[0])
    return dx


def avgpool2d_forward(
    x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]
) -> np.ndarray:
    """Mean of each window. x : (N, C, H, W) -> y : (N, C, H_out, W_out)."""
    chk.check_floats("avgpool2d_forward", x=x)
    kh, kw = kernel
    out_hw = pool_output_hw(x.shape, kernel, stride)
    y = window_offset(x, 0, 0, out_hw, stride).copy()
    for u in range(kh):
        for v in range(kw):
            if u or v:
                y += window_offset(x, u, v, out_hw, stride)
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
    for u in range(kh):
        for v in range(kw):
            target = window_offset(dx, u, v, dy.shape[-2:], stride)
            target += share  # in place, into dx
    return dx
