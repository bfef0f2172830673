"""Checkers for the pooling chapter: max pooling forward and backward, average pooling backward.

References: `cnn_lib.naive`'s loop-by-loop pooling. Each window's gradient goes to its first
maximum in row-major order (np.argmax's choice, and PyTorch's); overlapping windows add up.
"""

from __future__ import annotations

import numpy as np

from ..gradcheck import numerical_gradient
from ..naive import (
    avgpool2d_backward_naive,
    avgpool2d_forward_naive,
    maxpool2d_backward_naive,
    maxpool2d_forward_naive,
)
from ._runner import Case, Exercise, Mistake

STRIDE_DEFAULT = (
    "stride=None means stride = kernel_size (windows side by side); here it was taken as 1"
)


def _stride(kernel_size, stride):
    return kernel_size if stride is None else stride


def _windows(x, kernel_size, stride, ceil=False, out_hw=None):
    """Yield (n, c, i, j, rows, cols) for every window, in row-major order.

    out_hw : how many windows to take, as a backward pass reads it from dy's shape; by default
    as many as fit (or, with ceil, as many as start inside the input).
    """
    s = _stride(kernel_size, stride)
    N, C, H, W = x.shape
    if out_hw is not None:
        H_out, W_out = out_hw
    elif ceil:
        H_out, W_out = -(-(H - kernel_size) // s) + 1, -(-(W - kernel_size) // s) + 1
    else:
        H_out, W_out = (H - kernel_size) // s + 1, (W - kernel_size) // s + 1
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    rows = slice(i * s, i * s + kernel_size)
                    cols = slice(j * s, j * s + kernel_size)
                    yield n, c, i, j, rows, cols


def _pool_cases(seed, backward):
    rng = np.random.default_rng(seed)
    random = rng.standard_normal
    table = [
        # label, x, (kernel_size, stride...) ; an empty stride leaves it at the default
        ("2x2 windows, stride left at its default", random((2, 3, 6, 8)), (2,)),
        (
            "3x3 windows, stride=None, non-square input with a remainder",
            random((2, 2, 7, 9)),
            (3, None),
        ),
        ("overlapping windows: 3x3, stride 2", random((1, 3, 7, 8)), (3, 2)),
        ("overlapping windows: 2x2, stride 1", random((2, 2, 4, 5)), (2, 1)),
        ("integer values with many ties", rng.integers(0, 3, (2, 2, 6, 7)).astype(float), (2,)),
        (
            "ties in overlapping windows: 3x3, stride 1",
            rng.integers(0, 2, (1, 2, 6, 6)).astype(float),
            (3, 1),
        ),
        ("every value negative", -1.0 - np.abs(random((1, 2, 5, 6))), (2, 2)),
        ("gaps between windows: 2x2, stride 3", random((1, 2, 8, 7)), (2, 3)),
    ]
    cases = []
    for label, x, settings in table:
        if not backward:
            cases.append(Case(label, (x, *settings)))
            continue
        y = maxpool2d_forward_naive(x, *settings)
        smooth = "ties" not in label and x.size < 200
        cases.append(Case(label, (rng.standard_normal(y.shape), x, *settings), numeric=smooth))
    if backward:
        x = random((1, 2, 7, 8))
        dy = 1e-6 * rng.standard_normal(maxpool2d_forward_naive(x, 3, 2).shape)
        cases.append(Case("small gradients (dy about 1e-6), 3x3, stride 2", (dy, x, 3, 2)))
    return cases


# --------------------------------------------------------------------------------------------
# maxpool2d_forward


def _maxpool_forward_reference(x, kernel_size, stride=None):
    return maxpool2d_forward_naive(x, kernel_size, stride)


def _maxpool_ceil(x, kernel_size, stride=None):
    s = _stride(kernel_size, stride)
    N, C, H, W = x.shape
    y = np.zeros((N, C, -(-(H - kernel_size) // s) + 1, -(-(W - kernel_size) // s) + 1))
    for n, c, i, j, rows, cols in _windows(x, kernel_size, stride, ceil=True):
        y[n, c, i, j] = x[n, c, rows, cols].max()
    return y


def _maxpool_blocks(x, kernel_size, stride=None):
    """Max over k x k blocks by a reshape: right only when the windows tile the input."""
    N, C, H, W = x.shape
    k = kernel_size
    H_out, W_out = H // k, W // k
    return x[:, :, : H_out * k, : W_out * k].reshape(N, C, H_out, k, W_out, k).max(axis=(3, 5))


def _maxpool_hw_unpacked(x, kernel_size, stride=None):
    """N, C, W, H = x.shape: the output sizes swapped, windows cut short or empty."""
    s, k = _stride(kernel_size, stride), kernel_size
    N, C, W, H = x.shape
    H_out, W_out = (H - k) // s + 1, (W - k) // s + 1
    y = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            y[:, :, i, j] = x[:, :, i * s : i * s + k, j * s : j * s + k].max(axis=(2, 3))
    return y


MAXPOOL2D_FORWARD = Exercise(
    name="maxpool2d_forward",
    params="x, kernel_size, stride=None",
    returns="y",
    doc="""\
The maximum of every kernel_size x kernel_size window of each channel. x : (N, C, H, W);
kernel_size an int k; stride an int s or None, which means s = k (windows side by side);
with s < k the windows overlap. A window that would stick out past the input is dropped.
Returns y : (N, C, H_out, W_out) with H_out = (H - k) // s + 1, W_out = (W - k) // s + 1.
Leave x unchanged.""",
    outputs=(("y", "array"),),
    cases=lambda: _pool_cases(200, backward=False),
    reference=_maxpool_forward_reference,
    mistakes=(
        Mistake(
            STRIDE_DEFAULT,
            variant=lambda x, k, s=None: maxpool2d_forward_naive(x, k, 1 if s is None else s),
        ),
        Mistake(
            "a window that sticks out past the input is kept here (ceil mode); this book drops "
            "it: H_out = (H - k) // s + 1",
            variant=_maxpool_ceil,
        ),
        Mistake(
            "the running maximum starts at 0, so a window of negative numbers gives 0: start "
            "from the window's first value (or -inf)",
            variant=lambda x, k, s=None: np.maximum(maxpool2d_forward_naive(x, k, s), 0.0),
        ),
        Mistake(
            "off by one in the output size: H_out = (H - k) // s + 1",
            variant=lambda x, k, s=None: maxpool2d_forward_naive(x, k, s)[:, :, :-1, :-1],
        ),
        Mistake(
            "H and W swapped: y is (N, C, H_out, W_out)",
            variant=lambda x, k, s=None: maxpool2d_forward_naive(x, k, s).transpose(0, 1, 3, 2),
        ),
        Mistake(
            "H and W swapped: x is (N, C, H, W), so N, C, H, W = x.shape",
            variant=_maxpool_hw_unpacked,
        ),
        Mistake(
            "reshaping into k x k blocks works only when the windows tile the input "
            "(stride == kernel_size); with another stride, take the windows one offset at a time",
            variant=_maxpool_blocks,
        ),
    ),
)

# --------------------------------------------------------------------------------------------
# maxpool2d_backward


def _maxpool_backward_reference(dy, x, kernel_size, stride=None):
    return maxpool2d_backward_naive(dy, x, kernel_size, stride)


def _maxpool_backward_loops(dy, x, kernel_size, stride=None, *, rule="first", assign=False):
    """The loop-by-loop backward pass with one known mistake switched on (for the hints)."""
    dx = np.zeros_like(x)
    for n, c, i, j, rows, cols in _windows(x, kernel_size, stride, out_hw=dy.shape[2:]):
        window = x[n, c, rows, cols]
        ties = window == window.max()
        mask = np.zeros(window.shape)
        if rule == "first":
            mask.flat[np.argmax(window)] = 1.0
        elif rule == "last":
            mask.flat[window.size - 1 - np.argmax(window.ravel()[::-1])] = 1.0
        elif rule == "column":
            mask.T.flat[np.argmax(window.T)] = 1.0
        elif rule == "all":
            mask = ties.astype(float)
        elif rule == "share":
            mask = ties / ties.sum()
        if assign:
            u, v = np.unravel_index(np.argmax(mask), mask.shape)
            dx[n, c, rows.start + u, cols.start + v] = dy[n, c, i, j]
        else:
            dx[n, c, rows, cols] += dy[n, c, i, j] * mask
    return dx


def _maxpool_gradient(dy, x, kernel_size, stride=None):
    def loss():
        return float(np.sum(dy * maxpool2d_forward_naive(x, kernel_size, stride)))

    return (numerical_gradient(loss, x),)


MAXPOOL2D_BACKWARD = Exercise(
    name="maxpool2d_backward",
    params="dy, x, kernel_size, stride=None",
    returns="dx",
    doc="""\
Gradient of the loss through maxpool2d_forward(x, kernel_size, stride), given dy = dL/dy.
dy : (N, C, H_out, W_out), x : (N, C, H, W), kernel_size an int k, stride an int or None
(None means stride = k). Returns dx : (N, C, H, W). Each window sends its dy to the position of
its maximum; when several values tie for the maximum, only the first in row-major order gets it
(np.argmax's choice, as in PyTorch: at a tie max has no derivative, and the one-hot subgradient
is the book's choice). Where windows overlap, the gradients they send to one position add up.
Leave dy and x unchanged.""",
    outputs=(("dx", "array"),),
    cases=lambda: _pool_cases(201, backward=True),
    reference=_maxpool_backward_reference,
    gradient=_maxpool_gradient,
    mistakes=(
        Mistake(
            "every tied maximum got the gradient: only the first one in row-major order gets it "
            "(at a tie the book uses the one-hot subgradient; sending it to each tie counts it "
            "twice)",
            variant=lambda *a: _maxpool_backward_loops(*a, rule="all"),
        ),
        Mistake(
            "the gradient was shared among tied maxima: the first one in row-major order gets "
            "all of it",
            variant=lambda *a: _maxpool_backward_loops(*a, rule="share"),
        ),
        Mistake(
            "the gradient went to the last of the tied maxima: it goes to the first in row-major "
            "order (np.argmax's choice)",
            variant=lambda *a: _maxpool_backward_loops(*a, rule="last"),
        ),
        Mistake(
            "ties are broken in column-major order: the first maximum is the first in row-major "
            "order (along each row, then down), np.argmax of the window",
            variant=lambda *a: _maxpool_backward_loops(*a, rule="column"),
        ),
        Mistake(
            "the gradients of overlapping windows must add up (+=); assigning (=) keeps only the "
            "last window's",
            variant=lambda *a: _maxpool_backward_loops(*a, assign=True),
        ),
        Mistake(
            STRIDE_DEFAULT,
            variant=lambda dy, x, k, s=None: _maxpool_backward_loops(
                dy, x, k, 1 if s is None else s
            ),
        ),
    ),
)

# --------------------------------------------------------------------------------------------
# avgpool2d_backward


def _avgpool_backward_reference(dy, x, kernel_size, stride=None):
    return avgpool2d_backward_naive(dy, x, kernel_size, stride)


def _avgpool_backward_loops(dy, x, kernel_size, stride=None, *, divisor=None, assign=False):
    dx = np.zeros_like(x)
    divisor = kernel_size * kernel_size if divisor is None else divisor
    for n, c, i, j, rows, cols in _windows(x, kernel_size, stride, out_hw=dy.shape[2:]):
        if assign:
            dx[n, c, rows, cols] = dy[n, c, i, j] / divisor
        else:
            dx[n, c, rows, cols] += dy[n, c, i, j] / divisor
    return dx


def _avgpool_repeat(dy, x, kernel_size, stride=None):
    """Spread dy with np.repeat: right only when the windows tile the input."""
    spread = np.repeat(np.repeat(dy, kernel_size, axis=2), kernel_size, axis=3)
    dx = np.zeros_like(x)
    H, W = min(x.shape[2], spread.shape[2]), min(x.shape[3], spread.shape[3])
    dx[:, :, :H, :W] = spread[:, :, :H, :W] / kernel_size**2
    return dx


def _avgpool_gradient(dy, x, kernel_size, stride=None):
    def loss():
        return float(np.sum(dy * avgpool2d_forward_naive(x, kernel_size, stride)))

    return (numerical_gradient(loss, x),)


def _avgpool_cases():
    """The pooling cases less those about the maximum (ties, negative values)."""
    cases = []
    for case in _pool_cases(202, backward=True):
        if case.label.startswith("ties in overlapping windows"):
            cases.append(Case("overlapping windows: 3x3, stride 1", case.args, case.numeric))
        elif "ties" not in case.label and "negative" not in case.label:
            cases.append(case)
    return cases


AVGPOOL2D_BACKWARD = Exercise(
    name="avgpool2d_backward",
    params="dy, x, kernel_size, stride=None",
    returns="dx",
    doc="""\
Gradient of the loss through average pooling with kernel_size x kernel_size windows, given
dy = dL/dy. dy : (N, C, H_out, W_out), x : (N, C, H, W) (only its shape matters), kernel_size
an int k, stride an int or None (None means stride = k). Returns dx : (N, C, H, W): each window
spreads its dy evenly, dy / (k * k) to each of its k * k inputs; where windows overlap, the
shares add up, and inputs that no window covers get 0. Leave dy and x unchanged.""",
    outputs=(("dx", "array"),),
    cases=_avgpool_cases,
    reference=_avgpool_backward_reference,
    gradient=_avgpool_gradient,
    mistakes=(
        Mistake(
            "the gradients of overlapping windows must add up (+=); assigning (=) keeps only the "
            "last window's",
            variant=lambda *a: _avgpool_backward_loops(*a, assign=True),
        ),
        Mistake(
            "each input gets dy / (k * k): the division by the window's size is missing",
            variant=lambda *a: _avgpool_backward_loops(*a, divisor=1),
        ),
        Mistake(
            "divided by k, not by the k * k inputs of the window",
            variant=lambda dy, x, k, s=None: _avgpool_backward_loops(dy, x, k, s, divisor=k),
        ),
        Mistake(
            STRIDE_DEFAULT,
            variant=lambda dy, x, k, s=None: _avgpool_backward_loops(
                dy, x, k, 1 if s is None else s
            ),
        ),
        Mistake(
            "np.repeat spreads dy right only when the windows tile the input (stride == "
            "kernel_size); overlapping or spaced windows need a loop that adds each window's share",
            variant=_avgpool_repeat,
        ),
    ),
)

EXERCISES = {e.name: e for e in (MAXPOOL2D_FORWARD, MAXPOOL2D_BACKWARD, AVGPOOL2D_BACKWARD)}
