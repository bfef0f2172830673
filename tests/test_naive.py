"""The loop-by-loop references against small cases worked out by hand, and numerical gradients."""

import numpy as np
import pytest

from cnn_lib import naive
from cnn_lib.gradcheck import numerical_gradient


def test_conv_by_hand():
    # The worked example of the convolution chapter: a 3x3 input and a 2x2 kernel.
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1 2 3] [4 5 6] [7 8 9]]
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    y = naive.conv2d_forward_naive(x, w, np.array([0.5]))
    # 1 - 5, 2 - 6, 4 - 8, 5 - 9, each plus 0.5; no kernel flip (cross-correlation).
    np.testing.assert_array_equal(y, [[[[-3.5, -3.5], [-3.5, -3.5]]]])


def test_conv_padding_and_stride_by_hand():
    x = np.ones((1, 1, 3, 3))
    w = np.ones((1, 1, 3, 3))
    y = naive.conv2d_forward_naive(x, w, np.zeros(1), stride=2, padding=1)
    # Windows at the four corners of the padded 5x5 input each cover a 2x2 block of ones.
    np.testing.assert_array_equal(y, [[[[4.0, 4.0], [4.0, 4.0]]]])


def test_pool_by_hand():
    x = np.array([[[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]]]])
    np.testing.assert_array_equal(naive.maxpool2d_forward_naive(x, 2), [[[[4.0, 5.0]]]])
    np.testing.assert_array_equal(naive.avgpool2d_forward_naive(x, 2), [[[[2.5, 1.75]]]])


def test_conv_backward_naive_matches_numerical_gradient(rng):
    x = rng.standard_normal((2, 2, 5, 4))
    w = rng.standard_normal((3, 2, 2, 3))
    b = rng.standard_normal(3)
    stride, padding = (2, 1), (1, 2)
    y = naive.conv2d_forward_naive(x, w, b, stride, padding)
    g = rng.standard_normal(y.shape)

    def loss():
        return np.sum(naive.conv2d_forward_naive(x, w, b, stride, padding) * g)

    dx, dw, db = naive.conv2d_backward_naive(g, x, w, stride, padding)
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dw, numerical_gradient(loss, w), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, numerical_gradient(loss, b), rtol=1e-6, atol=1e-8)


def test_pool_backward_naive_matches_numerical_gradient(rng):
    x = rng.standard_normal((1, 2, 5, 5))
    for forward, backward in [
        (naive.maxpool2d_forward_naive, naive.maxpool2d_backward_naive),
        (naive.avgpool2d_forward_naive, naive.avgpool2d_backward_naive),
    ]:
        g = rng.standard_normal(forward(x, 3, 1).shape)
        numeric = numerical_gradient(lambda f=forward, g=g: np.sum(f(x, 3, 1) * g), x)
        np.testing.assert_allclose(backward(g, x, 3, 1), numeric, rtol=1e-6, atol=1e-8)


def test_integer_arrays_are_computed_in_float64_without_wrapping_around():
    """uint8 images and kernels, typed as whole numbers: every product and sum would wrap at 256
    in uint8 (and a mean of 1.75 would round); the references compute in float64 instead."""
    x = (np.arange(32, dtype=np.uint8) * 8).reshape(1, 2, 4, 4)  # up to 248
    w = np.full((1, 2, 3, 3), 2, dtype=np.uint8)
    b = np.array([7], dtype=np.uint8)
    dy = np.full((1, 1, 2, 2), 3, dtype=np.uint8)
    as_float = {name: a.astype(np.float64) for name, a in {"x": x, "w": w, "b": b}.items()}
    y = naive.conv2d_forward_naive(x, w, b)
    assert y.dtype == np.float64 and y.max() > 255
    np.testing.assert_array_equal(y, naive.conv2d_forward_naive(**as_float))
    for got, want in zip(
        naive.conv2d_backward_naive(dy, x, w),
        naive.conv2d_backward_naive(dy.astype(float), as_float["x"], as_float["w"]),
        strict=True,
    ):
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, want)
    xp = x[:, :1].astype(np.int64) - 100  # negative integers too
    for forward, backward in [
        (naive.maxpool2d_forward_naive, naive.maxpool2d_backward_naive),
        (naive.avgpool2d_forward_naive, naive.avgpool2d_backward_naive),
    ]:
        np.testing.assert_array_equal(forward(xp, 2), forward(xp.astype(float), 2))
        g = np.array([[[[1, 2], [3, 4]]]])
        np.testing.assert_array_equal(backward(g, xp, 2), backward(g * 1.0, xp * 1.0, 2))
    assert naive.avgpool2d_forward_naive(np.array([[[[0, 1], [2, 4]]]]), 2)[0, 0, 0, 0] == 1.75


def test_complex_numbers_are_refused():
    with pytest.raises(TypeError, match="expected arrays as real numbers .* got dtype complex128"):
        naive.maxpool2d_forward_naive(np.ones((1, 1, 2, 2), complex), 2)
