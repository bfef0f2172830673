"""cnn_lib.optim: each update against the same update worked out by hand, and bad settings."""

import math
import re

import numpy as np
import pytest

from cnn_lib.optim import SGD, Adam, cosine_schedule


def one_parameter(w, g):
    """What model.parameters() gives: a list of (name, value, grad)."""
    return [("0.w", w, g)]


def test_sgd_plain_step():
    w = np.array([1.0, -2.0, 3.0])
    g = np.array([0.5, 0.5, -1.0])
    SGD(lr=0.1).step(one_parameter(w, g))
    np.testing.assert_allclose(w, [0.95, -2.05, 3.1])
    np.testing.assert_array_equal(g, [0.5, 0.5, -1.0])  # the gradient is left alone


def test_sgd_momentum_two_steps():
    w = np.array([1.0, 2.0])
    opt = SGD(lr=0.1, momentum=0.9)
    g1, g2 = np.array([1.0, -1.0]), np.array([0.5, 2.0])
    opt.step(one_parameter(w, g1))  # v = g1
    np.testing.assert_allclose(w, [0.9, 2.1])
    opt.step(one_parameter(w, g2))  # v = 0.9 * g1 + g2 = [1.4, 1.1]
    np.testing.assert_allclose(w, [0.9 - 0.14, 2.1 - 0.11])


def test_sgd_weight_decay_adds_to_the_gradient():
    w = np.array([2.0, -4.0])
    g = np.array([1.0, 1.0])
    SGD(lr=0.5, weight_decay=0.1).step(one_parameter(w, g))  # g + 0.1 w = [1.2, 0.6]
    np.testing.assert_allclose(w, [2.0 - 0.6, -4.0 - 0.3])


def test_adam_two_steps_by_hand():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    w = np.array([1.0, -1.0])
    g1, g2 = np.array([0.2, -0.4]), np.array([-0.1, 0.3])
    opt = Adam(lr=lr, betas=(b1, b2), eps=eps)

    opt.step(one_parameter(w, g1))
    # Step 1: m = 0.1 g1, v = 0.001 g1^2; bias correction gives m_hat = g1, v_hat = g1^2,
    # so the step is lr * g1 / (|g1| + eps): lr times the sign of the gradient.
    expected = np.array([1.0, -1.0]) - lr * g1 / (np.abs(g1) + eps)
    np.testing.assert_allclose(w, expected, rtol=1e-12)

    opt.step(one_parameter(w, g2))
    m = b1 * (1 - b1) * g1 + (1 - b1) * g2
    v = b2 * (1 - b2) * g1**2 + (1 - b2) * g2**2
    m_hat, v_hat = m / (1 - b1**2), v / (1 - b2**2)
    expected = expected - lr * m_hat / (np.sqrt(v_hat) + eps)
    np.testing.assert_allclose(w, expected, rtol=1e-12)


def test_adam_weight_decay():
    w = np.array([3.0])
    Adam(lr=0.1, weight_decay=1.0).step(one_parameter(w, np.array([-1.0])))  # g = -1 + 3 = 2
    np.testing.assert_allclose(w, [2.9], rtol=1e-7)


def test_float32_parameters_stay_float32():
    w = np.ones(3, dtype=np.float32)
    for opt in (SGD(0.1, momentum=0.9, weight_decay=0.01), Adam()):
        opt.step(one_parameter(w, np.full(3, 0.5, dtype=np.float32)))
        assert w.dtype == np.float32


def test_state_is_kept_per_parameter_name():
    a, b = np.zeros(2), np.zeros(3)
    opt = SGD(lr=1.0, momentum=0.5)
    params = [("0.w", a, np.ones(2)), ("1.w", b, 2 * np.ones(3))]
    opt.step(params)
    opt.step(params)
    np.testing.assert_allclose(a, [-2.5, -2.5])  # v: 1, then 1.5
    np.testing.assert_allclose(b, [-5.0] * 3)  # v: 2, then 3
    assert opt.t == 2


