"""Checkers for the flattening, dropout and dense chapters, and for ReLU's backward pass.

References are the formulas themselves: y = x @ w + b with w of shape (in_features,
out_features); ReLU's gradient 0 where x <= 0 (PyTorch's choice at 0); inverted dropout, which
keeps each unit with probability 1 - p and scales it by 1 / (1 - p) while training.
"""

from __future__ import annotations

import copy

import numpy as np

from ..gradcheck import numerical_gradient
from ._runner import Case, Exercise, Mistake

# --------------------------------------------------------------------------------------------
# nchw_to_nhwc_rows


def nhwc_order(shape) -> np.ndarray:
    """perm with flat_nhwc == flat_nchw[:, perm], for feature maps of shape (C, H, W)."""
    C, H, W = shape
    return np.arange(C * H * W).reshape(C, H, W).transpose(1, 2, 0).reshape(-1)


def _nchw_to_nhwc_reference(w, shape):
    return w[nhwc_order(shape)]


def _rows_in_order(w, shape, axes):
    C, H, W = shape
    order = np.arange(C * H * W).reshape(C, H, W).transpose(axes).reshape(-1)
    return w[order]


def _nchw_cases():
    rng = np.random.default_rng(300)
    table = [
        ("3 channels of 2 x 4", (3, 2, 4), 5),
        ("2 channels of 3 x 3", (2, 3, 3), 4),
        ("4 channels of 3 x 2", (4, 3, 2), 3),
        ("one output", (5, 2, 3), 1),
        ("one channel (nothing moves)", (1, 3, 4), 2),
    ]
    return [
        Case(label, (rng.standard_normal((int(np.prod(shape)), out)), shape))
        for label, shape, out in table
    ]


NCHW_TO_NHWC_ROWS = Exercise(
    name="nchw_to_nhwc_rows",
    params="w, shape",
    returns="w2",
    doc="""\
Reorder the rows of a Dense weight matrix trained on NCHW-flattened features so that it gives
the same output on channels-last (NHWC) flattened features. w : (C*H*W, out_features), its row
c*H*W + i*W + j belongs to feature (c, i, j); shape = (C, H, W). Returns w2 of the same shape
whose row i*W*C + j*C + c holds that same row, so that
x.transpose(0, 2, 3, 1).reshape(N, -1) @ w2 == x.reshape(N, -1) @ w. Leave w unchanged.""",
    outputs=(("w2", "array"),),
    cases=_nchw_cases,
    reference=_nchw_to_nhwc_reference,
    mistakes=(
        Mistake(
            "the inverse permutation: row m of w2 must be row perm[m] of w, where perm numbers "
            "the NCHW positions in NHWC order (w2 = w[perm], not w2[perm] = w)",
            variant=lambda w, shape: w[np.argsort(nhwc_order(shape))],
        ),
        Mistake(
            "the rows are unchanged: a reshape alone does not reorder anything; the channel axis "
            "has to move last (a transpose) between two reshapes",
            variant=lambda w, shape: w.copy(),
        ),
        Mistake(
            "H and W swapped: channels-last order is (i, j, c), with i the row (H) and j the "
            "column (W)",
            variant=lambda w, shape: _rows_in_order(w, shape, (2, 1, 0)),
        ),
        Mistake(
            "the channel must vary fastest: NHWC order is (i, j, c), not (i, c, j)",
            variant=lambda w, shape: _rows_in_order(w, shape, (1, 0, 2)),
        ),
    ),
)

# --------------------------------------------------------------------------------------------
# dense_backward


def dense_backward_reference(dy, x, w):
    """y = x @ w + b: dx = dy @ w.T, dw = x.T @ dy, db = dy summed over the batch."""
    return dy @ w.T, x.T @ dy, dy.sum(axis=0)


def _dense_gradient(dy, x, w):
    b = np.zeros(w.shape[1])

    def loss():
        return float(np.sum(dy * (x @ w + b)))

    return numerical_gradient(loss, x), numerical_gradient(loss, w), numerical_gradient(loss, b)


def _dense_cases():
    rng = np.random.default_rng(310)
    table = [
        ("batch of 4, 6 inputs, 3 outputs", 4, 6, 3, 1.0),
        ("as many inputs as outputs (a transposed dw has the right shape)", 3, 5, 5, 1.0),
        ("batch of one", 1, 4, 3, 1.0),
        ("small gradients (dy about 1e-6)", 5, 7, 2, 1e-6),
        ("batch of 8, 12 inputs, 10 outputs", 8, 12, 10, 1.0),
    ]
    return [
        Case(
            label,
            (
                scale * rng.standard_normal((N, out)),
                rng.standard_normal((N, inp)),
                rng.standard_normal((inp, out)),
            ),
            numeric=True,
        )
        for label, N, inp, out, scale in table
    ]


