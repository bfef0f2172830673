"""The exercise checkers (cnn_lib.exercises): right code passes however it is written, every wrong
version in the catalogue fails with the message that names its mistake, and the verdict on a
stub is the same on every run.
"""

import inspect
import re
import subprocess
import sys

import numpy as np
import pytest
from exercise_solutions import RIGHT, WRONG

from cnn_lib.exercises import EXERCISES, check
from cnn_lib.exercises._runner import not_done

NAMES = list(EXERCISES)
RIGHT_CASES = [(name, fn) for name in NAMES for fn in RIGHT[name]]
WRONG_CASES = [(name, wrong) for name in NAMES for wrong in WRONG[name]]
VARIANTS = [
    (name, mistake)
    for name in NAMES
    for mistake in EXERCISES[name].mistakes
    if mistake.variant is not None
]


def _verdict(capsys, name, fn):
    passed = check(name, fn)
    return passed, capsys.readouterr().out


def _unwrapped(text):
    return " ".join(text.split())


def _stub(*args):
    raise NotImplementedError


def test_sixteen_exercises_each_with_a_catalogue():
    assert len(EXERCISES) == 16
    assert set(RIGHT) == set(WRONG) == set(EXERCISES)
    for name in NAMES:
        assert len(RIGHT[name]) >= 2, name  # as the chapter writes it, and another way
        assert len(WRONG[name]) >= 3, name


@pytest.mark.parametrize("name, fn", RIGHT_CASES, ids=[f"{n}-{f.__name__}" for n, f in RIGHT_CASES])
def test_right_solution_accepted(capsys, name, fn):
    passed, out = _verdict(capsys, name, fn)
    assert passed is True, out
    assert out.startswith(f"{name}: correct. All ")


@pytest.mark.parametrize(
    "name, wrong", WRONG_CASES, ids=[f"{n}-{w.mistake}" for n, w in WRONG_CASES]
)
def test_wrong_solution_rejected_with_its_mistake_named(capsys, name, wrong):
    passed, out = _verdict(capsys, name, wrong.fn)
    assert passed is False, out
    assert "not right yet" in out
    assert wrong.expect in _unwrapped(out), out


@pytest.mark.parametrize(
    "name, mistake", VARIANTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(VARIANTS)]
)
def test_every_known_mistake_is_rejected(capsys, name, mistake):
    # A hint for a mistake that some case cannot tell from the right answer would be useless.
    passed, out = _verdict(capsys, name, mistake.variant)
    assert passed is False, out
    assert "Likely mistake:" in out, out


@pytest.mark.parametrize("name", NAMES)
def test_stub_not_done_and_the_same_every_time(capsys, name):
    first = _verdict(capsys, name, _stub)
    second = _verdict(capsys, name, _stub)
    assert first == second == (False, not_done(name).text + "\n")
    assert "not done yet" in first[1]


@pytest.mark.parametrize("name", NAMES)
def test_verdicts_are_the_same_on_every_run(capsys, name):
    for fn in (RIGHT[name][0], WRONG[name][0].fn):
        assert _verdict(capsys, name, fn) == _verdict(capsys, name, fn)


def test_verdicts_are_the_same_in_a_fresh_process():
    # nbval compares a stored output with a new kernel's: no addresses, hash order or timings.
    script = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from exercise_solutions import WRONG\n"
        "from cnn_lib.exercises import EXERCISES, check\n"
        "def stub(*a):\n    raise NotImplementedError\n"
        "def broken(*a):\n    return {}[object()]\n"
        "for name in EXERCISES:\n"
        "    check(name, stub); check(name, broken); check(name, WRONG[name][0].fn)\n"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "OPENBLAS_NUM_THREADS": "1"},
        ).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0] == outputs[1]
    assert "0x" not in outputs[0]


def _array_args(name):
    case = EXERCISES[name].cases()[0]
    return [i for i, a in enumerate(case.args) if isinstance(a, np.ndarray)]


@pytest.mark.parametrize("name", [n for n in NAMES if _array_args(n)])
def test_writing_into_an_argument_is_rejected(capsys, name):
    right = RIGHT[name][0]
    for i in _array_args(name):
        param = EXERCISES[name].param_names[i]

        def writes(*args, i=i):
            out = right(*args)
            args[i].flat[0] += 1  # after computing: the answer is right, the caller's array not
            return out

        passed, out = _verdict(capsys, name, writes)
        assert passed is False
        assert f"it writes into its argument {param}:" in _unwrapped(out)


