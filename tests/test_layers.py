"""Every layer of cnn_lib.layers: numerical gradient checks, behaviour, and errors on bad input."""

import itertools
import re

import numpy as np
import pytest

from cnn_lib import naive
from cnn_lib.gradcheck import check_gradients
from cnn_lib.layers import AvgPool2D, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU

TOL = 1e-7  # float64 central differences reach ~1e-10; a wrong gradient gives ~1e-1

# (N, C, H, W, F, kernel, stride, padding): several channels and batch sizes, rectangular inputs
# and kernels, strides 1 to 3, paddings 0 to 2 and "same".
CONV_GRID = [
    (1, 1, 5, 5, 1, 3, 1, 0),
    (2, 3, 7, 6, 4, 3, 1, 1),
    (3, 2, 8, 5, 3, (3, 2), 2, 2),
    (2, 2, 9, 7, 2, (2, 3), (3, 1), (1, 0)),
    (1, 3, 6, 9, 2, 5, 3, 2),
    (2, 2, 6, 5, 3, 3, 1, "same"),
    (2, 1, 5, 6, 2, (4, 2), 1, "same"),
    (1, 2, 6, 6, 2, 2, 2, "valid"),
]


@pytest.mark.parametrize("N, C, H, W, F, kernel, stride, padding", CONV_GRID)
def test_conv2d_gradients(N, C, H, W, F, kernel, stride, padding, rng):
    layer = Conv2D(C, F, kernel, stride, padding, rng=rng, dtype=np.float64)
    layer.params["b"] = rng.standard_normal(F)  # a non-zero bias is checked too
    assert check_gradients(layer, rng.standard_normal((N, C, H, W))) < TOL


@pytest.mark.parametrize("N, C, H, W, F, kernel, stride, padding", CONV_GRID)
def test_conv2d_layer_matches_naive(N, C, H, W, F, kernel, stride, padding, rng):
    layer = Conv2D(C, F, kernel, stride, padding, rng=rng, dtype=np.float64)
    x = rng.standard_normal((N, C, H, W))
    y = layer.forward(x)
    assert y.shape == layer.output_shape(x.shape)
    y_ref = naive.conv2d_forward_naive(x, layer.params["w"], layer.params["b"], stride, layer.pads)
    np.testing.assert_allclose(y, y_ref, atol=1e-12)


def test_same_padding_keeps_size(rng):
    for k in (1, 2, 3, 4, 5):
        layer = Conv2D(2, 3, k, padding="same", rng=rng)
        assert layer.forward(np.zeros((1, 2, 7, 6), np.float32)).shape == (1, 3, 7, 6)


