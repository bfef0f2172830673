"""Checkers for the cross-entropy chapter: log_softmax and the gradient of the mean loss.

References are the formulas: log_softmax(z) = z - z_max - log(sum(exp(z - z_max))), with z_max
the row's maximum, and d(mean cross-entropy)/dz = (softmax(z) - onehot(t)) / N.
"""

from __future__ import annotations

import numpy as np

from ..gradcheck import numerical_gradient
from ._runner import Case, Exercise, Mistake


def log_softmax_reference(z):
    """z - z_max - log(sum(exp(z - z_max))) along axis 1, z_max the row's maximum.

    Every exponent is then <= 0, so nothing overflows.
    """
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy_backward_reference(z, t):
    """(softmax(z) - onehot(t)) / N: the gradient of the mean of -log softmax(z)[n, t[n]]."""
    N = z.shape[0]
    dz = np.exp(log_softmax_reference(z))
    dz[np.arange(N), t] -= 1.0
    return dz / N


_HUGE = np.array(
    [
        [1e4, -1e4, 0.0, 2.5e3],
        [-1e4, -1e4, -1e4, -9999.0],
        [1e4, 1e4, -1e4, 0.0],
    ]
)


def _logit_table(rng):
    """(label, z, numeric) for both checkers: ordinary logits first, then the hard ones."""
    spread = rng.standard_normal((2, 5))
    spread[1] = 1e4 + 100 * spread[1]
    confident = rng.standard_normal((4, 4))
    return [
        ("random logits, 4 examples, 5 classes", rng.standard_normal((4, 5)), True),
        ("as many classes as examples", 3 * rng.standard_normal((5, 5)), True),
        ("logits in the thousands", 1000 * rng.standard_normal((3, 6)), False),
        ("logits of +-1e4", _HUGE.copy(), False),
        ("rows of very different size (about 1 and about 1e4)", spread, False),
        ("batch of one", rng.standard_normal((1, 4)), True),
        ("confident right predictions (gradients about 1e-6)", confident, False),
    ]


# --------------------------------------------------------------------------------------------
# log_softmax


def _log_softmax_cases():
    rng = np.random.default_rng(400)
    cases = [Case(label, (z,)) for label, z, _ in _logit_table(rng)[:6]]
    cases.append(Case("one class (log-probability 0)", (rng.standard_normal((3, 1)),)))
    return cases


def _log_softmax_naive(z):
    e = np.exp(z)
    return np.log(e / e.sum(axis=1, keepdims=True))


def _log_of_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.log(e / e.sum(axis=1, keepdims=True))


def _log_softmax_no_keepdims(z):
    z_max = z.max(axis=1)
    return z - z_max - np.log(np.sum(np.exp(z - z_max), axis=1))


LOG_SOFTMAX = Exercise(
    name="log_softmax",
    params="z",
    returns="log_p",
    doc="""\
Log-probabilities of a batch of logits: log(softmax(z)) along the class axis. z : (N, K), one
row of K logits per example. Returns log_p : (N, K), with
log_p[n, m] = z[n, m] - log(sum over m' of exp(z[n, m'])). It must stay finite for logits up to
+-1e4: exp(1e4) overflows, so subtract each row's maximum z_max first,
log_p = (z - z_max) - log(sum(exp(z - z_max))), which changes nothing mathematically.
Leave z unchanged.""",
    outputs=(("log_p", "array"),),
    cases=_log_softmax_cases,
    reference=log_softmax_reference,
    mistakes=(
        Mistake(
            "softmax without subtracting the max overflows: exp(1000) is inf in float64, and "
            "inf / inf is nan; subtract each row's maximum before exp",
            variant=_log_softmax_naive,
        ),
        Mistake(
            "log(sum(exp(z))) without the max overflows: exp(1000) is inf, and z - inf is -inf; "
            "subtract each row's maximum z_max first, (z - z_max) - log(sum(exp(z - z_max)))",
            variant=lambda z: z - np.log(np.exp(z).sum(axis=1, keepdims=True)),
        ),
        Mistake(
            "log(softmax(z)) underflows: exp(z - z_max) is 0 for logits far below the maximum and "
            "log(0) = -inf; compute (z - z_max) - log(sum(exp(z - z_max))) directly",
            variant=_log_of_softmax,
        ),
        Mistake(
            "along the wrong axis: the classes are axis 1 (each row sums to probability 1)",
            variant=lambda z: log_softmax_reference(z.T).T,
        ),
        Mistake(
            "the max subtracted inside the exponent must come off z too: "
            "(z - z_max) - log(sum(exp(z - z_max)))",
            variant=lambda z: (
                z - np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True))
            ),
        ),
        Mistake(
            "the max must be taken per row, z.max(axis=1, keepdims=True): one row's large "
            "logits make exp underflow to 0 in the other rows",
            variant=lambda z: z - z.max() - np.log(np.exp(z - z.max()).sum(axis=1, keepdims=True)),
        ),
        Mistake(
            "keepdims=True is missing: an (N,) max or sum broadcasts against (N, K) along the "
            "wrong axis (or not at all); keep it (N, 1)",
            variant=_log_softmax_no_keepdims,
        ),
    ),
)