def _dense_with(**changes):
    def variant(dy, x, w):
        grads = dict(zip(("dx", "dw", "db"), dense_backward_reference(dy, x, w), strict=True))
        for key, change in changes.items():
            grads[key] = change(dy, x, w)
        return grads["dx"], grads["dw"], grads["db"]

    return variant


DENSE_BACKWARD = Exercise(
    name="dense_backward",
    params="dy, x, w",
    returns="(dx, dw, db)",
    doc="""\
Gradients of the loss through the dense layer y = x @ w + b, given dy = dL/dy.
dy : (N, out_features), x : (N, in_features), w : (in_features, out_features) (this book's
layout: the transpose of PyTorch's nn.Linear weight). Returns dx : (N, in_features),
dw : (in_features, out_features) and db : (out_features,); dw and db add up the contributions
of the N examples (the loss already takes the mean). Leave dy, x and w unchanged.""",
    outputs=(("dx", "array"), ("dw", "array"), ("db", "array")),
    cases=_dense_cases,
    reference=dense_backward_reference,
    gradient=_dense_gradient,
    mistakes=(
        Mistake(
            "db is the sum of dy over the batch, dy.sum(axis=0), not the mean",
            variant=_dense_with(db=lambda dy, x, w: dy.mean(axis=0)),
        ),
        Mistake(
            "db sums over the batch only: dy.sum(axis=0), one number per output",
            variant=_dense_with(db=lambda dy, x, w: dy.sum()),
        ),
        Mistake(
            "dw is transposed: this book's w is (in_features, out_features), so dw = x.T @ dy "
            "(dy.T @ x is the gradient of PyTorch's (out, in) weight)",
            variant=_dense_with(dw=lambda dy, x, w: dy.T @ x),
        ),
        Mistake(
            "dw is divided by the batch size: the gradient of a sum over the batch is a sum "
            "(the loss already takes the mean)",
            variant=_dense_with(dw=lambda dy, x, w: x.T @ dy / len(x)),
        ),
        Mistake(
            "dx = dy @ w.T: w must be transposed to go back from outputs to inputs",
            variant=_dense_with(dx=lambda dy, x, w: dy @ w),
        ),
    ),
)

# --------------------------------------------------------------------------------------------
# relu_backward


def relu_backward_reference(dy, x):
    """dy where x > 0, else 0: ReLU's gradient is 0 at x = 0 (PyTorch's convention)."""
    return dy * (x > 0)


def _relu_gradient(dy, x):
    def loss():
        return float(np.sum(dy * np.maximum(x, 0.0)))

    return (numerical_gradient(loss, x),)


def _relu_cases():
    rng = np.random.default_rng(320)
    return [
        Case(
            "random (3, 7)",
            (rng.standard_normal((3, 7)), rng.standard_normal((3, 7))),
            numeric=True,
        ),
        Case(
            "integer x with exact zeros",
            (rng.standard_normal((4, 6)), rng.integers(-2, 3, (4, 6)).astype(float)),
        ),
        Case(
            "feature maps (2, 3, 4, 5)",
            (rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 4, 5))),
            numeric=True,
        ),
        Case("every x negative", (rng.standard_normal((2, 5)), -1.0 - rng.random((2, 5)))),
        Case(
            "small gradients (dy about 1e-6)",
            (1e-6 * rng.standard_normal((3, 4)), rng.standard_normal((3, 4))),
            numeric=True,
        ),
    ]


RELU_BACKWARD = Exercise(
    name="relu_backward",
    params="dy, x",
    returns="dx",
    doc="""\
Gradient of the loss through y = max(0, x), given dy = dL/dy. dy and x have the same shape
(any shape). Returns dx of that shape: dy where x > 0 and 0 where x <= 0 (at x = 0 exactly, the
gradient is taken as 0, as PyTorch does). Leave dy and x unchanged.""",
    outputs=(("dx", "array"),),
    cases=_relu_cases,
    reference=relu_backward_reference,
    gradient=_relu_gradient,
    mistakes=(
        Mistake(
            "at x = 0 the gradient must be 0 (PyTorch's convention): the mask is x > 0, not x >= 0",
            variant=lambda dy, x: dy * (x >= 0),
        ),
        Mistake(
            "the mask comes from x, the input of the forward pass, not from dy",
            variant=lambda dy, x: dy * (dy > 0),
        ),
        Mistake(
            "the mask (x > 0) must multiply dy: dx = dy * (x > 0)",
            variant=lambda dy, x: (x > 0).astype(float),
        ),
        Mistake(
            "dy is multiplied by x: it must be multiplied by the mask (x > 0), which is 0 or 1",
            variant=lambda dy, x: dy * np.maximum(x, 0.0),
        ),
    ),
)

