"""The fast convolution (cnn_lib.conv) against the loop-by-loop reference, forward and backward."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_lib import naive
from cnn_lib.conv import (
    col2im,
    conv2d_backward,
    conv2d_forward,
    im2col,
    output_size,
    pad_channels_last,
)


@st.composite
def conv_cases(draw):
    N = draw(st.integers(1, 3))
    C = draw(st.integers(1, 3))
    F = draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    H = draw(st.integers(max(1, kh - pads[0] - pads[1]), 9))
    W = draw(st.integers(max(1, kw - pads[2] - pads[3]), 9))
    return N, C, F, H, W, (kh, kw), (sh, sw), pads


@settings(max_examples=60, deadline=None)
@given(case=conv_cases(), seed=st.integers(0, 2**16))
def test_fast_matches_naive_forward_and_backward(case, seed):
    N, C, F, H, W, (kh, kw), stride, pads = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    Wt = rng.standard_normal((F, C, kh, kw))
    b = rng.standard_normal(F)

    y, cache = conv2d_forward(x, Wt, b, stride, pads)
    y_ref = naive.conv2d_forward_naive(x, Wt, b, stride, pads)
    np.testing.assert_allclose(y, y_ref, rtol=1e-10, atol=1e-10)

    dy = rng.standard_normal(y.shape)
    dx, dw, db = conv2d_backward(dy, cache)
    dx_ref, dw_ref, db_ref = naive.conv2d_backward_naive(dy, x, Wt, stride, pads)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, db_ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "size, kernel, stride, pad, expected",
    [(36, 5, 1, 0, 32), (36, 5, 1, 2, 36), (28, 3, 2, 1, 14), (7, 3, 2, 0, 3), (8, 3, 3, 0, 2)],
)
def test_output_size_formula(size, kernel, stride, pad, expected):
    assert output_size(size, kernel, stride, pad, pad) == expected


def test_float32_stays_float32(rng):
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    Wt = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = np.zeros(4, dtype=np.float32)
    y, cache = conv2d_forward(x, Wt, b)
    dx, dw, db = conv2d_backward(np.ones_like(y), cache)
    assert {y.dtype, dx.dtype, dw.dtype, db.dtype} == {np.dtype(np.float32)}


def test_inputs_are_not_modified(rng):
    x = rng.standard_normal((2, 2, 5, 5))
    Wt = rng.standard_normal((3, 2, 3, 3))
    b = rng.standard_normal(3)
    copies = [a.copy() for a in (x, Wt, b)]
    y, cache = conv2d_forward(x, Wt, b, (1, 1), (1, 1, 1, 1))
    dy = rng.standard_normal(y.shape)
    dy_copy = dy.copy()
    conv2d_backward(dy, cache)
    for a, c in zip((x, Wt, b, dy), (*copies, dy_copy), strict=True):
        np.testing.assert_array_equal(a, c)


def test_the_arithmetic_refuses_integer_arrays_and_the_copies_take_them():
    x, w, b = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.zeros(1)
    cases = {
        "x": lambda: conv2d_forward(x.astype(np.uint8), w, b),
        "w": lambda: conv2d_forward(x, w.astype(np.int64), b),
        "b": lambda: conv2d_forward(x, w, b.astype(bool)),
        "dy": lambda: conv2d_backward(np.ones((1, 1, 2, 2), np.int32), conv2d_forward(x, w, b)[1]),
        "dcols": lambda: col2im(np.ones((1, 2, 2, 2, 2, 1), np.uint8), (1, 3, 3, 1), 2, 2, (1, 1)),
    }
    for name, call in cases.items():
        with pytest.raises(TypeError, match=f"expected {name} as a floating point array"):
            call()
    # Copying windows does no arithmetic: any dtype, values unchanged.
    xi = np.arange(9, dtype=np.uint8).reshape(1, 1, 3, 3)
    cols = im2col(pad_channels_last(xi, (0, 0, 0, 0)), 2, 2, (1, 1))
    assert cols.dtype == np.uint8
    np.testing.assert_array_equal(cols[0], [0, 1, 3, 4])
