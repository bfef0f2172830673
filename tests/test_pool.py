"""Fast max and average pooling (cnn_lib.pool) against the loop-by-loop reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_lib import naive, parallel
from cnn_lib.pool import (
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))  # includes overlapping windows
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(kh, 10)), draw(st.integers(kw, 10))
    integers = draw(st.booleans())  # small integers make ties common
    return (N, C, H, W), (kh, kw), (sh, sw), integers


def _input(shape, integers, seed):
    rng = np.random.default_rng(seed)
    if integers:
        return rng.integers(0, 3, size=shape).astype(np.float64)
    return rng.standard_normal(shape)


@settings(max_examples=80, deadline=None)
@given(case=pool_cases(), seed=st.integers(0, 2**16))
def test_maxpool_matches_naive(case, seed):
    shape, kernel, stride, integers = case
    x = _input(shape, integers, seed)
    y, argmax = maxpool2d_forward(x, kernel, stride)
    np.testing.assert_array_equal(y, naive.maxpool2d_forward_naive(x, kernel, stride))
    dy = np.random.default_rng(seed + 1).standard_normal(y.shape)
    dx = maxpool2d_backward(dy, argmax, x.shape, kernel, stride)
    np.testing.assert_allclose(
        dx, naive.maxpool2d_backward_naive(dy, x, kernel, stride), atol=1e-12
    )


@settings(max_examples=80, deadline=None)
@given(case=pool_cases(), seed=st.integers(0, 2**16))
def test_avgpool_matches_naive(case, seed):
    shape, kernel, stride, integers = case
    x = _input(shape, integers, seed)
    y = avgpool2d_forward(x, kernel, stride)
    np.testing.assert_allclose(y, naive.avgpool2d_forward_naive(x, kernel, stride), atol=1e-12)
    dy = np.random.default_rng(seed + 1).standard_normal(y.shape)
    dx = avgpool2d_backward(dy, x.shape, kernel, stride)
    np.testing.assert_allclose(
        dx, naive.avgpool2d_backward_naive(dy, x, kernel, stride), atol=1e-12
    )


def test_max_tie_sends_gradient_to_first_maximum_only():
    # Every value in the window is 1: the whole gradient goes to the top-left input.
    x = np.ones((1, 1, 2, 2))
    y, argmax = maxpool2d_forward(x, (2, 2), (2, 2))
    dx = maxpool2d_backward(np.array([[[[5.0]]]]), argmax, x.shape, (2, 2), (2, 2))
    np.testing.assert_array_equal(dx, [[[[5.0, 0.0], [0.0, 0.0]]]])


def test_tie_between_later_entries_goes_to_first_in_row_major_order():
    x = np.array([[[[0.0, 7.0], [7.0, 1.0]]]])
    y, argmax = maxpool2d_forward(x, (2, 2), (2, 2))
    dx = maxpool2d_backward(np.ones_like(y), argmax, x.shape, (2, 2), (2, 2))
    np.testing.assert_array_equal(dx, [[[[0.0, 1.0], [0.0, 0.0]]]])


def test_overlapping_windows_add_up():
    # 1x4 input, windows of 2 with stride 1: the maximum 9 is in two of the three windows.
    x = np.array([[[[1.0, 9.0, 2.0, 3.0]]]])
    y, argmax = maxpool2d_forward(x, (1, 2), (1, 1))
    np.testing.assert_array_equal(y, [[[[9.0, 9.0, 3.0]]]])
    dx = maxpool2d_backward(np.array([[[[1.0, 10.0, 100.0]]]]), argmax, x.shape, (1, 2), (1, 1))
    np.testing.assert_array_equal(dx, [[[[0.0, 11.0, 0.0, 100.0]]]])


def test_avgpool_spreads_gradient_evenly():
    dx = avgpool2d_backward(np.array([[[[8.0]]]]), (1, 1, 2, 2), (2, 2), (2, 2))
    np.testing.assert_array_equal(dx, np.full((1, 1, 2, 2), 2.0))


def test_rows_past_the_last_window_get_no_gradient(rng):
    x = rng.standard_normal((1, 1, 5, 5))  # 2x2 windows with stride 2 skip row 4 and column 4
    y, argmax = maxpool2d_forward(x, (2, 2), (2, 2))
    dx = maxpool2d_backward(np.ones_like(y), argmax, x.shape, (2, 2), (2, 2))
    assert not dx[0, 0, 4, :].any() and not dx[0, 0, :, 4].any()
    assert dx.sum() == y.size


def test_dtype_is_kept(rng):
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    y, argmax = maxpool2d_forward(x, (2, 2), (2, 2))
    assert y.dtype == np.float32
    assert maxpool2d_backward(np.ones_like(y), argmax, x.shape, (2, 2), (2, 2)).dtype == np.float32
    assert avgpool2d_forward(x, (2, 2), (2, 2)).dtype == np.float32


def test_nan_is_the_maximum_and_gets_the_gradient():
    # As np.max and np.argmax: a NaN in a window is its maximum, and its input gets dy.
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]]]])
    y, argmax = maxpool2d_forward(x, (2, 2), (2, 2))
    assert np.isnan(y).all()
    dx = maxpool2d_backward(np.ones_like(y), argmax, x.shape, (2, 2), (2, 2))
    np.testing.assert_array_equal(dx, naive.maxpool2d_backward_naive(np.ones_like(y), x, 2, 2))
    np.testing.assert_array_equal(dx, [[[[0.0, 1.0], [0.0, 0.0]]]])


def test_integer_arrays_are_refused():
    """In integers, a mean of 2.5 rounds and 0.25 * dy is 0; the fast passes do not convert."""
    xi = np.arange(16, dtype=np.int64).reshape(1, 1, 4, 4)
    dyi = np.ones((1, 1, 2, 2), dtype=np.uint8)
    argmax = np.zeros((1, 1, 2, 2), dtype=np.int32)
    calls = {
        "x": [
            lambda: maxpool2d_forward(xi, (2, 2), (2, 2)),
            lambda: avgpool2d_forward(xi, (2, 2), (2, 2)),
        ],
        "dy": [
            lambda: maxpool2d_backward(dyi, argmax, (1, 1, 4, 4), (2, 2), (2, 2)),
            lambda: avgpool2d_backward(dyi, (1, 1, 4, 4), (2, 2), (2, 2)),
        ],
    }
    for name, group in calls.items():
        for call in group:
            with pytest.raises(TypeError, match=f"expected {name} as a floating point array"):
                call()


def test_of_several_nans_the_first_gets_the_gradient():
    # np.argmax's choice, which the loop version makes too (PyTorch's CPU kernel takes the last)
    x = np.array([[[[1.0, np.nan, 5.0], [np.nan, 9.0, np.nan]]]])
    y, argmax = maxpool2d_forward(x, (2, 3), (2, 3))
    assert np.isnan(y).all()
    dx = maxpool2d_backward(np.ones_like(y), argmax, x.shape, (2, 3), (2, 3))
    np.testing.assert_array_equal(dx, naive.maxpool2d_backward_naive(np.ones_like(y), x, (2, 3)))
    np.testing.assert_array_equal(dx, [[[[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]])


def test_windows_of_more_than_255_numbers(rng):
    # the offsets no longer fit in a byte: argmax is stored as int32
    # growing along each row, in equal pairs: the maximum is late in the window, and tied
    x = np.floor(np.arange(2 * 2 * 17 * 18) / 2).reshape(2, 2, 17, 18)
    y, argmax = maxpool2d_forward(x, (16, 17), (1, 1))
    assert argmax.dtype == np.int32 and int(argmax.max()) > 255
    np.testing.assert_array_equal(y, naive.maxpool2d_forward_naive(x, (16, 17), (1, 1)))
    dy = rng.standard_normal(y.shape)
    dx = maxpool2d_backward(dy, argmax, x.shape, (16, 17), (1, 1))
    np.testing.assert_allclose(dx, naive.maxpool2d_backward_naive(dy, x, (16, 17), (1, 1)))


@pytest.mark.parametrize("kernel, stride", [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((2, 3), (1, 2))])
def test_threads_give_the_same_bits(kernel, stride, rng):
    x = rng.integers(0, 4, size=(7, 3, 9, 10)).astype(np.float32)  # ties too
    y0, argmax0 = maxpool2d_forward(x, kernel, stride)
    dy = rng.standard_normal(y0.shape).astype(np.float32)
    dx0 = maxpool2d_backward(dy, argmax0, x.shape, kernel, stride)
    for n in (2, 3):
        with parallel.threads(n):
            y, argmax = maxpool2d_forward(x, kernel, stride)
            dx = maxpool2d_backward(dy, argmax, x.shape, kernel, stride)
        np.testing.assert_array_equal(y, y0)
        np.testing.assert_array_equal(argmax, argmax0)
        np.testing.assert_array_equal(dx, dx0)
