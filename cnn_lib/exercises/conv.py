"""Checkers for the convolution chapters: output size, "same" padding, forward and backward.

References: `cnn_lib.naive`'s loop-by-loop convolution (cross-correlation, no kernel flip, as in
PyTorch) and the output-size formula floor((size + 2P - k) / s) + 1.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..gradcheck import numerical_gradient
from ..naive import conv2d_backward_naive, conv2d_forward_naive
from ._runner import Case, Exercise, Mistake

# --------------------------------------------------------------------------------------------
# conv_output_size


def conv_output_size_reference(size, kernel_size, stride=1, padding=0):
    """floor((size + 2 * padding - kernel_size) / stride) + 1: the number of window positions."""
    return (size + 2 * padding - kernel_size) // stride + 1


def _output_size_cases():
    return [
        Case("3x3 kernel on 28 pixels", (28, 3)),
        Case("padding 1 keeps the size", (28, 3, 1, 1)),
        Case("stride 2 with a remainder", (8, 3, 2, 0)),
        Case("stride 2, the last step exactly fits", (7, 3, 2, 0)),
        Case("stride 2 and padding 1", (8, 3, 2, 1)),
        Case("kernel as large as the input", (5, 5, 1, 0)),
        Case("stride 3, padding 2, even kernel", (10, 4, 3, 2)),
        Case("ResNet's first layer: 224 pixels, 7x7, stride 2, padding 3", (224, 7, 2, 3)),
    ]


OUTPUT_SIZE = Exercise(
    name="conv_output_size",
    params="size, kernel_size, stride=1, padding=0",
    returns="int",
    doc="""\
