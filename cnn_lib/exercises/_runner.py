"""How a checker runs: the cases, the comparison with the reference, and the verdict it prints.

An `Exercise` is data: the signature, a case table, a reference function and a catalogue of known
mistakes, each either a *variant* (a function that makes the mistake) or a predicate that
recognises it. `judge` runs the reader's function on every case and writes the verdict. A mistake
is named only when running its variant on every failing case gives the reader's very output (of
the mistakes that do, the one that also agrees with the reader on the most cases), so a hint is a
measured fact about the reader's function, never a guess from the size of the error.

Every message is built from the cases (fixed seeds) and the outputs, never from addresses,
timings or fresh random numbers: the verdict on a given function is the same on every run.
"""

from __future__ import annotations

import copy
import numbers
import os
import re
import sysconfig
import textwrap
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

RTOL = 1e-6  # relative tolerance, element by element
ATOL_SCALE = 1e-9  # plus this fraction of the largest expected magnitude, for entries near zero
GRAD_RTOL = 1e-6  # relative error allowed against central differences (float64, eps = 1e-6)
FLOAT32_RTOL = 1e-4  # float32 rounding summed over a few dozen terms, relative to the largest
WIDTH = 79  # verdict lines are wrapped to this width, so they fit the book's code box


@dataclass(frozen=True)
class Case:
    """One call of the reader's function.

    label : what the case is there to show ("stride 2 with a remainder").
    args : the positional arguments; arrays are float64 unless the exercise says otherwise.
    numeric : also compare a backward pass with central differences of its forward pass here
        (only where the forward pass is smooth: no ties, no zeros at a ReLU).
    """

    label: str
    args: tuple
    numeric: bool = False


@dataclass(frozen=True)
class Mistake:
    """A known mistake and the hint that names it.

    variant : a function with the exercise's signature that makes the mistake; it is recognised
        when it returns what the reader's function returned (or raises the same error).
    explains : instead of a variant, a predicate ``explains(args, out) -> bool`` on the reader's
        output, for exercises whose output is random (dropout's mask).
    """

    message: str
    variant: Callable | None = None
    explains: Callable | None = None


@dataclass(frozen=True)
class Exercise:
    """What a checker knows about one exercise.

    params, returns : the signature, ``f"{name}({params}) -> {returns}"``.
    doc : the docstring a chapter prints in the stub (shapes and conventions).
    outputs : ``(name, kind)`` per returned value, kind one of "array" (float array), "mask"
        (boolean array), "int", "ints" (a tuple of ints); several outputs come back as a tuple.
    cases : builds the case table (fixed seeds) afresh for every check.
    reference : the right answer, same signature as the exercise.
    gradient : for a backward pass, ``gradient(*args)`` -> central differences of the forward
        pass, one array per output (None where there is none to compare).
    expected : ``expected(args, out)`` -> the right outputs, when they depend on the reader's
        own random choices (dropout's mask); defaults to ``reference(*args)``.
    extra : ``extra(fn, case, out)`` -> a problem (str) or None, for properties that no single
        expected value captures (dropout's keep rate and its use of ``rng``).
    """

    name: str
    params: str
    returns: str
    doc: str
    outputs: tuple[tuple[str, str], ...]
    cases: Callable[[], list[Case]]
    reference: Callable
    mistakes: tuple[Mistake, ...] = ()
    gradient: Callable | None = None
    expected: Callable | None = None
    extra: Callable | None = None

    @property
    def signature(self) -> str:
        return f"{self.name}({self.params}) -> {self.returns}"

    @property
    def param_names(self) -> list[str]:
        return [p.split("=")[0].strip() for p in self.params.split(",")]

    @property
    def stub(self) -> str:
        """The "Your turn" cell: the signature, the docstring and ``raise NotImplementedError``."""
        doc = textwrap.indent(self.doc.strip(), "    ")
        return (
            f"def {self.name}({self.params}):\n"
            f'    """{doc.lstrip()}\n    """\n'
            "    raise NotImplementedError\n"
        )


