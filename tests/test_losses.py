"""Softmax and SoftmaxCrossEntropy: values, stability for huge logits, gradient, bad labels."""

import numpy as np
import pytest

from cnn_lib.gradcheck import numerical_gradient, relative_error
from cnn_lib.losses import SoftmaxCrossEntropy, log_softmax, softmax


def test_softmax_rows_sum_to_one_and_match_the_definition(rng):
    z = rng.standard_normal((5, 4))
    p = softmax(z)
    np.testing.assert_allclose(p, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_loss_by_hand():
    # Uniform logits over 4 classes: the loss is log 4 whatever the label.
    loss = SoftmaxCrossEntropy()
    assert loss.forward(np.zeros((3, 4)), np.array([0, 1, 3])) == pytest.approx(np.log(4))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_give_finite_loss_and_gradient(dtype):
    logits = np.array([[5000.0, 0.0, -5000.0], [1000.0, 1001.0, 999.0]], dtype=dtype)
    loss = SoftmaxCrossEntropy()
    value = loss.forward(logits, np.array([1, 1]))
    # Row 1: the true class is 5000 below the best (loss 5000); row 2: log(1 + e^-1 + e^-2).
    expected = (5000.0 + np.log(1 + np.exp(-1) + np.exp(-2))) / 2
    assert np.isfinite(value) and value == pytest.approx(expected, rel=1e-6)
    d = loss.backward()
    assert np.all(np.isfinite(d)) and d.dtype == dtype
    assert np.all(np.isfinite(log_softmax(logits)))


def test_gradient_is_softmax_minus_onehot_over_n(rng):
    logits = rng.standard_normal((6, 5))
    labels = rng.integers(0, 5, 6)
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, labels)
    analytic = loss.backward()
    onehot = np.eye(5)[labels]
    np.testing.assert_allclose(analytic, (softmax(logits) - onehot) / 6)
    numeric = numerical_gradient(lambda: SoftmaxCrossEntropy().forward(logits, labels), logits)
    assert relative_error(analytic, numeric) < 1e-8


def test_backward_leaves_no_trace_on_inputs(rng):
    logits = rng.standard_normal((2, 3))
    kept = logits.copy()
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, np.array([0, 2]))
    loss.backward()
    np.testing.assert_array_equal(logits, kept)


@pytest.mark.parametrize(
    "logits, labels, error, words",
    [
        (
            np.zeros((2, 3)),
            np.array([0.0, 1.0]),
            TypeError,
            "integer class labels, got dtype float64",
        ),
        (
            np.zeros((2, 3)),
            np.array([0, 3]),
            ValueError,
            r"labels must lie in \[0, 2\] for 3 classes, got 3",
        ),
        (np.zeros((2, 3)), np.array([-1, 0]), ValueError, "got -1"),
        (np.zeros((2, 3)), np.array([0, 1, 2]), ValueError, r"labels of shape \(2,\)"),
        (np.zeros(3), np.array([0]), ValueError, r"logits of shape \(N, K\)"),
        (np.zeros((2, 3), dtype=int), np.array([0, 1]), TypeError, "float array"),
        (
            np.zeros((0, 3)),
            np.zeros(0, int),
            ValueError,
            r"at least one example and one class, got logits of shape \(0, 3\) \(the mean "
            "over an empty batch is undefined\\)",
        ),
        (
            np.zeros((2, 0)),
            np.zeros(2, int),
            ValueError,
            r"one class, got logits of shape \(2, 0\)$",
        ),
    ],
)
def test_bad_input_is_rejected(logits, labels, error, words):
    with pytest.raises(error, match=words):
        SoftmaxCrossEntropy().forward(logits, labels)


def test_backward_before_forward():
    with pytest.raises(RuntimeError, match="before forward"):
        SoftmaxCrossEntropy().backward()


def test_integer_logits_are_computed_in_float64():
    """In uint8, z - z.max() wraps around (1 - 3 is 254): softmax gave [[0, 0, 0]] and
    log_softmax -inf. Integers are computed in float64, as np.exp computes them."""
    z = np.array([[1, 2, 3]], np.uint8)
    np.testing.assert_allclose(softmax(z), [[0.09003057, 0.24472847, 0.66524096]], rtol=1e-7)
    np.testing.assert_allclose(log_softmax(z), [[-2.40760596, -1.40760596, -0.40760596]])
    for dtype in (np.int8, np.int64, np.uint16, np.bool_):
        zi = np.array([[1, 0, 1], [0, 1, 1]], dtype=dtype)
        assert log_softmax(zi).dtype == np.float64
        np.testing.assert_array_equal(log_softmax(zi), log_softmax(zi.astype(np.float64)))
        np.testing.assert_array_equal(softmax(zi), softmax(zi.astype(np.float64)))
    assert softmax(np.zeros(3, np.float32)).dtype == np.float32  # floats keep their dtype


@pytest.mark.parametrize(
    "z, error, words",
    [
        (
            np.zeros((2, 0)),
            ValueError,
            r"expected logits z of shape \(..., K\) with K >= 1, got \(2, 0\)",
        ),
        (np.float64(1.0), ValueError, r"expected logits z .* with K >= 1, got \(\)"),
        (np.ones(3, complex), TypeError, "expected logits z as real numbers"),
    ],
)
def test_softmax_rejects_what_it_cannot_compute(z, error, words):
    for f in (softmax, log_softmax):
        with pytest.raises(error, match=f"{f.__name__}: {words}"):
            f(z)