def _misshapen(out):
    if isinstance(out, tuple) and all(isinstance(o, np.ndarray) for o in out):
        return (out[0][..., :-1], *out[1:])
    if isinstance(out, np.ndarray):
        return out[None]
    if isinstance(out, tuple):
        return out[:2]
    return float(out)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_shape_or_type_is_rejected(capsys, name):
    right = RIGHT[name][0]
    passed, out = _verdict(capsys, name, lambda *a: _misshapen(right(*a)))
    assert passed is False
    assert "has shape" in out or "expected an int" in out or "expected a tuple" in out, out


@pytest.mark.parametrize("name", [n for n in NAMES if _array_args(n)])
def test_wrong_dtype_is_rejected(capsys, name):
    right = RIGHT[name][0]

    def float32(*args):
        out = right(*args)
        if isinstance(out, tuple):
            return (out[0].astype(np.float32), *out[1:])
        return out.astype(np.float32)

    passed, out = _verdict(capsys, name, float32)
    assert passed is False
    assert "dtype float32; expected float64" in out


def test_a_function_that_returns_nothing(capsys):
    passed, out = _verdict(capsys, "relu_backward", lambda dy, x: None)
    assert passed is False
    assert "is a `return` missing?" in out


def test_an_error_is_reported_with_the_line_that_raised_it(capsys):
    def conv2d_forward(x, w, b, stride=1, padding=0):
        y = np.einsum("nchw,fchw->nf", x, w)
        return y

    passed, out = _verdict(capsys, "conv2d_forward", conv2d_forward)
    assert passed is False
    assert "it raised ValueError" in out
    assert 'in the line: y = np.einsum("nchw,fchw->nf", x, w)' in out
    assert "Traceback" not in out


def test_an_error_inside_the_library_points_at_the_readers_line(capsys):
    from cnn_lib.naive import conv2d_forward_naive

    def conv2d_forward(x, w, b, stride=1, padding=0):
        return conv2d_forward_naive(x, w[:, :2], b, stride, padding)  # too few channels

    passed, out = _verdict(capsys, "conv2d_forward", conv2d_forward)
    assert "it raised ValueError" in out
    assert "in the line: return conv2d_forward_naive(x, w[:, :2], b, stride, padding)" in out


def test_not_implemented_in_a_later_case(capsys):
    def conv2d_forward(x, w, b, stride=1, padding=0):
        if padding:
            raise NotImplementedError("padding")
        return RIGHT["conv2d_forward"][0](x, w, b, stride, padding)

    passed, out = _verdict(capsys, "conv2d_forward", conv2d_forward)
    assert passed is False
    assert "First failing case, padding 1" in out
    assert "it raises NotImplementedError for this case: not done yet" in out


def test_verdict_names_the_case_the_error_and_where(capsys):
    def overlap_assigned(dy, x, w, stride=1, padding=0):
        return WRONG["conv2d_backward"][0].fn(dy, x, w, stride, padding)

    passed, out = _verdict(capsys, "conv2d_backward", overlap_assigned)
    lines = out.splitlines()
    assert lines[0] == "conv2d_backward: not right yet. 0 of 6 cases pass."
    assert lines[1].startswith("  First failing case, 3x3 kernel, windows overlap: dy (2, 4, 3, 3)")
    assert "dx is wrong: largest error" in out and "at dx[" in out
    assert "Central differences of the forward pass agree with the expected dx" in out
    assert "dw" not in lines[2]  # only dx is wrong


def test_quiet_check_prints_nothing(capsys):
    assert check("relu_backward", RIGHT["relu_backward"][0], verbose=False) is True
    assert check("relu_backward", _stub, verbose=False) is False
    assert capsys.readouterr().out == ""


def test_bad_arguments_to_check():
    with pytest.raises(KeyError, match="no exercise named 'conv'"):
        check("conv", _stub)
    with pytest.raises(TypeError, match="expected the function to check"):
        check("conv2d_forward", "def conv2d_forward(...)")


def test_an_unknown_name_gets_the_closest_one():
    with pytest.raises(KeyError, match="no exercise named 'conv2d_foward' \\(did you mean "):
        check("conv2d_foward", _stub)


def test_swapped_arguments_are_said_so():
    # The function first gave "no exercise named <function conv2d_forward at 0x7f...>".
    with pytest.raises(TypeError, match="the name comes first, then the function") as error:
        check(RIGHT["conv2d_forward"][0], "conv2d_forward")
    assert "0x" not in str(error.value)