def test_adam_parameter_that_joins_late_gets_its_own_bias_correction():
    """Freezing and unfreezing layers: `b` takes its first step while `a` takes its second.

    Its moment estimates start at zero, so its first step needs the first step's correction and
    moves it by lr times the gradient's sign: -0.0100, PyTorch's value (a global step count,
    t = 2, would give -0.00744).
    """
    a, b = np.zeros(1), np.zeros(1)
    opt = Adam(lr=0.01)
    opt.step([("a", a, np.ones(1))])
    opt.step([("a", a, np.ones(1)), ("b", b, np.ones(1))])
    np.testing.assert_allclose(b, [-0.0100], rtol=1e-6)
    np.testing.assert_allclose(a, [-0.0200], rtol=1e-6)
    assert opt.state["a"]["t"] == 2 and opt.state["b"]["t"] == 1


def test_step_without_gradient_says_what_to_do():
    with pytest.raises(RuntimeError, match=r"'0.w' has no gradient; call backward\(\)"):
        Adam().step([("0.w", np.zeros(2), None)])


def test_step_with_wrong_gradient_shape_changes_nothing():
    a = np.zeros(2)
    with pytest.raises(ValueError, match=r"'1.b' has shape \(3,\), expected \(2,\)"):
        SGD(0.1).step([("0.w", a, np.ones(2)), ("1.b", np.zeros(2), np.ones(3))])
    np.testing.assert_array_equal(a, [0.0, 0.0])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: SGD(lr=0.0), r"lr must lie in \(0.0, inf\), got 0.0"),
        (lambda: SGD(lr=-1.0), r"lr must lie in"),
        (lambda: SGD(lr=0.1, momentum=1.0), r"momentum must lie in \[0.0, 1.0\), got 1.0"),
        (lambda: SGD(lr=0.1, momentum=-0.1), r"momentum must lie in"),
        (lambda: SGD(lr=0.1, weight_decay=-1e-4), r"weight_decay must lie in"),
        (lambda: Adam(betas=(0.9, 1.0)), r"betas\[1\] must lie in \[0.0, 1.0\), got 1.0"),
        (lambda: Adam(betas=(-0.1, 0.9)), r"betas\[0\] must lie in"),
        (lambda: Adam(eps=0.0), r"eps must lie in \(0.0, inf\), got 0.0"),
        (lambda: SGD(lr=10**400), r"lr must lie in \(0.0, inf\), got inf"),  # beyond float
    ],
)
def test_bad_hyperparameters_are_rejected(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    "make", [lambda: SGD(lr="0.1"), lambda: Adam(lr=None), lambda: Adam(betas=0.9)]
)
def test_hyperparameters_of_the_wrong_type_are_rejected(make):
    with pytest.raises(TypeError):
        make()


def test_setting_a_bad_learning_rate_later_is_rejected():
    opt = Adam()
    opt.lr = 5e-4
    assert opt.lr == 5e-4
    with pytest.raises(ValueError, match="lr must lie in"):
        opt.lr = -1.0
    with pytest.raises(TypeError, match="lr must be a number"):
        opt.lr = math.nan
    assert opt.lr == 5e-4


