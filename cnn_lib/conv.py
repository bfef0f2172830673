"""Fast 2-D convolution: gather every window into a matrix, then multiply matrices.

PyTorch's convention: cross-correlation (no kernel flip), NCHW arrays, weights (F, C, kh, kw).
The functions that compute (`conv2d_forward`, `conv2d_backward`, `col2im`) take floating point
arrays and raise TypeError for others; the copies (`pad`, `im2col`) take any dtype.

Each image's windows become the columns of its *window matrix*, of shape
(C * kh * kw, H_out * W_out), its rows in (c, u, v) order: the order of
``w.reshape(F, C * kh * kw)``, so one product ``w.reshape(F, -1) @ cols[n]`` gives the image's
output (F, H_out * W_out), already in NCHW order. The batch's matrices are stacked as
(N, C * kh * kw, H_out * W_out), and ``np.matmul`` multiplies each of them.

`im2col` builds the stack in one copy from a view of every window of the NCHW input: the copy
moves rows of W_out neighbouring numbers, and `col2im`, its adjoint, adds rows of W_out back,
one vectorised add per kernel offset (u, v). Every image goes through the same calls on its
own, so `parallel.for_batch` can hand parts of the batch to different threads without
changing a single bit of the result.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import _checks as chk
from .parallel import for_batch

Pads = tuple[int, int, int, int]  # (top, bottom, left, right)


def output_size(size: int, kernel: int, stride: int, pad_before: int, pad_after: int) -> int:
    """Output length along one axis: ``floor((size + pads - kernel) / stride) + 1``."""
    return (size + pad_before + pad_after - kernel) // stride + 1


def window_offset(
    x: np.ndarray, u: int, v: int, out_hw: tuple[int, int], stride: tuple[int, int]
) -> np.ndarray:
    """The number at offset (u, v) of every window at once: a strided view, no copy.

    x : (N, C, H, W) -> (N, C, H_out, W_out), element [n, c, i, j] being
    ``x[n, c, i * sh + u, j * sw + v]``. Writing into the view writes into ``x``.
    """
    (H_out, W_out), (sh, sw) = out_hw, stride
    return x[:, :, u : u + sh * (H_out - 1) + 1 : sh, v : v + sw * (W_out - 1) + 1 : sw]


def pad(x: np.ndarray, pads: Pads, out: np.ndarray | None = None) -> np.ndarray:
    """(N, C, H, W) -> zero-padded (N, C, H + top + bottom, W + left + right).

    Returns ``x`` itself when there is nothing to pad (the callers only read it). ``out``, if
    given, is an array of the padded shape that receives the result.
    """
    top, bottom, left, right = pads
    if not any(pads):
        return x
    N, C, H, W = x.shape
    if out is None:
        out = np.empty((N, C, H + top + bottom, W + left + right), dtype=x.dtype)
    out[:, :, :top] = 0  # the frame, side by side, then the inside: each number written once
    out[:, :, top + H :] = 0
    out[:, :, top : top + H, :left] = 0
    out[:, :, top : top + H, left + W :] = 0
    out[:, :, top : top + H, left : left + W] = x
    return out


def im2col(
    xp: np.ndarray, kh: int, kw: int, stride: tuple[int, int], out: np.ndarray | None = None
) -> np.ndarray:
    """Every window of a padded input as one column of its image's window matrix.

    xp : (N, C, Hp, Wp) -> cols : (N, C * kh * kw, H_out * W_out), rows in (c, u, v) order,
    columns in (i, j) order. ``out``, if given, is a C-contiguous array of that shape that
    receives the result.
    """
    sh, sw = stride
    N, C = xp.shape[:2]
    # Every stride-1 window as a view (no copy), then every sh-th and sw-th of them (no copy).
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    H_out, W_out = windows.shape[2:4]  # windows : (N, C, H_out, W_out, kh, kw)
    if out is None:
        out = np.empty((N, C * kh * kw, H_out * W_out), dtype=xp.dtype)
    # The one copy: (N, C, H_out, W_out, kh, kw) -> (N, C, kh, kw, H_out, W_out), into `out`'s
    # memory. Its innermost runs are rows of W_out neighbouring numbers (for stride 1).
    out.reshape(N, C, kh, kw, H_out, W_out)[...] = windows.transpose(0, 1, 4, 5, 2, 3)
    return out


def col2im(
    dcols: np.ndarray,
    padded_shape: tuple[int, int, int, int],
    kh: int,
    kw: int,
    stride: tuple[int, int],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Adjoint of `im2col`: add each window's gradient back where the window was taken from.

    dcols : (N, C * kh * kw, H_out * W_out) -> dxp : (N, C, Hp, Wp), ``padded_shape``. One
    vectorised add per kernel offset, each covering every window at once; where windows overlap
    their gradients add up. ``out``, if given, is an array of ``padded_shape`` that receives the
    result (it is overwritten, not added to).
    """
    chk.check_floats("col2im", dcols=dcols)
    N, C, Hp, Wp = padded_shape
    out_hw = (output_size(Hp, kh, stride[0], 0, 0), output_size(Wp, kw, stride[1], 0, 0))
    d = dcols.reshape(N, C, kh, kw, *out_hw)
    if out is None:
        out = np.zeros(padded_shape, dtype=dcols.dtype)
    else:
        out[...] = 0
    for u in range(kh):
        for v in range(kw):
            target = window_offset(out, u, v, out_hw, stride)
            target += d[:, :, u, v]  # in place, into `out`
    return out