@dataclass
class _Failure:
    kind: str  # "raised", "not done", "mutated", "structure", "values", "property"
    lines: list[str]
    out: tuple | None = None
    wrong: tuple[int, ...] = ()  # which outputs are wrong
    error: BaseException | None = None


# ---------------------------------------------------------------------------------------------
# Running one case


def _copies(args: tuple) -> tuple:
    """Fresh copies of the arguments (a seeded generator is copied with its state)."""
    return copy.deepcopy(args)


def _unchanged(before, after) -> bool:
    if isinstance(before, np.ndarray):
        return (
            isinstance(after, np.ndarray)
            and before.shape == after.shape
            and before.dtype == after.dtype
            and np.array_equal(before, after, equal_nan=before.dtype.kind in "fc")
        )
    if isinstance(before, (list, dict)):
        return before == after
    return True  # ints, floats, tuples, generators (drawing from rng is expected)


def _call(fn: Callable, args: tuple):
    """fn(*args) with numpy's warnings silenced: the verdict says what went wrong."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {os.path.dirname(np.__file__), paths["stdlib"], paths["purelib"], paths["platlib"]}
    dirs.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # cnn_lib itself
    return tuple(sorted(d for d in dirs if d))


def _message(error: BaseException) -> str:
    """str(error), or "" when even that raises (an exception class of the reader's own)."""
    try:
        return str(error)
    except Exception:
        return ""


def _describe_error(error: BaseException) -> list[str]:
    """One line for the error, one for the reader's line that raised it (no paths, no addresses)."""
    message = _message(error).strip().splitlines()[0] if _message(error).strip() else ""
    message = re.sub(r"0x[0-9a-fA-F]+", "(address)", message)
    if len(message) > 160:
        message = message[:157] + "..."
    lines = [f"it raised {type(error).__name__}" + (f": {message}" if message else "")]
    library = _library_dirs()
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if not os.path.abspath(f.filename).startswith(library) and f.line
    ]
    if frames:
        lines.append(f"in the line: {frames[-1].line.strip()}")
    return lines


def _run(exercise: Exercise, fn: Callable, case: Case) -> tuple[object, _Failure | None]:
    """Call fn on fresh copies of the case's arguments; catch errors and writes into arguments."""
    args, pristine = _copies(case.args), _copies(case.args)
    try:
        out = _call(fn, args)
    except NotImplementedError as error:
        return None, _Failure("not done", [], error=error)
    except Exception as error:  # the reader's code may raise anything; report it plainly
        return None, _Failure("raised", _describe_error(error), error=error)
    for name, before, after in zip(exercise.param_names, pristine, args, strict=False):
        if not _unchanged(before, after):
            return out, _Failure(
                "mutated",
                [
                    f"it writes into its argument {name}: the caller's array changed. Leave the "
                    f"arguments as they are and return new arrays (copy first, e.g. "
                    f"{name} = {name}.copy(), if you want to work in place)."
                ],
            )
    return out, None


# ---------------------------------------------------------------------------------------------
# Comparing outputs


def _as_tuple(exercise: Exercise, out) -> tuple:
    return (out,) if len(exercise.outputs) == 1 else out


def _what(value) -> str:
    if value is None:
        return "None (is a `return` missing?)"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (tuple, list)):
        if 0 < len(value) <= 8 and all(isinstance(v, numbers.Number) for v in value):
            items = ", ".join(str(v) for v in value)
            shown = (
                f"[{items}]" if isinstance(value, list) else f"({items}{',' * (len(value) == 1)})"
            )
            return f"the {type(value).__name__} {shown}"
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, numbers.Real):
        return f"a {type(value).__name__} ({value:.6g})"
    return f"a {type(value).__name__}"


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _arg_with_shape(shape, exercise: Exercise, args: tuple) -> str:
    for name, arg in zip(exercise.param_names, args, strict=False):
        if isinstance(arg, np.ndarray) and arg.shape == shape:
            return f" (the shape of {name})"
    return ""