def test_cosine_schedule_runs_from_lr_to_the_final_fraction():
    schedule = cosine_schedule(1e-3, epochs=5, final_fraction=0.1)
    lrs = [schedule(e) for e in range(5)]
    assert lrs[0] == pytest.approx(1e-3)
    assert lrs[2] == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))  # halfway: the mean of the two
    assert lrs[-1] == pytest.approx(1e-4)
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))
    assert cosine_schedule(1e-3, epochs=1)(0) == 1e-3


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: SGD(0.1), lambda t, p: t.optim.SGD(p, lr=0.1)),
        (
            lambda: SGD(0.05, momentum=0.9, weight_decay=0.01),
            lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
        ),
        (lambda: Adam(1e-2), lambda t, p: t.optim.Adam(p, lr=1e-2)),
        (
            lambda: Adam(3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
            lambda t, p: t.optim.Adam(p, lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        ),
    ],
    ids=["sgd", "sgd-momentum-decay", "adam", "adam-decay"],
)
def test_same_steps_as_pytorch_with_a_parameter_that_joins_late(ours, theirs, rng):
    """Five steps of `a`; `b` joins at the third. PyTorch skips a parameter whose gradient is
    None, which is how it sees a frozen layer."""
    torch = pytest.importorskip("torch")
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(4)
    grads = [(rng.standard_normal((2, 3)), rng.standard_normal(4)) for _ in range(5)]
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    opt, topt = ours(), theirs(torch, [ta, tb])
    for step, (ga, gb) in enumerate(grads):
        joined = step >= 2
        opt.step([("a", a, ga), ("b", b, gb)] if joined else [("a", a, ga)])
        ta.grad, tb.grad = torch.tensor(ga), torch.tensor(gb) if joined else None
        topt.step()
        np.testing.assert_allclose(a, ta.detach().numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(b, tb.detach().numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "value, grad, got",
    [
        (np.zeros(2, np.int64), np.ones(2), "dtype int64 and dtype float64"),
        (np.zeros(2), np.full(2, 20, np.uint8), "dtype float64 and dtype uint8"),  # 20**2 wraps
        (np.zeros(2), [1.0, 1.0], "dtype float64 and list"),
    ],
)
def test_step_refuses_arrays_that_are_not_floating_point(value, grad, got):
    """An integer parameter cannot take a fractional step; an integer gradient's square wraps."""
    kept = np.zeros(2)
    for opt in (SGD(0.1), Adam()):
        with pytest.raises(TypeError, match="'1.w' and its gradient must be floating point "):
            opt.step([("0.w", kept, np.ones(2)), ("1.w", value, grad)])
        with pytest.raises(TypeError, match=got):
            opt.step([("1.w", value, grad)])
        np.testing.assert_array_equal(kept, [0.0, 0.0])  # nothing changed
        assert opt.state == {}


@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9), lambda: Adam(1e-2)])
@pytest.mark.parametrize(
    "new, got",
    [(np.zeros(4), "(4,) float64"), (np.zeros(3, np.float32), "(3,) float32")],
    ids=["shape", "dtype"],
)
def test_a_parameter_replaced_under_the_same_name_is_refused(make, new, got):
    """A layer replaced by one of another shape (or dtype) keeps its parameter names: the state
    kept for the old one cannot serve the new one, and nothing is changed."""
    opt = make()
    old = np.zeros(3)
    opt.step(one_parameter(old, np.ones(3)))
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in opt.state["0.w"].items()}
    before = new.copy()
    message = f"parameter '0.w' is {got}, but the state kept for '0.w' is (3,) float64"
    with pytest.raises(ValueError, match=re.escape(message)):
        opt.step(one_parameter(new, np.ones_like(new)))
    np.testing.assert_array_equal(new, before)
    assert opt.t == 1
    for key, value in state.items():
        np.testing.assert_array_equal(opt.state["0.w"][key], value)


@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9), lambda: Adam(1e-2)])
@pytest.mark.parametrize("second_shape", [(3,), (1,)], ids=["same-shape", "other-shape"])
def test_one_name_twice_in_one_step_is_refused_before_anything_changes(make, second_shape):
    opt = make()
    a, b = np.zeros(3), np.zeros(second_shape)
    with pytest.raises(ValueError, match=re.escape("parameter name 'w' appears twice")):
        opt.step([("w", a, np.ones(3)), ("w", b, np.ones(second_shape))])
    assert not a.any() and not b.any() and opt.t == 0 and opt.state == {}


@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9), lambda: Adam(1e-2)])
@pytest.mark.parametrize("read_only_first", [True, False])
def test_a_read_only_parameter_is_refused_before_anything_changes(make, read_only_first):
    opt = make()
    w, frozen = np.zeros(3), np.zeros(2)
    frozen.flags.writeable = False
    pairs = [("w", w, np.ones(3)), ("frozen", frozen, np.ones(2))]
    with pytest.raises(ValueError, match=re.escape("parameter 'frozen' is read-only")):
        opt.step(pairs[::-1] if read_only_first else pairs)
    assert not w.any() and opt.t == 0 and opt.state == {}


def test_a_parameter_in_the_other_byte_order_keeps_its_state():
    """The same float64 parameter stored big-endian is still the same parameter."""
    opt = Adam(1e-2)
    w = np.zeros(3)
    opt.step(one_parameter(w, np.ones(3)))
    swapped = w.astype(w.dtype.newbyteorder(">"))
    opt.step(one_parameter(swapped, np.ones(3)))
    assert opt.state["0.w"]["t"] == 2
    np.testing.assert_allclose(swapped, -0.02, rtol=1e-6)  # two steps of lr (eps aside)