# --------------------------------------------------------------------------------------------
# dropout_forward


def dropout_forward_reference(x, p, rng):
    """Inverted dropout: keep units with probability 1 - p and scale them by 1 / (1 - p)."""
    mask = rng.random(x.shape) >= p
    return x * mask / (1.0 - p), mask


def _dropout_cases():
    rng = np.random.default_rng(330)
    table = [
        ("p = 0.5 on (4, 50)", (4, 50), 0.5, 1),
        ("p = 0.2 on feature maps (2, 3, 4, 5)", (2, 3, 4, 5), 0.2, 2),
        ("p = 0: nothing dropped", (3, 10), 0.0, 3),
        ("p = 0.9: most units dropped", (5, 40), 0.9, 4),
        ("p = 0.3 on 100,000 units (the keep rate)", (200, 500), 0.3, 5),
    ]
    return [
        Case(label, (rng.standard_normal(shape), p, np.random.default_rng(seed)))
        for label, shape, p, seed in table
    ]


def _dropout_expected(args, out):
    """y follows from the reader's own mask; the mask itself is random and checked apart."""
    x, p, rng = args
    y, mask = dropout_forward_reference(x, p, rng)
    if (
        isinstance(out, (tuple, list))
        and len(out) == 2
        and isinstance(out[1], np.ndarray)
        and out[1].shape == x.shape
        and out[1].dtype == bool
    ):
        mask = out[1]
        y = x * mask / (1.0 - p)
    return y, mask


def _dropout_extra(fn, case, out):
    """The mask: all kept at p = 0; on the large case, units dropped independently (not one mask
    for the batch, not a fixed number per example), a keep rate near 1 - p, drawn from rng and
    from rng only. A right mask fails these with a probability far below 1e-9."""
    x, p, rng = case.args
    mask = out[1]
    if p == 0 and not mask.all():
        return "with p = 0 every unit must be kept (mask all True)"
    if x.size >= 10_000:
        rows = mask.reshape(len(mask), -1)
        if (rows == rows[0]).all():
            return (
                "every example in the batch gets the same mask: each unit of each example is "
                "dropped on its own, so draw one number per entry of x, rng.random(x.shape)"
            )
        kept = rows.sum(axis=1)
        if (kept == kept[0]).all():
            return (
                f"every example keeps exactly {kept[0]} of its {rows.shape[1]} units: each unit "
                "is kept on its own with probability 1 - p (rng.random(x.shape) >= p), so the "
                "number kept varies from example to example"
            )
        rate = mask.mean()
        if abs(rate - (1 - p)) > 0.01:
            return (
                f"the mask keeps {rate:.1%} of the units with p = {p}: it should keep about "
                f"{1 - p:.0%} (each unit is dropped with probability p)"
            )
        again = fn(*copy.deepcopy(case.args))
        if not np.array_equal(again[1], mask):
            return (
                "a second call with the same seeded rng gives another mask: draw the random "
                "numbers from the rng argument (e.g. rng.random(x.shape)), not from np.random"
            )
        other = fn(x.copy(), p, np.random.default_rng(12345))
        if np.array_equal(other[1], mask):
            return "a differently seeded rng gives the same mask: draw the mask from rng"
    return None


def _keeps_with_p(x, p, mask) -> bool:
    if p == 0:
        return not mask.any()
    rate = mask.mean()
    return x.size >= 10_000 and abs(rate - p) < 0.01 and abs(rate - (1 - p)) > 0.01


def _scaled(y, x, mask, factor):
    return y.shape == x.shape and np.allclose(y, x * mask * factor, rtol=1e-9, atol=0)