def conv2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    stride: tuple[int, int] = (1, 1),
    pads: Pads = (0, 0, 0, 0),
) -> tuple[np.ndarray, tuple]:
    """Cross-correlate ``x`` with ``w`` and add ``b``.

    x : (N, C, H, W), w : (F, C, kh, kw), b : (F,)
    Returns y : (N, F, H_out, W_out) and the cache that `conv2d_backward` needs (it holds the
    window matrices, (N, C * kh * kw, H_out * W_out)).
    """
    chk.check_floats("conv2d_forward", x=x, w=w, b=b)
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    top, bottom, left, right = pads
    H_out = output_size(H, kh, stride[0], top, bottom)
    W_out = output_size(W, kw, stride[1], left, right)
    w_mat = w.reshape(F, C * kh * kw)  # rows in (c, u, v) order, as the window matrix's
    bias = b.reshape(F, 1)
    # Every array the parts write is made here, before them. Large arrays made and freed in
    # threads running at once cost far more than in one thread (measured on a 2-core virtual
    # machine: np.zeros of 3.7 MB, about 50 times slower in two threads at once than in one),
    # the system having to map fresh memory for each and tell both cores when it goes.
    xp = np.empty((N, C, H + top + bottom, W + left + right), dtype=x.dtype) if any(pads) else x
    cols = np.empty((N, C * kh * kw, H_out * W_out), dtype=x.dtype)
    y = np.empty((N, F, H_out * W_out), dtype=x.dtype)

    def images(start: int, stop: int) -> None:
        xp_part = pad(x[start:stop], pads, out=xp[start:stop])
        im2col(xp_part, kh, kw, stride, out=cols[start:stop])
        y_part = y[start:stop]
        np.matmul(w_mat, cols[start:stop], out=y_part)  # (F, CKK) @ (n, CKK, HW) -> (n, F, HW)
        y_part += bias

    for_batch(images, N)
    # The backward pass multiplies by w_mat.T: a contiguous copy of it (small), made now so
    # that the cache keeps the weights this output was computed with. OpenBLAS can also be
    # slower on a transposed operand of a skinny product.
    w_mat_T = np.ascontiguousarray(w_mat.T)  # (CKK, F)
    cache = (x.shape, cols, w_mat_T, w.shape, stride, pads)
    return y.reshape(N, F, H_out, W_out), cache


def conv2d_backward(
    dy: np.ndarray, cache: tuple, input_grad: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Gradients of the loss with respect to x, w and b, given dy = dL/dy.

    dy : (N, F, H_out, W_out) -> dx : (N, C, H, W), dw : (F, C, kh, kw), db : (F,).
    With ``input_grad=False``, dx is not computed and None comes back in its place: the input
    of a network's first layer is data, and nothing needs its gradient.
    """
    chk.check_floats("conv2d_backward", dy=dy)
    x_shape, cols, w_mat_T, w_shape, stride, pads = cache
    N, C, H, W = x_shape
    F, _, kh, kw = w_shape
    top, bottom, left, right = pads
    padded_shape = (N, C, H + top + bottom, W + left + right)
    dy_mat = dy.reshape(N, F, dy.shape[2] * dy.shape[3])  # (N, F, HW), HW = H_out * W_out
    # Each image's own dw and db, summed below in a fixed order: the same bits whatever the
    # threads.
    dw_per_image = np.empty((N, F, C * kh * kw), dtype=cols.dtype)
    db_per_image = np.empty((N, F), dtype=cols.dtype)
    if input_grad:  # made here, not in the parts, as in conv2d_forward
        dx = np.empty(x_shape, dtype=cols.dtype)
        dcols = np.empty(cols.shape, dtype=cols.dtype)
        dxp = np.empty(padded_shape, dtype=cols.dtype) if any(pads) else dx
    else:
        dx = None

    def images(start: int, stop: int) -> None:
        cols_T = cols[start:stop].transpose(0, 2, 1)  # (n, HW, CKK), a view
        np.matmul(dy_mat[start:stop], cols_T, out=dw_per_image[start:stop])  # -> (n, F, CKK)
        np.sum(dy_mat[start:stop], axis=2, out=db_per_image[start:stop])  # -> (n, F)
        if dx is None:
            return
        # (CKK, F) @ (n, F, HW) -> (n, CKK, HW)
        np.matmul(w_mat_T, dy_mat[start:stop], out=dcols[start:stop])
        part_shape = (stop - start, *padded_shape[1:])
        col2im(dcols[start:stop], part_shape, kh, kw, stride, out=dxp[start:stop])
        if dxp is not dx:  # crop the padding's frame away
            dx[start:stop] = dxp[start:stop, :, top : top + H, left : left + W]

    for_batch(images, N)
    dw = dw_per_image.sum(axis=0).reshape(w_shape)
    db = db_per_image.sum(axis=0)
    return dx, dw, db