@pytest.mark.parametrize(
    "parameters, message",
    [
        (
            lambda w: [("a", w, np.ones(3)), ("b", w, np.ones(3))],
            "the value of 'a' and the value of 'b' share memory",
        ),
        (
            lambda w: [("a", w[:2], np.ones(2)), ("b", w[1:], np.ones(2))],
            "the value of 'a' and the value of 'b' share memory",
        ),
        (
            lambda w: [("a", w, np.ones(3)), ("b", np.zeros(3), w)],  # b's gradient is a
            "the value of 'a' and the gradient of 'b' share memory",
        ),
    ],
    ids=["same-array", "overlapping-views", "gradient-is-another-parameter"],
)
def test_parameters_that_share_memory_are_refused(parameters, message):
    w = np.zeros(3)
    opt = SGD(1.0)
    with pytest.raises(ValueError, match=re.escape(message)):
        opt.step(parameters(w))
    assert not w.any() and opt.t == 0


def test_views_of_one_array_that_do_not_overlap_are_two_parameters():
    buffer, grads = np.zeros(6), np.ones(6)
    parameters = [("a", buffer[:2], grads[:2]), ("b", buffer[2:4], grads[:2])]  # a gradient
    parameters.append(("c", buffer[4:], buffer[4:].copy()))  # may be shared between parameters
    SGD(1.0).step(parameters)
    np.testing.assert_array_equal(buffer, [-1, -1, -1, -1, 0, 0])


def test_the_memory_check_stays_cheap_for_many_parameters():
    """Sorted by address, 2,000 separate parameters need no pairwise comparison: the check
    must not call np.shares_memory about 2,000,000 times (it did, at first)."""
    from unittest import mock

    parameters = [(f"p{i}", np.zeros(4), np.ones(4)) for i in range(2000)]
    with mock.patch("numpy.shares_memory", wraps=np.shares_memory) as shares:
        SGD(1.0).step(parameters)
    assert shares.call_count < 2000


def test_a_used_up_iterator_is_refused_and_an_empty_list_changes_nothing():
    w = np.zeros(3)
    opt = SGD(1.0)
    pairs = iter([("w", w, np.ones(3))])
    opt.step(pairs)
    with pytest.raises(ValueError, match="the iterator of parameters gave none; was it used up"):
        opt.step(pairs)
    opt.step([])  # a model without parameters
    np.testing.assert_array_equal(w, [-1, -1, -1])


@pytest.mark.parametrize(
    "parameters, message",
    [
        (
            None,
            "expected an iterable of (name, value, grad), such as model.parameters(), got NoneType",
        ),
        (
            [("w", np.zeros(2))],
            "(name, value, grad) tuple, such as model.parameters() gives, got a tuple of 2",
        ),
        ({"w": (np.zeros(2), np.ones(2))}, "expected each parameter as a (name, value, grad)"),
        ([(0, np.zeros(2), np.ones(2))], "parameter names must be str, got int"),
        (
            [("s", np.array(1.0), np.float64(1.0))],
            "got dtype float64 and a NumPy scalar (float64)",
        ),
    ],
    ids=["none", "pair", "dict", "int-name", "numpy-scalar"],
)
def test_what_is_not_a_list_of_parameters_gets_a_clear_error(parameters, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        Adam().step(parameters)


def test_adam_refuses_float16_where_eps_rounds_to_zero():
    w = np.ones(3, np.float16)
    with pytest.raises(TypeError, match=re.escape("parameter 'w' is float16, in which eps")):
        Adam().step([("w", w, np.zeros(3, np.float16))])
    w32 = np.ones(3, np.float32)
    with pytest.raises(TypeError, match=re.escape("the gradient of 'w' is float16")):
        Adam().step([("w", w32, np.full(3, 1e-4, np.float16))])  # mixed precision
    np.testing.assert_array_equal(w32, 1)
    np.testing.assert_array_equal(w, 1)
    SGD(0.5).step([("w", w, np.ones(3, np.float16))])  # no eps, no squares: fine
    np.testing.assert_array_equal(w, 0.5)


def test_cosine_schedule_refuses_a_last_rate_of_zero():
    with pytest.raises(ValueError, match=r"final_fraction must lie in \(0, 1\]"):
        cosine_schedule(1e-3, epochs=5, final_fraction=0)
    with pytest.raises(ValueError, match="rounds to 0, which no optimizer takes"):
        cosine_schedule(5e-324, epochs=5, final_fraction=0.05)