DROPOUT_FORWARD = Exercise(
    name="dropout_forward",
    params="x, p, rng",
    returns="(y, mask)",
    doc="""\
Inverted dropout while training. x : any shape, p : the probability of dropping a unit, in
[0, 1), rng : a np.random.Generator to draw from (and only from it, so that a seeded rng gives
the same mask every time). Returns y of the shape of x, and mask, a boolean array of that
shape, True where the unit is kept. Each unit is kept with probability 1 - p, independently of
the others (one draw per entry of x), and kept units are scaled by 1 / (1 - p), so that the
expected value of y is x and the layer needs no change at test time: y = x * mask / (1 - p).
Leave x unchanged.""",
    outputs=(("y", "array"), ("mask", "mask")),
    cases=_dropout_cases,
    reference=dropout_forward_reference,
    expected=_dropout_expected,
    extra=_dropout_extra,
    mistakes=(
        Mistake(
            "the kept units are not scaled by 1 / (1 - p): inverted dropout scales while "
            "training, so that testing needs no change",
            explains=lambda args, out: _scaled(out[0], args[0], out[1], 1.0),
        ),
        Mistake(
            "scaled by (1 - p) instead of 1 / (1 - p): multiplying by (1 - p) is what the "
            "original dropout does at test time; inverted dropout divides while training",
            explains=lambda args, out: _scaled(out[0], args[0], out[1], 1.0 - args[1]),
        ),
        Mistake(
            "the mask is inverted: y keeps the units where mask is False; mask is True where "
            "the unit is kept",
            explains=lambda args, out: _scaled(out[0], args[0], ~out[1], 1.0 / (1.0 - args[1])),
        ),
        Mistake(
            "the mask keeps units with probability p: p is the probability of dropping one "
            "(keep = rng.random(x.shape) >= p)",
            explains=lambda args, out: _keeps_with_p(args[0], args[1], out[1]),
        ),
        Mistake(
            "the mask must be boolean: keep = rng.random(x.shape) >= p gives True/False",
            explains=lambda args, out: (
                isinstance(out[1], np.ndarray)
                and out[1].dtype != bool
                and np.isin(out[1], (0, 1)).all()
            ),
        ),
    ),
)

# --------------------------------------------------------------------------------------------
# dropout_backward


def dropout_backward_reference(dy, mask, p):
    """dx = dy * mask / (1 - p): the same mask and scale as the forward pass."""
    return dy * mask / (1.0 - p)


def _dropout_gradient(dy, mask, p):
    x = np.random.default_rng(0).standard_normal(dy.shape)

    def loss():
        return float(np.sum(dy * x * mask / (1.0 - p)))

    return (numerical_gradient(loss, x),)


def _dropout_backward_cases():
    rng = np.random.default_rng(340)
    table = [
        ("p = 0.5 on (4, 50)", (4, 50), 0.5, 1.0),
        ("p = 0.2 on feature maps (2, 3, 4, 5)", (2, 3, 4, 5), 0.2, 1.0),
        ("p = 0: nothing dropped", (3, 10), 0.0, 1.0),
        ("p = 0.9: most units dropped", (5, 40), 0.9, 1.0),
        ("small gradients (dy about 1e-6), p = 0.3", (6, 7), 0.3, 1e-6),
    ]
    return [
        Case(
            label,
            (scale * rng.standard_normal(shape), rng.random(shape) >= p, p),
            numeric=int(np.prod(shape)) <= 50,
        )
        for label, shape, p, scale in table
    ]


DROPOUT_BACKWARD = Exercise(
    name="dropout_backward",
    params="dy, mask, p",
    returns="dx",
    doc="""\
Gradient of the loss through inverted dropout y = x * mask / (1 - p), given dy = dL/dy.
dy : any shape, mask : the boolean keep mask of the forward pass (same shape, True where the
unit was kept), p : the drop probability in [0, 1). Returns dx of the shape of dy: dropped units
get 0 and kept ones dy / (1 - p), the same scale as the forward pass. Leave dy and mask
unchanged.""",
    outputs=(("dx", "array"),),
    cases=_dropout_backward_cases,
    reference=dropout_backward_reference,
    gradient=_dropout_gradient,
    mistakes=(
        Mistake(
            "dx is not scaled by 1 / (1 - p): the backward pass scales like the forward pass",
            variant=lambda dy, mask, p: dy * mask,
        ),
        Mistake(
            "the mask is not applied: dropped units get no gradient",
            variant=lambda dy, mask, p: dy / (1.0 - p),
        ),
        Mistake(
            "scaled by (1 - p) instead of 1 / (1 - p)",
            variant=lambda dy, mask, p: dy * mask * (1.0 - p),
        ),
        Mistake(
            "scaled by 1 / p instead of 1 / (1 - p): p is the drop probability",
            variant=lambda dy, mask, p: dy * mask / p,
        ),
        Mistake(
            "the mask is inverted: the gradient flows where mask is True (the kept units)",
            variant=lambda dy, mask, p: dy * ~mask / (1.0 - p),
        ),
    ),
)

EXERCISES = {
    e.name: e
    for e in (NCHW_TO_NHWC_ROWS, DROPOUT_FORWARD, DROPOUT_BACKWARD, DENSE_BACKWARD, RELU_BACKWARD)
}