def test_the_function_of_another_exercise_is_named(capsys):
    conv2d_backward = RIGHT["conv2d_backward"][0]
    passed, out = _verdict(capsys, "conv2d_forward", conv2d_backward)
    assert passed is False
    assert "(The function checked is conv2d_backward; this is the checker for conv2d_forward.)" in (
        _unwrapped(out)
    )


@pytest.mark.parametrize("name", NAMES)
def test_stub_source_has_the_signature_and_docstring(name):
    exercise = EXERCISES[name]
    namespace = {}
    exec(exercise.stub, namespace)
    stub = namespace[name]
    assert inspect.signature(stub) == inspect.signature(eval(f"lambda {exercise.params}: None"))
    assert inspect.getdoc(stub) == inspect.cleandoc(exercise.doc)
    assert exercise.signature.startswith(f"{name}({exercise.params}) -> ")
    assert check(name, stub, verbose=False) is False


@pytest.mark.parametrize("name", [n for n in NAMES if EXERCISES[n].gradient is not None])
def test_references_agree_with_numerical_gradients(name):
    exercise = EXERCISES[name]
    numeric_cases = [case for case in exercise.cases() if case.numeric]
    assert numeric_cases, name
    for case in numeric_cases:
        expected = exercise.reference(*case.args)
        expected = expected if isinstance(expected, tuple) else (expected,)
        for want, numeric in zip(expected, exercise.gradient(*case.args), strict=True):
            np.testing.assert_allclose(want, numeric, rtol=1e-6, atol=1e-8 * np.abs(want).max())


@pytest.mark.parametrize("name", NAMES)
def test_no_two_arguments_of_a_case_share_memory(name):
    # Shared arrays would make a write into one argument look like a write into another.
    for case in EXERCISES[name].cases():
        arrays = [a for a in case.args if isinstance(a, np.ndarray)]
        for i, a in enumerate(arrays):
            assert not any(np.shares_memory(a, b) for b in arrays[i + 1 :]), case.label


def test_an_unknown_mistake_gets_no_hint(capsys):
    right = RIGHT["conv2d_forward"][0]
    passed, out = _verdict(capsys, "conv2d_forward", lambda *a: 1.01 * right(*a))
    assert passed is False
    assert "y is wrong: largest error" in out
    assert "Likely mistake" not in out


def test_cases_cover_the_edges_the_mistakes_need():
    labels = {name: " ".join(c.label for c in EXERCISES[name].cases()) for name in NAMES}
    assert "non-square" in labels["conv2d_forward"] and "remainder" in labels["conv2d_forward"]
    assert "padding" in labels["conv2d_backward"] and "small gradients" in labels["conv2d_backward"]
    assert "overlapping" in labels["maxpool2d_backward"] and "ties" in labels["maxpool2d_backward"]
    assert "exact zeros" in labels["relu_backward"]
    assert "1e4" in labels["log_softmax"] and "thousands" in labels["cross_entropy_backward"]
    assert "small gradients" in labels["adam_step"]


# ---------------------------------------------------------------------------------------------
# The references against PyTorch (optional: only where torch is installed)


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)
    return torch


def _t(torch, a, grad=False):
    return torch.tensor(np.asarray(a), requires_grad=grad)


