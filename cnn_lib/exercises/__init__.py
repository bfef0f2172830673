"""Checkers for the "Your turn" exercises: the reader writes a function, one call judges it.

    from cnn_lib.exercises import EXERCISES, check
    print(EXERCISES["conv2d_forward"].stub)    # the signature, the docstring, NotImplementedError
    check("conv2d_forward", conv2d_forward)    # prints a verdict, returns True or False

`check` runs the function on a small table of cases (fixed seeds: random inputs and the edge
cases where the usual mistakes show, such as non-square inputs, a stride with a remainder,
padding, overlapping pools, ties, exact zeros, logits of 1e4, small gradients) and compares each
result with a reference: `cnn_lib.naive`'s loops for convolution and pooling, the formulas for
the rest. Backward passes are also compared with central differences of their forward pass.
The verdict names the first failing case, the largest error and where it is, and the likely
mistake when running that known mistake on every failing case gives exactly the reader's output.

Arrays are NCHW and float64 in the checks; the notation is the book's: x input, y output, w
weights, b bias, dy = dL/dy, dx, dw, db, z logits, t labels, p the dropout probability.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from . import conv, layers, losses, optim, pool
from ._runner import Case, Exercise, Mistake, _fill, judge

EXERCISES: dict[str, Exercise] = {
    **conv.EXERCISES,
    **pool.EXERCISES,
    **layers.EXERCISES,
    **losses.EXERCISES,
    **optim.EXERCISES,
}


def check(name: str, fn: Callable, verbose: bool = True) -> bool:
    """Run the checker ``name`` on the reader's function ``fn``; True only if every case passes.

    name : one of EXERCISES (e.g. "conv2d_backward"); fn : the reader's function, called
    positionally with the signature ``EXERCISES[name].signature``. With ``verbose`` it prints
    the verdict: what passed or, for the first failing case, its settings, the largest error
    and where, and the likely mistake. The verdict is the same on every run.
    Raises KeyError for an unknown name and TypeError when name is not a str (the arguments
    swapped, say) or fn is not callable.
    """
    if not isinstance(name, str):
        if callable(name) and isinstance(fn, str):
            function = getattr(name, "__name__", "your_function")
            raise TypeError(
                f"check: the name comes first, then the function: check({fn!r}, {function})"
            )
        raise TypeError(f"check: expected the exercise's name (a str), got {type(name).__name__}")
    if name not in EXERCISES:
        close = difflib.get_close_matches(name, EXERCISES, n=1)
        raise KeyError(
            f"check: no exercise named {name!r}"
            + (f" (did you mean {close[0]!r}?)" if close else "")
            + f"; the exercises are {', '.join(EXERCISES)}"
        )
    if not callable(fn):
        raise TypeError(f"check: expected the function to check, got {type(fn).__name__}")
    verdict = judge(EXERCISES[name], fn)
    text = verdict.text
    other = getattr(fn, "__name__", None)
    if not verdict.passed and other in EXERCISES and other != name:
        text += "\n" + _fill(
            f"(The function checked is {other}; this is the checker for {name}.)", "  "
        )
    if verbose:
        print(text)
    return verdict.passed


__all__ = ["EXERCISES", "Case", "Exercise", "Mistake", "check"]
