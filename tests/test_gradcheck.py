"""The gradient checker itself: right on known derivatives, and loud on a wrong backward pass."""

import re

import numpy as np
import pytest

from cnn_lib.gradcheck import check_gradients, gradient_errors, numerical_gradient, relative_error
from cnn_lib.layers import AvgPool2D, Conv2D, Dense, Dropout, MaxPool2D, ReLU


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
        self.grads["w"] = -self.grads["w"]
        return dx


def test_wrong_gradients_are_caught(rng):
    x = rng.standard_normal((4, 6))
    assert check_gradients(ReLU(), x) < 1e-8
    assert check_gradients(_BrokenReLU(), x) > 0.1
    errors = gradient_errors(_BrokenDense(6, 3, rng=rng, dtype=np.float64), x)
    assert errors["x"] < 1e-8 and errors["w"] > 0.5


def test_a_layer_without_input_gradient_has_its_parameters_checked(rng):
    """Conv2D(input_grad=False) returns no dx: its weights and bias are still checked, against
    the same layer built with input_grad=True, and a wrong weight gradient is still caught."""
    x = rng.standard_normal((2, 2, 5, 5))
    first = Conv2D(2, 3, 3, padding=1, rng=np.random.default_rng(4), input_grad=False)
    twin = Conv2D(2, 3, 3, padding=1, rng=np.random.default_rng(4))
    errors = gradient_errors(first, x)
    assert set(errors) == {"w", "b"} and max(errors.values()) < 1e-7
    assert errors == {k: v for k, v in gradient_errors(twin, x).items() if k != "x"}

    class WrongSign(Conv2D):
        def backward(self, dy):
            dx = super().backward(dy)
            self.grads["w"] = -self.grads["w"]
            return dx

    wrong = WrongSign(2, 3, 3, rng=np.random.default_rng(4), input_grad=False)
    assert gradient_errors(wrong, x)["w"] > 0.5


def test_a_backward_that_forgets_to_return_dx_is_refused(rng):
    class NoReturn(ReLU):
        def backward(self, dy):
            super().backward(dy)

    with pytest.raises(TypeError, match=r"returned None instead of dx \(a missing return\?\)"):
        gradient_errors(NoReturn(), rng.standard_normal((2, 3)))


def test_a_dx_returned_by_a_layer_built_without_input_gradient_is_still_checked(rng):
    class WrongDx(ReLU):
        input_grad = False  # says it returns no dx, but returns a wrong one

        def backward(self, dy):
            return -super().backward(dy)

    assert gradient_errors(WrongDx(), rng.standard_normal((2, 3)))["x"] > 0.5


def test_a_layer_with_nothing_to_check_is_refused(rng):
    class Silent(ReLU):
        input_grad = False

        def backward(self, dy):
            return None

    with pytest.raises(ValueError, match="returns no dx and has no parameters"):
        check_gradients(Silent(), rng.standard_normal((2, 3)))


def test_a_sequential_is_refused_with_a_pointer_to_its_layers(rng):
    from cnn_lib.model import Sequential

    model = Sequential([Dense(3, 2, rng=rng, dtype=np.float64), ReLU()])
    with pytest.raises(TypeError, match="got Sequential; check a Sequential's layers one by one"):
        gradient_errors(model, rng.standard_normal((2, 3)))


def test_layer_is_left_untouched(rng):
    layer = Dense(3, 2, rng=rng, dtype=np.float64)
    w = layer.params["w"].copy()
    check_gradients(layer, rng.standard_normal((2, 3)))
    np.testing.assert_array_equal(layer.params["w"], w)
    assert layer.grads == {}


# ----- float32 layers, and arrays the check cannot use ---------------------------------------


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda rng: Conv2D(3, 4, 3, padding=1, rng=rng), (2, 3, 6, 6)),
        (lambda rng: Dense(6, 3, rng=rng), (4, 6)),
        (lambda rng: ReLU(), (4, 6)),
        (lambda rng: MaxPool2D(2), (2, 3, 6, 6)),
        (lambda rng: AvgPool2D(2), (2, 3, 6, 6)),
        (lambda rng: Dropout(0.3, rng=rng), (4, 6)),
    ],
    ids=["conv", "dense", "relu", "maxpool", "avgpool", "dropout"],
)
def test_a_float32_layer_is_checked_in_float64_and_left_as_it_was(make, shape, rng):
    """Checked in float32 itself, these right layers showed relative errors of 0.01 to 0.3, as
    large as a wrong layer's; the float64 copy shows the formulas' agreement, ~1e-10."""
    layer = make(rng)
    before = {k: v.copy() for k, v in layer.params.items()}
    x = rng.standard_normal(shape).astype(np.float32)
    assert check_gradients(layer, x, training=True) < 1e-7
    for key, value in layer.params.items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, before[key])
    assert layer.grads == {}


def test_a_wrong_float32_layer_is_still_caught(rng):
    x = rng.standard_normal((4, 6)).astype(np.float32)
    assert check_gradients(_BrokenReLU(), x) > 0.1
    assert gradient_errors(_BrokenDense(6, 3, rng=rng), x)["w"] > 0.5


