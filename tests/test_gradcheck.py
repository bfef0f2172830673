"""The gradient checker itself: right on known derivatives, and loud on a wrong backward pass."""

import numpy as np

from cnn_lib.gradcheck import check_gradients, gradient_errors, numerical_gradient, relative_error
from cnn_lib.layers import Dense, ReLU


def test_numerical_gradient_of_a_known_function(rng):
    x = rng.standard_normal((3, 4))
    grad = numerical_gradient(lambda: float(np.sum(np.sin(x) * x)), x)
    np.testing.assert_allclose(grad, np.cos(x) * x + np.sin(x), rtol=1e-7, atol=1e-9)


def test_numerical_gradient_restores_its_input(rng):
    x = rng.standard_normal(5)
    kept = x.copy()
    numerical_gradient(lambda: float(np.sum(x**2)), x)
    np.testing.assert_array_equal(x, kept)


def test_relative_error_scale():
    a = np.array([1.0, 2.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(a, -a) == 1.0
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0


class _BrokenReLU(ReLU):
    """A ReLU whose backward forgets the mask: the checker must catch it."""

    def backward(self, dy):
        return dy


class _BrokenDense(Dense):
    """A Dense layer whose weight gradient has the wrong sign."""

    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["W"] = -self.grads["W"]
        return dx


def test_wrong_gradients_are_caught(rng):
    x = rng.standard_normal((4, 6))
    assert check_gradients(ReLU(), x) < 1e-8
    assert check_gradients(_BrokenReLU(), x) > 0.1
    errors = gradient_errors(_BrokenDense(6, 3, rng=rng, dtype=np.float64), x)
    assert errors["x"] < 1e-8 and errors["W"] > 0.5


def test_layer_is_left_untouched(rng):
    layer = Dense(3, 2, rng=rng, dtype=np.float64)
    W = layer.params["W"].copy()
    check_gradients(layer, rng.standard_normal((2, 3)))
    np.testing.assert_array_equal(layer.params["W"], W)
    assert layer.grads == {}