def test_conv_references_match_torch(torch):
    F = torch.nn.functional
    for case in EXERCISES["conv2d_backward"].cases():
        dy, x, w, *settings = case.args
        stride, padding = settings or (1, 0)
        xt, wt, bt = _t(torch, x, True), _t(torch, w, True), _t(torch, np.zeros(len(w)), True)
        y = F.conv2d(xt, wt, bt, stride=stride, padding=padding)
        y.backward(_t(torch, dy))
        dx, dw, db = EXERCISES["conv2d_backward"].reference(*case.args)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dw, wt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(db, bt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for case in EXERCISES["conv_output_size"].cases():
        size, kernel, *settings = case.args
        stride, padding = settings or (1, 0)
        y = F.conv2d(
            torch.zeros(1, 1, size, 1),
            torch.zeros(1, 1, kernel, 1),
            stride=stride,
            padding=(padding, 0),
        )
        assert y.shape[2] == EXERCISES["conv_output_size"].reference(*case.args)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
def test_same_padding_matches_torch(torch):
    F = torch.nn.functional
    x = torch.randn(1, 1, 7, 8, generator=torch.Generator().manual_seed(0))
    for case in EXERCISES["same_padding"].cases():
        (kernel_size,) = case.args
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        w = torch.randn(1, 1, kh, kw, generator=torch.Generator().manual_seed(1))
        top, bottom, left, right = EXERCISES["same_padding"].reference(kernel_size)
        ours = F.conv2d(F.pad(x, (left, right, top, bottom)), w)
        torch.testing.assert_close(ours, F.conv2d(x, w, padding="same"))


def test_pool_references_match_torch_including_ties(torch):
    F = torch.nn.functional
    for name, pool in [("maxpool2d_backward", F.max_pool2d), ("avgpool2d_backward", F.avg_pool2d)]:
        for case in EXERCISES[name].cases():
            dy, x, kernel_size, *stride = case.args
            xt = _t(torch, x, True)
            pool(xt, kernel_size, stride[0] if stride else None).backward(_t(torch, dy))
            np.testing.assert_allclose(
                EXERCISES[name].reference(*case.args), xt.grad.numpy(), rtol=1e-12, atol=0
            )


def test_dense_relu_and_losses_match_torch(torch):
    F = torch.nn.functional
    for case in EXERCISES["dense_backward"].cases():
        dy, x, w = case.args
        xt, wt, bt = _t(torch, x, True), _t(torch, w, True), _t(torch, np.zeros(w.shape[1]), True)
        (xt @ wt + bt).backward(_t(torch, dy))
        for ours, theirs in zip(
            EXERCISES["dense_backward"].reference(*case.args),
            (xt.grad, wt.grad, bt.grad),
            strict=True,
        ):
            np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-15)
    for case in EXERCISES["relu_backward"].cases():
        dy, x = case.args
        xt = _t(torch, x, True)
        torch.relu(xt).backward(_t(torch, dy))  # PyTorch's gradient at exactly 0 is 0
        np.testing.assert_array_equal(EXERCISES["relu_backward"].reference(dy, x), xt.grad.numpy())
    for case in EXERCISES["log_softmax"].cases():
        (z,) = case.args
        np.testing.assert_allclose(
            EXERCISES["log_softmax"].reference(z),
            F.log_softmax(_t(torch, z), dim=1).numpy(),
            rtol=1e-12,
        )
    for case in EXERCISES["cross_entropy_backward"].cases():
        z, t = case.args
        zt = _t(torch, z, True)
        F.cross_entropy(zt, torch.tensor(t)).backward()
        np.testing.assert_allclose(
            EXERCISES["cross_entropy_backward"].reference(z, t),
            zt.grad.numpy(),
            rtol=1e-9,
            atol=1e-15,
        )


def test_dropout_scale_matches_torch(torch):
    x = torch.ones(10_000)
    y = torch.nn.functional.dropout(x, p=0.3, training=True)
    ours, mask = EXERCISES["dropout_forward"].reference(
        np.ones(10_000), 0.3, np.random.default_rng(0)
    )
    assert set(np.unique(ours)) == set(np.unique(y.numpy())) == {0.0, 1 / 0.7}
    np.testing.assert_array_equal(
        EXERCISES["dropout_backward"].reference(np.ones(4), mask[:4], 0.3), ours[:4]
    )


def test_optimizer_references_match_torch_over_several_steps(torch):
    rng = np.random.default_rng(7)
    w0, grads = rng.standard_normal((3, 4)), [rng.standard_normal((3, 4)) for _ in range(5)]
    for name, make in [
        ("sgd_momentum_step", lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9)),
        ("adam_step", lambda p: torch.optim.Adam([p], lr=1e-2, betas=(0.8, 0.99), eps=1e-6)),
    ]:
        p = _t(torch, w0.copy(), True)
        optimizer = make(p)
        w, state = w0.copy(), [np.zeros_like(w0)] * (1 if name.startswith("sgd") else 2)
        for step, g in enumerate(grads, start=1):
            p.grad = _t(torch, g)
            optimizer.step()
            if name.startswith("sgd"):
                w, *state = EXERCISES[name].reference(w, g, *state, 0.1, 0.9)
            else:
                w, *state = EXERCISES[name].reference(w, g, *state, step, 1e-2, 0.8, 0.99, 1e-6)
            np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# Found by trying to break the checkers


@pytest.mark.parametrize("name", ["conv2d_forward", "avgpool2d_backward"])
def test_a_right_result_in_float32_is_not_blamed_on_a_mistake(capsys, name):
    # On the first case (stride and padding at their defaults) "the padding is ignored" and
    # "assigning instead of adding" give the right values; a float32 result with those values
    # must not be said to make that mistake.
    right = RIGHT[name][0]
    passed, out = _verdict(capsys, name, lambda *a: right(*a).astype(np.float32))
    assert passed is False
    assert "dtype float32; expected float64" in out
    assert "Likely mistake" not in out, out