def test_conv2d_without_input_gradient_returns_none_and_the_same_grads(rng):
    full = Conv2D(2, 3, 3, padding=1, rng=np.random.default_rng(0))
    first = Conv2D(2, 3, 3, padding=1, rng=np.random.default_rng(0), input_grad=False)
    x = rng.standard_normal((4, 2, 6, 6)).astype(np.float32)
    dy = rng.standard_normal((4, 3, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(first.forward(x), full.forward(x))
    assert full.backward(dy).shape == x.shape
    assert first.backward(dy) is None
    for key in ("w", "b"):
        np.testing.assert_array_equal(first.grads[key], full.grads[key])


def test_conv2d_input_grad_must_be_a_bool():
    with pytest.raises(TypeError, match="input_grad must be True or False, got 'no'"):
        Conv2D(1, 1, 3, input_grad="no")


POOL_GRID = list(itertools.product([MaxPool2D, AvgPool2D], [(2, None), (3, 1), ((2, 3), (1, 2))]))


@pytest.mark.parametrize("cls, sizes", POOL_GRID)
def test_pool_gradients(cls, sizes, rng):
    kernel, stride = sizes
    for shape in [(1, 1, 6, 6), (3, 2, 7, 5)]:
        assert check_gradients(cls(kernel, stride), rng.standard_normal(shape)) < TOL


@pytest.mark.parametrize("layer", [ReLU(), Flatten(), Dropout(0.0), Dropout(0.4)])
@pytest.mark.parametrize("training", [False, True])
def test_elementwise_gradients(layer, training, rng):
    assert check_gradients(layer, rng.standard_normal((3, 2, 4, 5)), training=training) < TOL


@pytest.mark.parametrize("N, fan_in, fan_out", [(1, 1, 1), (4, 5, 3), (7, 12, 10)])
def test_dense_gradients(N, fan_in, fan_out, rng):
    layer = Dense(fan_in, fan_out, rng=rng, dtype=np.float64)
    layer.params["b"] = rng.standard_normal(fan_out)
    assert check_gradients(layer, rng.standard_normal((N, fan_in))) < TOL


def test_dense_is_a_matrix_multiply(rng):
    layer = Dense(3, 2, rng=rng, dtype=np.float64)
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(layer.forward(x), x @ layer.params["w"] + layer.params["b"])


def test_backward_fills_grads_and_changes_no_parameter(rng):
    for layer, shape in [(Conv2D(2, 3, 3, rng=rng), (2, 2, 5, 5)), (Dense(4, 2, rng=rng), (3, 4))]:
        before = {k: v.copy() for k, v in layer.params.items()}
        y = layer.forward(rng.standard_normal(shape).astype(np.float32))
        layer.backward(np.ones_like(y))
        assert layer.grads.keys() == layer.params.keys()
        for k, v in layer.params.items():
            assert layer.grads[k].shape == v.shape and layer.grads[k].dtype == v.dtype
            np.testing.assert_array_equal(v, before[k])


def test_layers_without_parameters_have_empty_dicts():
    for layer in [MaxPool2D(2), AvgPool2D(2), Flatten(), Dropout(0.5), ReLU()]:
        assert layer.params == {} and layer.grads == {}


def test_float32_in_float32_out(rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    for layer in [
        Conv2D(3, 4, 3, padding=1, rng=rng),
        MaxPool2D(2),
        AvgPool2D(2),
        ReLU(),
        Dropout(0.5, rng=rng),
        Flatten(),
    ]:
        y = layer.forward(x, training=True)
        assert y.dtype == np.float32
        assert layer.backward(np.ones_like(y)).dtype == np.float32


def test_seed_reproduces_parameters():
    a = Conv2D(3, 8, 3, rng=np.random.default_rng(7))
    b = Conv2D(3, 8, 3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.params["w"], b.params["w"])
    assert a.params["w"].dtype == np.float32
    # He initialisation: variance 2 / fan_in.
    big = Conv2D(64, 256, 3, rng=np.random.default_rng(0))
    assert big.params["w"].var() == pytest.approx(2 / (64 * 9), rel=0.05)


def test_dropout_is_inverted_and_identity_at_evaluation(rng):
    x = np.ones((200, 500), dtype=np.float32)
    layer = Dropout(0.25, rng=rng)
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    y = layer.forward(x, training=True)
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.01)
    assert y.mean() == pytest.approx(1.0, abs=0.02)  # expectation preserved
    dx = layer.backward(np.ones_like(y))
    np.testing.assert_array_equal(dx, y)  # the same mask and scale


def test_relu_does_not_write_into_its_argument(rng):
    x = rng.standard_normal((3, 4))
    x_copy = x.copy()
    layer = ReLU()
    layer.forward(x)
    dy = rng.standard_normal((3, 4))
    dy_copy = dy.copy()
    layer.backward(dy)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(dy, dy_copy)


# ----- an empty batch ------------------------------------------------------------------------

EMPTY_BATCH_CASES = [
    pytest.param(lambda rng: Conv2D(2, 3, 3, rng=rng), (2, 5, 5), id="conv"),
    pytest.param(
        lambda rng: Conv2D(2, 3, (3, 2), stride=2, padding=1, rng=rng),
        (2, 6, 5),
        id="conv-stride-padding",
    ),
    pytest.param(lambda rng: Conv2D(2, 3, 3, padding="same", rng=rng), (2, 4, 4), id="conv-same"),
    pytest.param(lambda rng: MaxPool2D(2), (2, 4, 4), id="maxpool"),
    pytest.param(lambda rng: MaxPool2D(3, stride=1), (2, 5, 4), id="maxpool-overlapping"),
    pytest.param(lambda rng: AvgPool2D((2, 3), stride=(1, 2)), (2, 4, 7), id="avgpool"),
    pytest.param(lambda rng: Flatten(), (2, 3, 4), id="flatten"),
    pytest.param(lambda rng: Flatten(), (5,), id="flatten-2d"),
    pytest.param(lambda rng: ReLU(), (2, 3), id="relu"),
    pytest.param(lambda rng: Dropout(0.5, rng=rng), (4,), id="dropout"),
    pytest.param(lambda rng: Dense(4, 3, rng=rng), (4,), id="dense"),
]


@pytest.mark.parametrize("make, example_shape", EMPTY_BATCH_CASES)
@pytest.mark.parametrize("training", [False, True])
def test_empty_batch_gives_empty_outputs_of_the_right_shape(make, example_shape, training, rng):
    """N = 0 gives what N = 2 gives, less the examples: outputs (0, ...) shaped like the others,
    dx (0, ...) shaped like the input, and zero parameter gradients, as in PyTorch."""
    layer = make(rng)
    full = layer.forward(np.ones((2, *example_shape), np.float32), training=training)
    x = np.zeros((0, *example_shape), np.float32)
    y = layer.forward(x, training=training)
    assert y.shape == (0, *full.shape[1:]) == layer.output_shape(x.shape)
    assert y.dtype == np.float32
    dx = layer.backward(np.zeros(y.shape, np.float32))
    assert dx.shape == x.shape and dx.dtype == np.float32
    assert layer.grads.keys() == layer.params.keys()
    for key, value in layer.params.items():
        np.testing.assert_array_equal(layer.grads[key], np.zeros_like(value))


# ----- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: Conv2D(0, 4, 3), ValueError, "in_channels must be at least 1"),
        (lambda: Conv2D(3, -1, 3), ValueError, "out_channels must be at least 1"),
        (lambda: Conv2D(3, 4, 0), ValueError, "kernel_size must be positive"),
        (lambda: Conv2D(3, 4, (3, 0)), ValueError, "kernel_size must be positive"),
        (lambda: Conv2D(3, 4, 2.5), TypeError, "kernel_size must be an int"),
        (lambda: Conv2D(3, 4, 3, stride=0), ValueError, "stride must be positive"),
        (lambda: Conv2D(3, 4, 3, padding=-1), ValueError, "padding must be at least 0"),
        (lambda: Conv2D(3, 4, 3, padding="full"), ValueError, "'valid' or 'same'"),
        (lambda: Conv2D(3, 4, 3, stride=2, padding="same"), ValueError, "needs stride 1"),
        (lambda: Conv2D(3, 4, 3, dtype=np.int32), TypeError, "floating point"),
        (lambda: MaxPool2D(0), ValueError, "kernel_size must be positive"),
        (lambda: AvgPool2D(2, stride=-2), ValueError, "stride must be positive"),
        (lambda: Dropout(1.0), ValueError, "p must be in [0, 1)"),
        (lambda: Dropout(-0.1), ValueError, "p must be in [0, 1)"),
        (lambda: Dropout("0.5"), TypeError, "p must be a number"),
        (lambda: Dense(0, 3), ValueError, "in_features must be at least 1"),
        (lambda: Dense(3, 0), ValueError, "out_features must be at least 1"),
        (lambda: Conv2D((3, 3), 4, 3), TypeError, "in_channels must be an int"),
        (lambda: Dense(4, True), TypeError, "out_features must be an int"),
    ],
)
def test_constructors_reject_bad_arguments(make, error, words):
    with pytest.raises(error, match=re.escape(words)):
        make()