def _structure(exercise: Exercise, out, expected: tuple, args: tuple) -> str | None:
    """What is wrong with the type, length, shape or dtype of ``out``, or None."""
    names = [name for name, _ in exercise.outputs]
    if len(names) > 1:
        if not isinstance(out, (tuple, list)):
            return f"it returns {_what(out)}; expected a tuple {exercise.returns}"
        if len(out) != len(names):
            return f"it returns {_what(out)}; expected {len(names)} values {exercise.returns}"
    for (name, kind), got, want in zip(
        exercise.outputs, _as_tuple(exercise, out), expected, strict=True
    ):
        if kind in ("array", "mask"):
            if not isinstance(got, np.ndarray):
                return f"{name} is {_what(got)}; expected a NumPy array of shape {want.shape}"
            if got.shape != want.shape:
                like = _arg_with_shape(want.shape, exercise, args)
                swapped = (
                    len(got.shape) == len(want.shape) >= 2
                    and got.shape[:-2] == want.shape[:-2]
                    and got.shape[-2:] == want.shape[-2:][::-1]
                )
                note = ": the last two axes are swapped (H and W mixed up?)" if swapped else ""
                return f"{name} has shape {got.shape}; expected {want.shape}{like}{note}"
            if got.dtype != want.dtype:
                advice = ""
                if want.dtype == np.float64 and got.dtype.kind == "f":
                    advice = (
                        ": the arguments are float64, keep that dtype (no dtype=np.float32 or "
                        ".astype(np.float32))"
                    )
                return f"{name} has dtype {got.dtype}; expected {want.dtype}{advice}"
        elif kind == "int" and not _is_int(got):
            return f"it returns {_what(got)}; expected an int"
        elif kind == "ints" and (
            not isinstance(got, (tuple, list))
            or len(got) != len(want)
            or not all(_is_int(v) for v in got)
        ):
            return (
                f"it returns {_what(got)}; expected a tuple of {len(want)} ints {exercise.returns}"
            )
    return None


def _num(value, other=None) -> str:
    """value to 4 significant digits, or as many more as it takes to tell it from other."""
    for digits in range(4, 18):
        text = f"{float(value):.{digits}g}"
        if other is None or text != f"{float(other):.{digits}g}":
            return text
    return text


def _index(name: str, idx) -> str:
    return f"{name}[{', '.join(str(int(i)) for i in idx)}]"


def _tolerance(want: np.ndarray) -> np.ndarray:
    """How far from each entry of want a value may be; 0 at inf and nan, which only match
    themselves (RTOL * inf would let any number match -inf)."""
    finite = np.isfinite(want)
    magnitude = np.abs(np.where(finite, want, 0.0))
    scale = magnitude.max() if magnitude.size else 0.0
    tolerance = RTOL * magnitude + max(ATOL_SCALE * scale, np.finfo(np.float64).tiny)
    return np.where(finite, tolerance, 0.0)