def test_infinite_values_match_only_themselves(capsys):
    # Subtracting the row's minimum makes exp overflow: every entry is -inf. The mistake
    # "log(softmax(z)) underflows" gives -inf only where exp underflows, 0 at each row's maximum,
    # so it must not be named (an inf compared with a relative tolerance matches anything).
    def log_softmax(z):
        m = z.min(axis=1, keepdims=True)
        return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))

    passed, out = _verdict(capsys, "log_softmax", log_softmax)
    assert passed is False
    assert "log_p has -inf at log_p[0, 0]" in out
    assert "Likely mistake" not in out, out


@pytest.mark.parametrize("name", ["conv2d_forward", "conv2d_backward", "log_softmax"])
def test_a_result_computed_in_float32_is_said_so(capsys, name):
    # Cast to float32 inside, back to float64 at the end: the values are off by float32's
    # rounding only, which "yours -0.2008, expected -0.2008" would not show.
    right = RIGHT[name][0]

    def in_float32(*args):
        args = [a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in args]
        out = right(*args)
        if isinstance(out, tuple):
            return tuple(o.astype(np.float64) for o in out)
        return out.astype(np.float64)

    passed, out = _verdict(capsys, name, in_float32)
    assert passed is False
    assert "is a float32 number: somewhere it was computed in float32" in _unwrapped(out), out
    yours, expected = re.search(r"\(yours (\S+), expected (\S+)\)", _unwrapped(out)).groups()
    assert yours != expected


def test_a_float32_result_is_told_to_keep_the_dtype(capsys):
    right = RIGHT["relu_backward"][0]
    passed, out = _verdict(capsys, "relu_backward", lambda dy, x: right(dy, x).astype(np.float32))
    assert passed is False
    assert "dx has dtype float32; expected float64: the arguments are float64" in _unwrapped(out)


def test_a_result_of_zeros_is_not_called_float32(capsys):
    # Zeros are float32 numbers too, but far more than rounding is wrong.
    passed, out = _verdict(
        capsys, "conv2d_forward", lambda x, w, b, s=1, p=0: np.zeros((2, 4, 3, 3))
    )
    assert passed is False
    assert "float32" not in out, out


def test_a_tuple_of_floats_shows_its_values(capsys):
    # (k - 1) / 2 gives floats: the verdict shows them, not just "a tuple of 4".
    def same_padding(kernel_size):
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        return ((kh - 1) / 2, (kh - 1) / 2, (kw - 1) / 2, (kw - 1) / 2)

    passed, out = _verdict(capsys, "same_padding", same_padding)
    assert passed is False
    assert "it returns the tuple (1.0, 1.0, 1.0, 1.0); expected a tuple of 4 ints" in out, out
    passed, out = _verdict(capsys, "conv_output_size", lambda *args: (25,))
    assert "it returns the tuple (25,); expected an int" in out, out


def test_an_error_that_cannot_be_printed(capsys):
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no message")

    def relu_backward(dy, x):
        raise Unprintable

    passed, out = _verdict(capsys, "relu_backward", relu_backward)
    assert passed is False
    assert "it raised Unprintable" in out


def test_an_interrupt_stops_the_check():
    # Stopping a slow or endless function from the notebook must stop the check, not be
    # reported as an error of the function.
    def relu_backward(dy, x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check("relu_backward", relu_backward)


def test_a_mistake_that_fits_one_failing_case_by_chance_is_not_named(capsys):
    # Padding ignored when the stride is 2: on (8, 3, 2, 1) that gives 3, which is also what
    # "off by one" gives, but on (224, 7, 2, 3) it gives 109 where "off by one" gives 111.
    def conv_output_size(size, kernel_size, stride=1, padding=0):
        if stride > 1:
            padding = 0
        return (size + 2 * padding - kernel_size) // stride + 1

    passed, out = _verdict(capsys, "conv_output_size", conv_output_size)
    assert passed is False
    assert "it returns 3; expected 4" in out
    assert "Likely mistake" not in out, out


def test_not_implemented_for_the_first_case_only_is_not_a_stub(capsys):
    # A function that leaves out only the default stride is not "not done yet" as a whole.
    def maxpool2d_forward(x, kernel_size, stride=None):
        if stride is None:
            raise NotImplementedError
        return RIGHT["maxpool2d_forward"][0](x, kernel_size, stride)

    passed, out = _verdict(capsys, "maxpool2d_forward", maxpool2d_forward)
    assert passed is False
    assert out.startswith("maxpool2d_forward: not right yet. 5 of 8 cases pass."), out
    assert "it raises NotImplementedError for this case: not done yet" in out
