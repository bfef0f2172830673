"""The loop-by-loop references against small cases worked out by hand, and numerical gradients."""

import numpy as np

from cnn_lib import naive
from cnn_lib.gradcheck import numerical_gradient


def test_conv_by_hand():
    # The worked example of the convolution chapter: a 3x3 input and a 2x2 kernel.
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1 2 3] [4 5 6] [7 8 9]]
    W = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    y = naive.conv2d_forward_naive(x, W, np.array([0.5]))
    # 1 - 5, 2 - 6, 4 - 8, 5 - 9, each plus 0.5; no kernel flip (cross-correlation).
    np.testing.assert_array_equal(y, [[[[-3.5, -3.5], [-3.5, -3.5]]]])


def test_conv_padding_and_stride_by_hand():
    x = np.ones((1, 1, 3, 3))
    W = np.ones((1, 1, 3, 3))
    y = naive.conv2d_forward_naive(x, W, np.zeros(1), stride=2, padding=1)
    # Windows at the four corners of the padded 5x5 input each cover a 2x2 block of ones.
    np.testing.assert_array_equal(y, [[[[4.0, 4.0], [4.0, 4.0]]]])


def test_pool_by_hand():
    x = np.array([[[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]]]])
    np.testing.assert_array_equal(naive.maxpool2d_forward_naive(x, 2), [[[[4.0, 5.0]]]])
    np.testing.assert_array_equal(naive.avgpool2d_forward_naive(x, 2), [[[[2.5, 1.75]]]])


def test_conv_backward_naive_matches_numerical_gradient(rng):
    x = rng.standard_normal((2, 2, 5, 4))
    W = rng.standard_normal((3, 2, 2, 3))
    b = rng.standard_normal(3)
    stride, padding = (2, 1), (1, 2)
    y = naive.conv2d_forward_naive(x, W, b, stride, padding)
    g = rng.standard_normal(y.shape)

    def loss():
        return np.sum(naive.conv2d_forward_naive(x, W, b, stride, padding) * g)

    dx, dW, db = naive.conv2d_backward_naive(g, x, W, stride, padding)
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dW, numerical_gradient(loss, W), rtol=1e-6, atol=1e-8)
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