def _f32(*shape):
    return np.zeros(shape, dtype=np.float32)


@pytest.mark.parametrize(
    "layer, x, error, words",
    [
        (
            Conv2D(3, 4, 3),
            _f32(3, 8, 8),
            ValueError,
            r"Conv2D: expected input of shape \(N, 3, H, W\), got \(3, 8, 8\)",
        ),
        (
            Conv2D(3, 4, 3),
            _f32(2, 5, 8, 8),
            ValueError,
            r"Conv2D: expected input of shape \(N, 3, H, W\), got \(2, 5, 8, 8\)",
        ),
        (Conv2D(3, 4, 5), _f32(1, 3, 4, 8), ValueError, "smaller than the 5x5 kernel"),
        (Conv2D(3, 4, 5, padding=1), _f32(1, 3, 2, 8), ValueError, "padded input is 4x10"),
        (
            Conv2D(3, 4, 3),
            np.zeros((1, 3, 8, 8)),
            TypeError,
            "parameters are float32 but the input is float64",
        ),
        (Conv2D(3, 4, 3), np.zeros((1, 3, 8, 8), np.uint8), TypeError, "floating point input"),
        (Conv2D(3, 4, 3), [[1.0]], TypeError, "NumPy array"),
        (MaxPool2D(2), _f32(2, 8, 8), ValueError, r"expected input of shape \(N, C, H, W\)"),
        (MaxPool2D(3), _f32(1, 1, 2, 8), ValueError, "smaller than the 3x3 window"),
        (AvgPool2D((2, 4)), _f32(1, 1, 8, 3), ValueError, "smaller than the 2x4 window"),
        (
            Dense(10, 3),
            _f32(4, 9),
            ValueError,
            r"Dense: expected input of shape \(N, 10\), got \(4, 9\)",
        ),
        (Dense(10, 3), _f32(4, 2, 5), ValueError, r"expected input of shape \(N, 10\)"),
        (Flatten(), _f32(5), ValueError, r"expected input of shape \(N, ...\)"),
    ],
)
def test_forward_rejects_bad_input(layer, x, error, words):
    with pytest.raises(error, match=words):
        layer.forward(x)