class _Float32Inside(ReLU):
    """A layer that computes in float32 whatever it is given: it cannot be checked in float64."""

    def forward(self, x, training=False):
        return super().forward(x.astype(np.float32), training)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: gradient_errors(ReLU(), np.ones((2, 3), np.int64)), TypeError, "got dtype int64"),
        (lambda: gradient_errors(ReLU(), [[1.0]]), TypeError, "floating point input x, got list"),
        (
            lambda: gradient_errors(_Float32Inside(), np.ones((2, 3))),
            TypeError,
            "gives float32 for float64 parameters and input",
        ),
        (
            lambda: numerical_gradient(lambda: 0.0, np.ones(3, np.float32)),
            TypeError,
            "expected x as a float64 array, got dtype float32: in float32, f(x + eps) - "
            "f(x - eps) is mostly rounding error",
        ),
        (lambda: numerical_gradient(lambda: 0.0, np.ones(3, np.int64)), TypeError, "dtype int64"),
        (lambda: numerical_gradient(lambda: 0.0, [1.0]), TypeError, "float64 array, got list"),
        (
            lambda: relative_error(np.ones(3), np.ones((3, 1))),
            ValueError,
            "a and b of the same shape, got (3,) and (3, 1)",
        ),
        (lambda: relative_error(np.ones(2), np.array(["a", "b"])), TypeError, "dtype <U1"),
    ],
)
def test_arrays_the_check_cannot_use_are_refused(call, error, words):
    with pytest.raises(error, match=re.escape(words)):
        call()


def test_numerical_gradient_nudges_x_itself_whatever_its_strides(rng):
    """A transposed x: reshape(-1) would copy it, and nudging the copy would leave f unmoved."""
    x = rng.standard_normal((4, 3)).T
    grad = numerical_gradient(lambda: float(np.sum(np.arange(12).reshape(3, 4) * x**2)), x)
    np.testing.assert_allclose(grad, 2 * np.arange(12).reshape(3, 4) * x, rtol=1e-7, atol=1e-9)


def test_relative_error_of_integers_does_not_wrap_around():
    a, b = np.array([1], np.uint8), np.array([2], np.uint8)  # in uint8, 1 - 2 is 255
    assert relative_error(a, b) == pytest.approx(1 / 3)
    assert relative_error(np.array([True, False]), np.array([1.0, 0.0])) == 0.0


class _NanWeights(Dense):
    """A Dense layer whose weight gradient is nan."""

    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["w"] = np.full_like(self.grads["w"], np.nan)
        return dx


def test_a_nan_gradient_is_not_hidden_by_the_worst_error(rng):
    layer = _NanWeights(4, 3, rng=rng, dtype=np.float64)
    assert np.isnan(gradient_errors(layer, rng.standard_normal((2, 4)))["w"])
    assert np.isnan(check_gradients(layer, rng.standard_normal((2, 4))))


class _Plain:
    """A layer that is not a cnn_lib Layer: no astype, float32 parameters."""

    def __init__(self, rng):
        self.params = {"w": rng.standard_normal((3, 2)).astype(np.float32)}
        self.grads = {}

    def forward(self, x, training=False):
        self.x = x
        return x @ self.params["w"]

    def backward(self, dy):
        self.grads["w"] = self.x.T @ dy
        return dy @ self.params["w"].T


def test_an_object_without_astype_is_checked_in_float64(rng):
    errors = gradient_errors(_Plain(rng), rng.standard_normal((2, 3)).astype(np.float32))
    assert set(errors) == {"x", "w"} and max(errors.values()) < 1e-7


class _WrongShapeDx(ReLU):
    def backward(self, dy):
        return super().backward(dy).T


class _NoWeightGradient(Dense):
    def backward(self, dy):
        dx = super().backward(dy)
        del self.grads["w"]
        return dx


class _ParameterNamedX(Dense):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params["x"] = self.params.pop("w")


@pytest.mark.parametrize(
    "make, x_shape, kwargs, error, words",
    [
        (lambda r: ReLU(), (0, 4), {}, ValueError, "x of shape (0, 4) holds no numbers"),
        (lambda r: ReLU(), (2, 3), {"eps": 0}, ValueError, "eps must lie in (0.0, inf), got 0"),
        (lambda r: ReLU(), (2, 3), {"eps": 10**400}, ValueError, "must lie in (0.0, inf), got inf"),
        (lambda r: ReLU(), (2, 3), {"eps": True}, TypeError, "eps must be a number, got True"),
        (lambda r: ReLU(), (2, 3), {"eps": "1e-6"}, TypeError, "eps must be a number, got '1e-6'"),
        (lambda r: _WrongShapeDx(), (2, 3), {}, ValueError, "gave dx of shape (3, 2), expected"),
        (
            lambda r: _NoWeightGradient(3, 2, rng=r, dtype=np.float64),
            (2, 3),
            {},
            TypeError,
            "backward did not fill grads['w']",
        ),
        (
            lambda r: _ParameterNamedX(3, 2, rng=r, dtype=np.float64),
            (2, 3),
            {},
            ValueError,
            "has a parameter named 'x'",
        ),
    ],
    ids=[
        "empty-x",
        "eps-0",
        "eps-huge",
        "eps-bool",
        "eps-str",
        "dx-transposed",
        "grads-missing",
        "parameter-named-x",
    ],
)
def test_what_the_check_cannot_judge_is_refused(make, x_shape, kwargs, error, words, rng):
    with pytest.raises(error, match=re.escape(words)):
        gradient_errors(make(rng), rng.standard_normal(x_shape), **kwargs)


def test_eps_may_be_any_real_number_type(rng):
    x = rng.standard_normal((2, 3))
    for eps in (np.float32(1e-4), np.float64(1e-6), 1e-6):
        assert check_gradients(ReLU(), x, eps=eps) < 1e-6