Number of positions of a kernel_size window sliding along one axis of length size, moving
stride pixels at a time, after padding zeros on both sides. Every argument is an int; the
window must fit entirely inside the padded input, so a partial step at the end is dropped.
Returns an int (the output's H_out or W_out).""",
    outputs=(("size", "int"),),
    cases=_output_size_cases,
    reference=conv_output_size_reference,
    mistakes=(
        Mistake(
            "off by one in the output size: count the first window too, (size + 2P - k) // s + 1",
            variant=lambda n, k, s=1, p=0: (n + 2 * p - k) // s,
        ),
        Mistake(
            "/ gives a float: round down with // (a window that sticks out is dropped)",
            variant=lambda n, k, s=1, p=0: (n + 2 * p - k) / s + 1,
        ),
        Mistake(
            "the padding goes on both sides: add 2 * padding",
            variant=lambda n, k, s=1, p=0: (n + p - k) // s + 1,
        ),
        Mistake(
            "rounded up: a last window that sticks out past the input is dropped, so round down",
            variant=lambda n, k, s=1, p=0: -(-(n + 2 * p - k) // s) + 1,
        ),
        Mistake(
            "round() goes to the nearest integer (3.5 to 4): a last window that sticks out past "
            "the input is dropped, so round down with //",
            variant=lambda n, k, s=1, p=0: round((n + 2 * p - k) / s) + 1,
        ),
        Mistake(
            "the + 1 belongs after the division: (size + 2P - k) // s + 1",
            variant=lambda n, k, s=1, p=0: (n + 2 * p - k + 1) // s,
        ),
        Mistake(
            "the stride is ignored: the window moves s pixels at a time, so divide by s",
            variant=lambda n, k, s=1, p=0: n + 2 * p - k + 1,
        ),
    ),
)

# --------------------------------------------------------------------------------------------
# same_padding


def same_padding_reference(kernel_size):
    """(top, bottom, left, right) for an output as large as the input at stride 1.

    A k-wide kernel needs k - 1 extra rows in all; when k is even they cannot be split equally
    and the extra one goes at the bottom (right), as PyTorch's padding="same" does.
    """
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    top, left = (kh - 1) // 2, (kw - 1) // 2
    return (top, kh - 1 - top, left, kw - 1 - left)


def _pair(kernel_size):
    return (kernel_size, kernel_size) if np.isscalar(kernel_size) else tuple(kernel_size)


def _same_padding_cases():
    return [
        Case("3x3 kernel", (3,)),
        Case("5x5 kernel", (5,)),
        Case("1x1 kernel", (1,)),
        Case("2x2 kernel (even)", (2,)),
        Case("4x4 kernel (even)", (4,)),
        Case("(3, 5) kernel", ((3, 5),)),
        Case("(2, 3) kernel", ((2, 3),)),
        Case("(4, 1) kernel", ((4, 1),)),
    ]


def _sides(kernel_size, split):
    kh, kw = _pair(kernel_size)
    return (*split(kh), *split(kw))


SAME_PADDING = Exercise(
    name="same_padding",
    params="kernel_size",
    returns="(top, bottom, left, right)",
    doc="""\
Zeros to add around an input so that a stride-1 convolution with this kernel keeps its height
and width. kernel_size is an int k (a k x k kernel) or a pair (k_h, k_w). Returns four ints
(top, bottom, left, right) that add up to k_h - 1 rows and k_w - 1 columns. An even kernel
cannot be centred: put the extra row at the bottom and the extra column on the right, as
PyTorch's padding="same" does.""",
    outputs=(("padding", "ints"),),
    cases=_same_padding_cases,
    reference=same_padding_reference,
    mistakes=(
        Mistake(
            "k // 2 on every side pads one row too many for an even kernel: the total must be "
            "k - 1",
            variant=lambda k: _sides(k, lambda n: (n // 2, n // 2)),
        ),
        Mistake(
            "(k - 1) // 2 on every side pads one row too few for an even kernel: the total must "
            "be k - 1, with the extra row at the bottom",
            variant=lambda k: _sides(k, lambda n: ((n - 1) // 2, (n - 1) // 2)),
        ),
        Mistake(
            "the extra row of an even kernel goes at the bottom and the extra column on the "
            "right (PyTorch's convention), not at the top and left",
            variant=lambda k: _sides(k, lambda n: (n - 1 - (n - 1) // 2, (n - 1) // 2)),
        ),
        Mistake(
            "the order is (top, bottom, left, right), not (top, left, bottom, right)",
            variant=lambda k: tuple(same_padding_reference(k)[i] for i in (0, 2, 1, 3)),
        ),
        Mistake(
            "H and W swapped: kernel_size is (k_h, k_w); top and bottom come from k_h",
            variant=lambda k: same_padding_reference(_pair(k)[::-1]),
        ),
    ),
)

# --------------------------------------------------------------------------------------------
# conv2d_forward


def _conv_cases(backward: bool):
    """(x, w, b or dy, stride, padding) for the forward and backward checkers alike."""
    rng = np.random.default_rng(101 if backward else 100)
    table = [
        # label, x shape, w shape, stride, padding (None: left at the default)
        ("3x3 kernel, windows overlap", (2, 3, 5, 5), (4, 3, 3, 3), None, None),
        ("non-square input and kernel", (2, 2, 6, 9), (3, 2, 2, 4), 1, 0),
        ("stride 2 with a remainder", (1, 3, 8, 10), (2, 3, 3, 3), 2, 0),
        ("padding 1", (2, 2, 5, 6), (3, 2, 3, 3), 1, 1),
        ("stride 3 and padding 2, non-square kernel", (1, 2, 7, 6), (2, 2, 4, 3), 3, 2),
    ]
    cases = []
    for label, x_shape, w_shape, stride, padding in table:
        x = rng.standard_normal(x_shape)
        w = rng.standard_normal(w_shape)
        settings = () if stride is None else (stride, padding)
        if backward:
            y = conv2d_forward_naive(x, w, np.zeros(w_shape[0]), stride or 1, padding or 0)
            dy = rng.standard_normal(y.shape)
            cases.append(Case(label, (dy, x, w, *settings), numeric=x.size < 200))
        else:
            cases.append(Case(label, (x, w, rng.standard_normal(w_shape[0]), *settings)))
    if backward:
        x, w = rng.standard_normal((1, 3, 8, 10)), rng.standard_normal((2, 3, 3, 3))
        dy = 1e-6 * rng.standard_normal((1, 2, 4, 5))  # stride 2, padding 1
        cases.append(Case("small gradients (dy about 1e-6), stride 2, padding 1", (dy, x, w, 2, 1)))
    return cases


def _conv_forward_reference(x, w, b, stride=1, padding=0):
    return conv2d_forward_naive(x, w, b, stride, padding)


def _out_hw(x, w, stride, padding):
    H, W = x.shape[2] + 2 * padding, x.shape[3] + 2 * padding
    return (H - w.shape[2]) // stride + 1, (W - w.shape[3]) // stride + 1


CONV2D_FORWARD = Exercise(
    name="conv2d_forward",
    params="x, w, b, stride=1, padding=0",
    returns="y",
    doc="""\
The book's convolution: slide each kernel over the input and take the sum of products (a
cross-correlation: the kernel is not flipped, as in PyTorch), then add the bias.
x : (N, C, H, W), w : (F, C, k_h, k_w), b : (F,); stride s and padding P are ints, P zeros on
every side of H and W. Returns y : (N, F, H_out, W_out) with H_out = (H + 2P - k_h) // s + 1
and W_out = (W + 2P - k_w) // s + 1, where y[n, f, i, j] = b[f] + the sum over c, u, v of
x_pad[n, c, i*s + u, j*s + v] * w[f, c, u, v]. Leave x, w and b unchanged.""",
    outputs=(("y", "array"),),
    cases=lambda: _conv_cases(backward=False),
    reference=_conv_forward_reference,
    mistakes=(
        Mistake(
            "the kernel is flipped: that is a convolution in the textbook sense; this book (like "
            "PyTorch) uses cross-correlation, w[f, c, u, v] times "
            "x_pad[n, c, i*s + u, j*s + v]",
            variant=lambda x, w, b, s=1, p=0: conv2d_forward_naive(x, w[:, :, ::-1, ::-1], b, s, p),
        ),
        Mistake(
            "off by one in the output size: H_out = (H + 2P - k_h) // s + 1",
            variant=lambda x, w, b, s=1, p=0: conv2d_forward_naive(x, w, b, s, p)[:, :, :-1, :-1],
        ),
        Mistake(
            "H and W swapped: y is (N, F, H_out, W_out)",
            variant=lambda x, w, b, s=1, p=0: conv2d_forward_naive(x, w, b, s, p).transpose(
                0, 1, 3, 2
            ),
        ),
        Mistake(
            "the bias b is not added",
            variant=lambda x, w, b, s=1, p=0: conv2d_forward_naive(x, w, 0 * b, s, p),
        ),
        Mistake(
            "the bias goes along the channel axis: b[f] is added to all of y[:, f], e.g. "
            "b[None, :, None, None] (plain + b adds it along the last axis)",
            variant=lambda x, w, b, s=1, p=0: conv2d_forward_naive(x, w, 0 * b, s, p) + b,
        ),
        Mistake(
            "the padding is ignored: pad H and W with P zeros on every side first",
            variant=lambda x, w, b, s=1, p=0: conv2d_forward_naive(x, w, b, s, 0),
        ),
        Mistake(
            "the stride is ignored: windows start every s pixels",
            variant=lambda x, w, b, s=1, p=0: conv2d_forward_naive(x, w, b, 1, p),
        ),
        Mistake(
            "window (i, j) starts at (i * s, j * s), not at (i, j): the output size is right but "
            "the windows do not move by the stride",
            variant=lambda x, w, b, s=1, p=0: conv2d_forward_naive(x, w, b, 1, p)[
                :, :, : _out_hw(x, w, s, p)[0], : _out_hw(x, w, s, p)[1]
            ],
        ),
    ),
)

# --------------------------------------------------------------------------------------------
# conv2d_backward

OVERLAP = (
    "the gradients of overlapping windows must add up (+=); assigning (=) keeps only the last "
    "window's"
)


def _conv_backward_reference(dy, x, w, stride=1, padding=0):
    return conv2d_backward_naive(dy, x, w, stride, padding)


def _conv_backward_loops(
    dy, x, w, stride=1, padding=0, *, assign=False, assign_each=False, flip=False, crop=True
):
    """The loop-by-loop backward pass with one known mistake switched on (for the hints).

    assign: each window's gradient (summed over the F kernels) overwrites the previous ones;
    assign_each: so does each kernel's, as in loops over (n, f, i, j) with = instead of +=.
    """
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    _, _, H_out, W_out = dy.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    kernel = w[:, :, ::-1, ::-1] if flip else w
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                rows = slice(i * stride, i * stride + kh)
                cols = slice(j * stride, j * stride + kw)
                contribution = np.tensordot(dy[n, :, i, j], kernel, axes=1)  # (C, kh, kw)
                if assign_each:
                    f = dy.shape[1] - 1  # the loop over f leaves the last kernel's share
                    dxp[n, :, rows, cols] = dy[n, f, i, j] * kernel[f]
                elif assign:
                    dxp[n, :, rows, cols] = contribution
                else:
                    dxp[n, :, rows, cols] += contribution
                dw += dy[n, :, i, j, None, None, None] * xp[n, None, :, rows, cols]
    dx = dxp[:, :, padding : padding + H, padding : padding + W] if crop else dxp
    return dx, dw, dy.sum(axis=(0, 2, 3))


def _covered(dy, x, w, stride=1, padding=0):
    """dx cut to the rows and columns some window reaches: what a transposed convolution gives."""
    dx, dw, db = conv2d_backward_naive(dy, x, w, stride, padding)
    H_out, W_out = dy.shape[2:]
    H = (H_out - 1) * stride + w.shape[2] - padding
    W = (W_out - 1) * stride + w.shape[3] - padding
    return dx[:, :, :H, :W], dw, db


def _replace(dy, x, w, stride=1, padding=0, **changes):
    dx, dw, db = conv2d_backward_naive(dy, x, w, stride, padding)
    grads = {"dx": dx, "dw": dw, "db": db}
    for key, change in changes.items():
        grads[key] = change(dy, x, w)
    return grads["dx"], grads["dw"], grads["db"]


def _conv_forward_windows(x, w, b, stride, padding):
    """The forward pass as one einsum over sliding windows: fast enough for central differences."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("ncijab,fcab->nfij", windows, w) + b[:, None, None]


def _conv_gradient(dy, x, w, stride=1, padding=0):
    b = np.zeros(w.shape[0])

    def loss():
        return float(np.sum(dy * _conv_forward_windows(x, w, b, stride, padding)))

    return numerical_gradient(loss, x), numerical_gradient(loss, w), numerical_gradient(loss, b)


CONV2D_BACKWARD = Exercise(
    name="conv2d_backward",
    params="dy, x, w, stride=1, padding=0",
    returns="(dx, dw, db)",
    doc="""\
Gradients of the loss through conv2d_forward(x, w, b, stride, padding), given dy = dL/dy.
dy : (N, F, H_out, W_out), x : (N, C, H, W), w : (F, C, k_h, k_w); stride s and padding P
ints as in the forward pass. Returns dx : (N, C, H, W) (the shape of x: no padding left in it),
dw : (F, C, k_h, k_w) and db : (F,). Output y[n, f, i, j] sends dy[n, f, i, j] * w[f] back to
its window of the padded input and dy[n, f, i, j] * (that window) to dw[f]; where windows
overlap, their contributions add up. Leave dy, x and w unchanged.""",
    outputs=(("dx", "array"), ("dw", "array"), ("db", "array")),
    cases=lambda: _conv_cases(backward=True),
    reference=_conv_backward_reference,
    gradient=_conv_gradient,
    mistakes=(
        Mistake(
            OVERLAP,
            variant=lambda *a: _conv_backward_loops(*a, assign=True),
        ),
        Mistake(
            OVERLAP + ", and the F kernels' contributions add up too",
            variant=lambda *a: _conv_backward_loops(*a, assign_each=True),
        ),
        Mistake(
            "dx still includes the padding: cut P rows and columns from every side so that dx "
            "has the shape of x",
            variant=lambda *a: _conv_backward_loops(*a, crop=False),
        ),
        Mistake(
            "the kernel is flipped in dx: each window gets dy[n, f, i, j] * w[f] as it is, with "
            "no flip (the forward pass is a cross-correlation)",
            variant=lambda *a: _conv_backward_loops(*a, flip=True),
        ),
        Mistake(
            "dx is missing the rows and columns that no window reaches (the remainder of the "
            "stride): they are part of x and their gradient is 0",
            variant=_covered,
        ),
        Mistake(
            "window (i, j) starts at (i * s, j * s) in the backward pass too",
            variant=lambda dy, x, w, s=1, p=0: _conv_backward_loops(dy, x, w, 1, p),
        ),
        Mistake(
            "db is the sum of dy over the batch and every position, dy.sum(axis=(0, 2, 3)), "
            "not the mean",
            variant=lambda *a: _replace(*a, db=lambda dy, x, w: dy.mean(axis=(0, 2, 3))),
        ),
        Mistake(
            "db sums over the wrong axes: keep the channel axis, dy.sum(axis=(0, 2, 3))",
            variant=lambda *a: _replace(*a, db=lambda dy, x, w: dy.sum(axis=(1, 2, 3))),
        ),
        Mistake(
            "dw is divided by the batch size: the gradient of a sum over the batch is a sum "
            "(the loss already takes the mean)",
            variant=lambda *a: _replace(
                *a, dw=lambda dy, x, w: conv2d_backward_naive(*a)[1] / x.shape[0]
            ),
        ),
    ),
)

EXERCISES = {e.name: e for e in (OUTPUT_SIZE, SAME_PADDING, CONV2D_FORWARD, CONV2D_BACKWARD)}