def _close(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Element-wise agreement; nan and inf agree only with themselves."""
    with np.errstate(all="ignore"):
        same = np.isclose(got, want, rtol=0, atol=0, equal_nan=True)
        return same | (np.abs(got - want) <= _tolerance(want))


def _value_problem(name: str, kind: str, got, want) -> str | None:
    if kind == "int":
        return None if got == want else f"it returns {got}; expected {want}"
    if kind == "ints":
        got_t, want_t = tuple(int(v) for v in got), tuple(int(v) for v in want)
        return None if got_t == want_t else f"it returns {got_t}; expected {want_t}"
    if kind == "mask":
        if np.array_equal(got, want):
            return None
        idx = np.argwhere(got != want)[0]
        where, yours, wanted = _index(name, idx), got[tuple(idx)], want[tuple(idx)]
        return f"{name} is wrong at {where} (yours {yours}, expected {wanted})"
    ok = _close(got, want)
    if ok.all():
        return None
    nonfinite = ~np.isfinite(got) & np.isfinite(want)
    if nonfinite.any():
        idx = tuple(np.argwhere(nonfinite)[0])
        return (
            f"{name} has {got[idx]} at {_index(name, idx)} where {_num(want[idx])} is expected "
            f"({int(nonfinite.sum())} entries are not finite)"
        )
    with np.errstate(all="ignore"):
        error = np.where(ok, 0.0, np.abs(got - want))
    idx = np.unravel_index(np.argmax(error), error.shape)
    return (
        f"{name} is wrong: largest error {_num(error[idx])} at {_index(name, idx)} "
        f"(yours {_num(got[idx], want[idx])}, expected {_num(want[idx], got[idx])})"
    )


def _same(kind: str, a, b) -> bool:
    """Whether two outputs of one kind agree (for matching a mistake's output with the reader's)."""
    if kind in ("array", "mask"):
        if not (
            isinstance(a, (np.ndarray, np.generic)) and isinstance(b, (np.ndarray, np.generic))
        ):
            return False
        a, b = np.asarray(a), np.asarray(b)
        return (
            a.shape == b.shape
            and (a.dtype == bool) == (b.dtype == bool)
            and a.dtype.kind in "biuf"
            and b.dtype.kind in "biuf"
            and bool(_close(a.astype(float), b.astype(float)).all())
        )
    if kind == "int":
        return type(a) is type(b) and a == b
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(
            _is_int(u) and _is_int(v) and u == v for u, v in zip(a, b, strict=True)
        )
    return False


def _expected(exercise: Exercise, args: tuple, out) -> tuple:
    if exercise.expected is not None:
        return _as_tuple(exercise, _call(lambda: exercise.expected(_copies(args), out), ()))
    return _as_tuple(exercise, _call(exercise.reference, _copies(args)))


def _check_case(exercise: Exercise, fn: Callable, case: Case) -> tuple[object, _Failure | None]:
    out, failure = _run(exercise, fn, case)
    return out, (failure if failure is not None else _judge_output(exercise, fn, case, out))


def _judge_output(exercise: Exercise, fn: Callable, case: Case, out) -> _Failure | None:
    expected = _expected(exercise, case.args, out)
    problem = _structure(exercise, out, expected, case.args)
    if problem is not None:
        return _Failure("structure", [problem], out=out)
    lines, wrong = [], []
    for i, ((name, kind), got, want) in enumerate(
        zip(exercise.outputs, _as_tuple(exercise, out), expected, strict=True)
    ):
        problem = _value_problem(name, kind, got, want)
        if problem is not None:
            lines.append(problem)
            wrong.append(i)
    if lines:
        return _Failure("values", lines, out=out, wrong=tuple(wrong))
    if exercise.extra is not None:
        try:
            problem = _call(lambda: exercise.extra(fn, case, out), ())
        except Exception as error:  # the extra check calls the reader's function again
            return _Failure("raised", _describe_error(error), out=out, error=error)
        if problem is not None:
            return _Failure("property", [problem], out=out)
    return None


# ---------------------------------------------------------------------------------------------
# Hints: which known mistake gives exactly what the reader's function gave


def _explains(exercise: Exercise, mistake: Mistake, case: Case, out, failure) -> bool:
    """Whether the mistake gives what the reader's function gave on this case.

    failure is None for a case the reader passed: then every output must agree.
    """
    kind = "pass" if failure is None else failure.kind
    if kind in ("mutated", "not done"):
        return False
    if mistake.explains is not None:
        if kind == "raised":
            return False
        try:
            return bool(_call(lambda: mistake.explains(_copies(case.args), out), ()))
        except Exception:
            return False
    try:
        theirs = _call(mistake.variant, _copies(case.args))
    except Exception as error:
        mine = None if failure is None else failure.error
        return kind == "raised" and type(mine) is type(error) and _message(mine) == _message(error)
    if kind == "raised":
        return False
    if kind == "values":
        which = failure.wrong
    elif len(exercise.outputs) > 1 and (
        not isinstance(out, (tuple, list))
        or not isinstance(theirs, (tuple, list))
        or len(out) != len(theirs)
    ):
        return False
    else:
        which = range(len(exercise.outputs))
    theirs, mine = _as_tuple(exercise, theirs), _as_tuple(exercise, out)
    if kind == "structure" and _agrees(exercise, theirs, _expected(exercise, case.args, out)):
        # The mistake gives the right values here, so it cannot be why this case fails (a
        # float32 result, say, whose values are right: any variant right on the case matches it).
        return False
    return all(_same(exercise.outputs[i][1], theirs[i], mine[i]) for i in which)


def _agrees(exercise: Exercise, theirs: tuple, expected: tuple) -> bool:
    kinds = [kind for _, kind in exercise.outputs]
    return len(theirs) == len(expected) == len(kinds) and all(
        _same(kind, a, b) for kind, a, b in zip(kinds, theirs, expected, strict=True)
    )


def _hint(exercise: Exercise, runs: list, first: int) -> str | None:
    """The known mistake that gives the reader's output on every failing case and, of those,
    on the most cases in all. One case alone can fit a mistake by chance (an int output size
    that is one too small), so a mistake that the other failing cases contradict is not named."""
    case, out, failure = runs[first]
    best, best_score = None, 0
    for mistake in exercise.mistakes:
        if not _explains(exercise, mistake, case, out, failure):
            continue
        explained = [_explains(exercise, mistake, c, o, f) for c, o, f in runs]
        if not all(e for e, (_, _, f) in zip(explained, runs, strict=True) if f is not None):
            continue
        score = sum(explained)
        if score > best_score:
            best, best_score = mistake, score
    if best is None and failure is not None and failure.kind == "values":
        return _float32_hint(exercise, case, failure)
    return None if best is None else best.message


FLOAT32 = (
    "every value of {names} is a float32 number: somewhere it was computed in float32 (a "
    "dtype=np.float32, an .astype(np.float32)) and only its rounding error is left; compute in "
    "float64, the dtype of the arguments"
)


def _float32_hint(exercise: Exercise, case: Case, failure: _Failure) -> str | None:
    """A float64 result whose wrong outputs hold only float32 numbers, where the right ones
    do not, and are off by no more than float32's rounding: computed in float32 and cast back
    (a float64 computation leaves such values with probability about 2**-29 each)."""
    expected = _expected(exercise, case.args, failure.out)
    mine = _as_tuple(exercise, failure.out)
    names = []
    for i in failure.wrong:
        got, want = mine[i], expected[i]
        if not (isinstance(got, np.ndarray) and got.dtype == np.float64):
            return None
        if not (_float32_exact(got) and not _float32_exact(want)):
            return None
        with np.errstate(all="ignore"):
            if not np.abs(got - want).max() <= FLOAT32_RTOL * np.abs(want).max():
                return None  # more than rounding is wrong (a result of zeros is float32 too)
        names.append(exercise.outputs[i][0])
    return FLOAT32.format(names=_join(names)) if names else None


def _float32_exact(a: np.ndarray) -> bool:
    """Whether a is finite and holds only numbers that float32 can hold."""
    if not (a.size and np.isfinite(a).all()):
        return False
    with np.errstate(all="ignore"):
        return bool(np.array_equal(a.astype(np.float32).astype(np.float64), a))


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    denominator = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denominator == 0 else float(np.linalg.norm(a - b) / denominator)


def _numeric(exercise: Exercise, case: Case) -> tuple:
    with np.errstate(all="ignore"):
        return exercise.gradient(*_copies(case.args))


def _gradient_line(exercise: Exercise, case: Case, failure: _Failure) -> str | None:
    """On a smooth case: whether central differences agree with the expected outputs only."""
    if exercise.gradient is None or not case.numeric or failure.kind != "values":
        return None
    numeric = _numeric(exercise, case)
    expected = _expected(exercise, case.args, failure.out)
    mine = _as_tuple(exercise, failure.out)
    names = [
        exercise.outputs[i][0]
        for i in failure.wrong
        if numeric[i] is not None
        and _relative_error(expected[i], numeric[i]) < GRAD_RTOL
        and not _relative_error(mine[i], numeric[i]) < GRAD_RTOL
    ]
    if not names:
        return None
    return (
        f"Central differences of the forward pass agree with the expected {_join(names)}, "
        "not with yours."
    )


def _numeric_failure(exercise: Exercise, fn: Callable, cases: list[Case]) -> str | None:
    """After every case has passed: the reader's gradients against central differences."""
    for case in cases:
        if not case.numeric:
            continue
        try:
            out = _as_tuple(exercise, _call(fn, _copies(case.args)))
        except Exception as error:
            return f"a second call on case {case.label!r} raised {type(error).__name__}"
        for (name, _), got, numeric in zip(
            exercise.outputs, out, _numeric(exercise, case), strict=True
        ):
            if numeric is not None and not _relative_error(got, numeric) < GRAD_RTOL:
                return f"{name} disagrees with central differences on case {case.label!r}"
    return None


# ---------------------------------------------------------------------------------------------
# The verdict


def _join(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _settings(exercise: Exercise, args: tuple) -> str:
    names = exercise.param_names
    parts = []
    for name, arg in zip(names, args, strict=False):
        if isinstance(arg, np.ndarray):
            dtype = "" if arg.dtype == np.float64 else f" {arg.dtype}"
            parts.append(f"{name} {arg.shape}{dtype}")
        elif isinstance(arg, np.random.Generator):
            parts.append(f"{name} (a seeded np.random.Generator)")
        else:
            parts.append(f"{name}={arg!r}")
    if len(args) < len(names):
        rest = names[len(args) :]
        parts.append(f"{_join(rest)} left at {'its' if len(rest) == 1 else 'their'} default")
    return ", ".join(parts)


def _fill(text: str, indent: str = "") -> str:
    return textwrap.fill(
        text,
        WIDTH,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    )


@dataclass(frozen=True)
class Verdict:
    passed: bool
    text: str


def not_done(name: str) -> Verdict:
    return Verdict(
        False,
        _fill(
            f"{name}: not done yet. The function still raises NotImplementedError: write its "
            "body, run its cell, then run this check again."
        ),
    )


def judge(exercise: Exercise, fn: Callable) -> Verdict:
    """Run ``fn`` on every case of ``exercise`` and write the verdict."""
    cases = exercise.cases()
    runs = []  # (case, the reader's output, failure or None)
    for case in cases:
        out, failure = _check_case(exercise, fn, case)
        runs.append((case, out, failure))
    if all(failure is not None and failure.kind == "not done" for _, _, failure in runs):
        return not_done(exercise.name)  # a stub; one that raises only for some cases is not
    passing = [case.label for case, _, failure in runs if failure is None]
    failing = [i for i, (_, _, failure) in enumerate(runs) if failure is not None]
    name = exercise.name
    if not failing:
        problem = _numeric_failure(exercise, fn, cases) if exercise.gradient else None
        if problem is None:
            lines = [_fill(f"{name}: correct. All {len(cases)} cases pass: {'; '.join(passing)}.")]
            if exercise.gradient is not None:
                grads = [n for n, _ in exercise.outputs]
                verb = "agrees" if len(grads) == 1 else "agree"
                lines.append(
                    _fill(
                        f"{_join(grads)} also {verb} with central differences of the forward "
                        "pass (numerical gradients) on the cases where those are reliable."
                    )
                )
            return Verdict(True, "\n".join(lines))
        return Verdict(False, _fill(f"{name}: the cases pass, but {problem}."))

    case, _, failure = runs[failing[0]]
    lines = [_fill(f"{name}: not right yet. {len(passing)} of {len(cases)} cases pass.")]
    if passing:
        lines.append(_fill(f"Passes: {'; '.join(passing)}.", "  "))
    lines.append(_fill(f"First failing case, {case.label}: {_settings(exercise, case.args)}", "  "))
    if failure.kind == "not done":
        failure.lines = ["it raises NotImplementedError for this case: not done yet"]
    for line in failure.lines:
        lines.append(_fill(line, "    "))
    gradient_line = _gradient_line(exercise, case, failure)
    if gradient_line:
        lines.append(_fill(gradient_line, "    "))
    hint = _hint(exercise, runs, failing[0])
    if hint:
        lines.append(_fill(f"Likely mistake: {hint}", "    "))
    if len(failing) > 1:
        others = [runs[i][0].label for i in failing[1:]]
        lines.append(_fill(f"Also failing: {'; '.join(others)}.", "  "))
    return Verdict(False, "\n".join(lines))
