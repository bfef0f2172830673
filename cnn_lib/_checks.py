"""Checks at the library's boundary: every error names the layer, what it expected and what came.

They run in constructors and at the top of `forward`/`backward`, never inside the arithmetic.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def as_int(value, name: str, owner: str, *, minimum: int = 1) -> int:
    """Accept a whole number (not a bool, not a pair) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be at least {minimum}, got {value!r}")
    return int(value)


def as_pair(value, name: str, owner: str, *, minimum: int = 1) -> tuple[int, int]:
    """Turn an int or a pair of ints into ``(h, w)``, each at least ``minimum``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
    ):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{owner}: {name} must be an int or a pair of ints (h, w), got {value!r}")
    if min(pair) < minimum:
        bound = "positive" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{owner}: {name} must be {bound}, got {value!r}")
    return pair


def as_padding(padding, kernel_size: tuple[int, int], stride: tuple[int, int], owner: str):
    """Resolve ``padding`` to ``(top, bottom, left, right)`` zeros around the input.

    ``padding`` is an int, a pair ``(ph, pw)``, ``"valid"`` (no padding) or ``"same"`` (output as
    large as the input). "same" follows PyTorch's rule: stride 1 only (Keras and TensorFlow also
    accept a stride s, padding to an output of ceil(H / s) rows, an amount that depends on H). An
    even kernel cannot be centred, so "same" puts the extra row and column at the bottom and
    right, as PyTorch does.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(
                    f"{owner}: padding='same' needs stride 1 (PyTorch's rule), got stride "
                    f"{stride}; give an int padding for a strided layer"
                )
            (kh, kw) = kernel_size
            top, left = (kh - 1) // 2, (kw - 1) // 2
            return (top, kh - 1 - top, left, kw - 1 - left)
        raise ValueError(
            f"{owner}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}"
        )
    ph, pw = as_pair(padding, "padding", owner, minimum=0)
    return (ph, ph, pw, pw)


def check_array(x, owner: str, what: str = "input") -> np.ndarray:
    """Reject anything that is not a NumPy array of floating point numbers."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{owner}: expected the {what} as a NumPy array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"{owner}: expected a floating point {what} (float32 or float64), got dtype {x.dtype}"
        )
    return x


def check_floats(owner: str, **arrays) -> None:
    """Refuse any of ``arrays`` (given by name: ``x=x, w=w``) that is not a floating point array.

    For the fast arithmetic behind the layers: it computes in the dtype it is given and converts
    nothing, so an integer array would round (a mean of 0) or wrap around (uint8 sums).
    """
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{owner}: expected {name} as a NumPy array, got {type(a).__name__}")
        if not np.issubdtype(a.dtype, np.floating):
            raise TypeError(
                f"{owner}: expected {name} as a floating point array (float32 or float64), "
                f"got dtype {a.dtype}"
            )


def as_floats(a, owner: str, what: str) -> np.ndarray:
    """``a`` as an array of floating point numbers, for functions that take any real numbers.

    Floating point arrays come back as they are (no copy); integers and booleans come back as a
    float64 copy, the type np.mean computes them in, so that no difference or sum wraps around
    in a small integer type. Anything else (complex numbers, text, objects) raises TypeError.
    """
    a = np.asarray(a)
    if np.issubdtype(a.dtype, np.floating):
        return a
    if np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_:
        return a.astype(np.float64)
    raise TypeError(
        f"{owner}: expected {what} as real numbers (floating point or integer), got dtype {a.dtype}"
    )


def check_dtype(x: np.ndarray, dtype: np.dtype, owner: str) -> None:
    """Layers with parameters compute in their parameters' dtype and do not convert silently."""
    if x.dtype != dtype and not x.dtype.isnative:
        # float32 in the other byte order (from a file, say) is not np.float32, and building the
        # layer "with dtype=np.float32" would not help: the byte order is what must change.
        order = {">": "big-endian", "<": "little-endian"}[x.dtype.byteorder]
        raise TypeError(
            f"{owner}: the input is {x.dtype.name} in {order} byte order (dtype {x.dtype.str}); "
            f"the layer computes in {np.dtype(dtype).name} in this machine's native byte order: "
            f"convert it with x.astype(np.{np.dtype(dtype).name})"
        )
    if x.dtype != dtype:
        raise TypeError(
            f"{owner}: parameters are {np.dtype(dtype).name} but the input is {x.dtype}; "
            f"convert it with x.astype(np.{np.dtype(dtype).name}) or build the layer with "
            f"dtype=np.{x.dtype.name}"
        )


def check_grad_shape(dy, expected: tuple[int, ...], owner: str) -> np.ndarray:
    """`backward` takes a gradient shaped exactly like the last `forward` output."""
    if expected is None:
        raise RuntimeError(f"{owner}: backward() called before forward()")
    if not isinstance(dy, np.ndarray):
        raise TypeError(f"{owner}: expected the gradient dy as a NumPy array, got {type(dy)}")
    if not np.issubdtype(dy.dtype, np.floating):
        raise TypeError(
            f"{owner}: expected a floating point gradient dy (float32 or float64), "
            f"got dtype {dy.dtype}"
        )
    if dy.shape != tuple(expected):
        raise ValueError(
            f"{owner}: expected dy of shape {tuple(expected)} (the forward output), got {dy.shape}"
        )
    return dy


def check_number(value, name: str, owner: str, low: float, high: float, closed: str) -> float:
    """``value`` as a float, if it is a real number in the interval from ``low`` to ``high``:
    ``closed`` says which ends belong to it, "[)" for [low, high), "()" for (low, high), ....

    Raises TypeError for anything but a real number (bools and nan included) and ValueError for
    a number outside the interval; an integer too large for a float counts as infinite.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float's range
        number = math.inf if value > 0 else -math.inf
    if math.isnan(number):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    ok_low = number >= low if closed[0] == "[" else number > low
    ok_high = number <= high if closed[1] == "]" else number < high
    if not (ok_low and ok_high):
        interval = f"{closed[0]}{low}, {high}{closed[1]}"
        shown = repr(value) if math.isfinite(number) else repr(number)
        raise ValueError(f"{owner}: {name} must lie in {interval}, got {shown}")
    return number