@pytest.mark.parametrize(
    "make, shape", [(lambda: Conv2D(2, 3, 3), (1, 2, 5, 5)), (lambda: Dense(4, 3), (2, 4))]
)
@pytest.mark.parametrize("kind", [np.float32, np.float64])
def test_input_in_the_other_byte_order_gets_advice_that_works(make, shape, kind, rng):
    """float32 read from a big-endian file (on a little-endian machine): the advice is to convert
    x, not to rebuild the layer (it already computes in float32), and following it works."""
    swapped = np.dtype(kind).newbyteorder("S")  # the byte order that this machine does not use
    order = "big-endian" if swapped.byteorder == ">" else "little-endian"
    layer = make()
    x = rng.standard_normal(shape).astype(swapped)
    with pytest.raises(TypeError) as error:
        layer.forward(x)
    message = str(error.value)
    assert f"{order} byte order (dtype {swapped.str})" in message
    assert message.endswith("convert it with x.astype(np.float32)")
    assert "build the layer" not in message
    np.testing.assert_array_equal(
        layer.forward(x.astype(np.float32)), layer.forward(x.astype("=f4"))
    )


@pytest.mark.parametrize(
    "layer, shape",
    [
        (Conv2D(2, 3, 3), (1, 2, 5, 5)),
        (MaxPool2D(2), (1, 2, 4, 4)),
        (AvgPool2D(2), (1, 2, 4, 4)),
        (Dense(4, 3), (2, 4)),
        (ReLU(), (2, 4)),
        (Flatten(), (2, 3, 4)),
        (Dropout(0.5), (2, 4)),
    ],
)
def test_backward_rejects_misuse(layer, shape):
    with pytest.raises(RuntimeError, match=f"{layer.name}: backward\\(\\) called before forward"):
        layer.backward(_f32(*shape))
    y = layer.forward(_f32(*shape), training=True)
    wrong = _f32(*[s + 1 for s in y.shape])
    expected = re.escape(f"{layer.name}: expected dy of shape {tuple(y.shape)}")
    with pytest.raises(ValueError, match=expected):
        layer.backward(wrong)


@pytest.mark.parametrize(
    "layer, shape",
    [
        (Conv2D(2, 3, 3), (1, 2, 5, 5)),
        (MaxPool2D(2), (1, 2, 4, 4)),
        (AvgPool2D(2), (1, 2, 4, 4)),
        (Dense(4, 3), (2, 4)),
        (ReLU(), (2, 4)),
        (Flatten(), (2, 3, 4)),
        (Dropout(0.5), (2, 4)),
    ],
)
def test_backward_refuses_an_integer_gradient(layer, shape):
    """An average pool would send int(0.25 * dy) = 0 back, a uint8 sum would wrap around."""
    y = layer.forward(_f32(*shape), training=True)
    with pytest.raises(TypeError, match=f"{layer.name}: expected a floating point gradient dy"):
        layer.backward(np.ones(y.shape, np.int64))


# ----- astype: a copy in another dtype --------------------------------------------------------


def test_astype_gives_a_float64_copy_and_leaves_the_layer_alone(rng):
    layer = Conv2D(2, 3, 3, padding=1, rng=rng)
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    y = layer.forward(x)
    layer.backward(np.ones_like(y))
    twin = layer.astype(np.float64)
    assert twin is not layer and twin.dtype == np.float64 and layer.dtype == np.float32
    for key, value in layer.params.items():
        assert value.dtype == np.float32 and twin.params[key].dtype == np.float64
        assert twin.grads[key].dtype == np.float64
        np.testing.assert_array_equal(twin.params[key], value)  # float32 -> float64 is exact
    y64 = twin.forward(x.astype(np.float64))
    assert y64.dtype == np.float64
    np.testing.assert_allclose(y64, y, rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="parameters are float32 but the input is float64"):
        layer.forward(x.astype(np.float64))  # the original still computes in float32
    assert ReLU().astype(np.float16).dtype is None  # no parameters: the input's dtype
    with pytest.raises(TypeError, match="Dense: dtype must be a floating point type, got int32"):
        Dense(2, 2).astype(np.int32)