# --------------------------------------------------------------------------------------------
# cross_entropy_backward


def _cross_entropy_cases():
    rng = np.random.default_rng(410)
    cases = []
    for label, z, numeric in _logit_table(rng):
        N, K = z.shape
        t = rng.integers(0, K, N)
        if label.startswith("as many"):
            t[1] = t[0]  # a repeated label
        if label.startswith("confident"):
            z[np.arange(N), t] += 14.0  # softmax(z)[n, t[n]] close to 1
        cases.append(Case(label, (z, t), numeric=numeric))
    return cases


def _cross_entropy_gradient(z, t):
    N = z.shape[0]

    def loss():
        return float(-log_softmax_reference(z)[np.arange(N), t].mean())

    return (numerical_gradient(loss, z),)


def _softmax_naive(z, axis=1):
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _columns_minus_one(z, t):
    p = np.exp(log_softmax_reference(z))
    p[:, t] -= 1.0
    return p / len(z)


def _onehot(z, t):
    onehot = np.zeros_like(z)
    onehot[np.arange(len(z)), t] = 1.0
    return onehot


CROSS_ENTROPY_BACKWARD = Exercise(
    name="cross_entropy_backward",
    params="z, t",
    returns="dz",
    doc="""\
Gradient of the mean cross-entropy loss L = mean over n of -log softmax(z)[n, t[n]] with respect
to the logits. z : (N, K) float logits, t : (N,) integer labels in [0, K). Returns dz : (N, K) =
(softmax(z) - onehot(t)) / N, where onehot(t)[n, m] is 1 if m == t[n] and 0 otherwise; the
division by N comes from the mean over the batch. It must stay finite for logits up to +-1e4.
Leave z and t unchanged.""",
    outputs=(("dz", "array"),),
    cases=_cross_entropy_cases,
    reference=cross_entropy_backward_reference,
    gradient=_cross_entropy_gradient,
    mistakes=(
        Mistake(
            "the gradient of the mean loss over the batch: divide by the batch size N",
            variant=lambda z, t: cross_entropy_backward_reference(z, t) * len(z),
        ),
        Mistake(
            "divided by N * K: the loss is the mean over the batch (N), not over every entry",
            variant=lambda z, t: cross_entropy_backward_reference(z, t) / z.shape[1],
        ),
        Mistake(
            "softmax without subtracting the max overflows: exp(1000) is inf, and inf / inf is "
            "nan; subtract each row's maximum before exp",
            variant=lambda z, t: (_softmax_naive(z) - _onehot(z, t)) / len(z),
        ),
        Mistake(
            "the max must be taken per row, z.max(axis=1, keepdims=True): one row's large "
            "logits make exp underflow to 0 in the other rows, and 0 / 0 is nan",
            variant=lambda z, t: (_softmax_naive(z - z.max()) - _onehot(z, t)) / len(z),
        ),
        Mistake(
            "softmax along the wrong axis: the classes are axis 1",
            variant=lambda z, t: (
                (_softmax_naive(z - z.max(axis=0), axis=0) - _onehot(z, t)) / len(z)
            ),
        ),
        Mistake(
            "1 is subtracted from whole columns: subtract it only at [n, t[n]], with "
            "p[np.arange(N), t] -= 1",
            variant=_columns_minus_one,
        ),
        Mistake(
            "the sign is flipped: dz = (softmax(z) - onehot(t)) / N",
            variant=lambda z, t: -cross_entropy_backward_reference(z, t),
        ),
        Mistake(
            "the one-hot labels are not subtracted: dz = (softmax(z) - onehot(t)) / N",
            variant=lambda z, t: np.exp(log_softmax_reference(z)) / len(z),
        ),
    ),
)

EXERCISES = {e.name: e for e in (LOG_SOFTMAX, CROSS_ENTROPY_BACKWARD)}
