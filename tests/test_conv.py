"""The fast convolution (cnn_lib.conv) against the loop-by-loop reference, forward and backward."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_lib import naive, parallel
from cnn_lib.conv import col2im, conv2d_backward, conv2d_forward, im2col, output_size, pad


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
    w = rng.standard_normal((F, C, kh, kw))
    b = rng.standard_normal(F)

    y, cache = conv2d_forward(x, w, b, stride, pads)
    y_ref = naive.conv2d_forward_naive(x, w, b, stride, pads)
    np.testing.assert_allclose(y, y_ref, rtol=1e-10, atol=1e-10)

    dy = rng.standard_normal(y.shape)
    dx, dw, db = conv2d_backward(dy, cache)
    dx_ref, dw_ref, db_ref = naive.conv2d_backward_naive(dy, x, w, stride, pads)
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
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = np.zeros(4, dtype=np.float32)
    y, cache = conv2d_forward(x, w, b)
    dx, dw, db = conv2d_backward(np.ones_like(y), cache)
    assert {y.dtype, dx.dtype, dw.dtype, db.dtype} == {np.dtype(np.float32)}


def test_inputs_are_not_modified(rng):
    x = rng.standard_normal((2, 2, 5, 5))
    w = rng.standard_normal((3, 2, 3, 3))
    b = rng.standard_normal(3)
    copies = [a.copy() for a in (x, w, b)]
    y, cache = conv2d_forward(x, w, b, (1, 1), (1, 1, 1, 1))
    dy = rng.standard_normal(y.shape)
    dy_copy = dy.copy()
    conv2d_backward(dy, cache)
    for a, c in zip((x, w, b, dy), (*copies, dy_copy), strict=True):
        np.testing.assert_array_equal(a, c)


def test_the_arithmetic_refuses_integer_arrays_and_the_copies_take_them():
    x, w, b = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.zeros(1)
    cases = {
        "x": lambda: conv2d_forward(x.astype(np.uint8), w, b),
        "w": lambda: conv2d_forward(x, w.astype(np.int64), b),
        "b": lambda: conv2d_forward(x, w, b.astype(bool)),
        "dy": lambda: conv2d_backward(np.ones((1, 1, 2, 2), np.int32), conv2d_forward(x, w, b)[1]),
        "dcols": lambda: col2im(np.ones((1, 4, 4), np.uint8), (1, 1, 3, 3), 2, 2, (1, 1)),
    }
    for name, call in cases.items():
        with pytest.raises(TypeError, match=f"expected {name} as a floating point array"):
            call()
    # Copying windows does no arithmetic: any dtype, values unchanged.
    xi = np.arange(9, dtype=np.uint8).reshape(1, 1, 3, 3)
    cols = im2col(pad(xi, (0, 0, 0, 0)), 2, 2, (1, 1))
    assert cols.dtype == np.uint8
    np.testing.assert_array_equal(cols[0, :, 0], [0, 1, 3, 4])  # the first window, as a column


def test_im2col_puts_each_window_in_a_column(rng):
    # cols[n, (c, u, v), (i, j)] = xp[n, c, i * sh + u, j * sw + v], entry by entry
    N, C, Hp, Wp, kh, kw, sh, sw = 2, 3, 7, 8, 3, 2, 2, 3
    xp = rng.standard_normal((N, C, Hp, Wp))
    cols = im2col(xp, kh, kw, (sh, sw))
    H_out, W_out = output_size(Hp, kh, sh, 0, 0), output_size(Wp, kw, sw, 0, 0)
    assert cols.shape == (N, C * kh * kw, H_out * W_out)
    for n, c, u, v, i, j in np.ndindex(N, C, kh, kw, H_out, W_out):
        row, col = (c * kh + u) * kw + v, i * W_out + j
        assert cols[n, row, col] == xp[n, c, i * sh + u, j * sw + v]


@pytest.mark.parametrize("kernel, stride", [((3, 3), (1, 1)), ((2, 3), (2, 1)), ((3, 2), (1, 3))])
def test_col2im_is_the_adjoint_of_im2col(kernel, stride, rng):
    # <im2col(xp), d> = <xp, col2im(d)> for every xp and d: what makes col2im the right backward
    xp = rng.standard_normal((2, 3, 8, 7))
    cols = im2col(xp, *kernel, stride)
    d = rng.standard_normal(cols.shape)
    np.testing.assert_allclose(
        np.sum(cols * d), np.sum(xp * col2im(d, xp.shape, *kernel, stride)), rtol=1e-12
    )


def test_pad_surrounds_with_zeros_and_keeps_x_when_there_is_nothing_to_pad(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    xp = pad(x, (1, 2, 0, 3))
    assert xp.shape == (2, 3, 7, 8)
    np.testing.assert_array_equal(xp[:, :, 1:5, 0:5], x)
    assert np.count_nonzero(xp) == x.size
    assert pad(x, (0, 0, 0, 0)) is x


def test_no_input_gradient_gives_the_same_parameter_gradients(rng):
    x = rng.standard_normal((3, 2, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    y, cache = conv2d_forward(x, w, b, (1, 2), (1, 1, 0, 2))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, db = conv2d_backward(dy, cache)
    none, dw_only, db_only = conv2d_backward(dy, cache, input_grad=False)
    assert dx.shape == x.shape and none is None
    np.testing.assert_array_equal(dw_only, dw)
    np.testing.assert_array_equal(db_only, db)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stride, pads", [((1, 1), (1, 1, 1, 1)), ((2, 1), (0, 0, 0, 0))])
def test_threads_give_the_same_bits(dtype, stride, pads, rng):
    # 7 images: parts of 7, of 4 + 3 and of 3 + 2 + 2 all give the same numbers, to the last bit
    x = rng.standard_normal((7, 3, 9, 8)).astype(dtype)
    w = rng.standard_normal((5, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    dy = rng.standard_normal(conv2d_forward(x, w, b, stride, pads)[0].shape).astype(dtype)
    results = []
    for n in (1, 2, 3):
        with parallel.threads(n):
            y, cache = conv2d_forward(x, w, b, stride, pads)
            results.append((y, *conv2d_backward(dy, cache)))
    for other in results[1:]:
        for got, expected in zip(other, results[0], strict=True):
            np.testing.assert_array_equal(got, expected)


def test_an_empty_batch_gives_empty_outputs_and_zero_parameter_gradients(rng):
    x = np.zeros((0, 2, 5, 5))
    w, b = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    y, cache = conv2d_forward(x, w, b, (1, 1), (1, 1, 1, 1))
    assert y.shape == (0, 3, 5, 5)
    dx, dw, db = conv2d_backward(np.zeros(y.shape), cache)
    assert dx.shape == x.shape
    np.testing.assert_array_equal(dw, np.zeros_like(w))
    np.testing.assert_array_equal(db, np.zeros_like(b))


def test_backward_uses_the_weights_of_the_forward_pass(rng):
    # an optimizer step between forward and backward must not change the gradients
    x = rng.standard_normal((2, 2, 5, 5))
    w, b = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    y, cache = conv2d_forward(x, w, b, (1, 1), (1, 1, 1, 1))
    dy = rng.standard_normal(y.shape)
    expected = naive.conv2d_backward_naive(dy, x, w, (1, 1), (1, 1, 1, 1))
    w += 1.0  # in place, as an optimizer would
    for got, want in zip(conv2d_backward(dy, cache), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
