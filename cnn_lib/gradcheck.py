"""Numerical gradients by central differences, to check every analytic backward pass.

The check uses a random upstream gradient g: the scalar L = sum(forward(x) * g) has
dL/dx = backward(g), so one scalar tests the whole Jacobian in a random direction per output.

It runs in float64, always. A difference quotient (L(x + eps) - L(x - eps)) / (2 eps) divides
the rounding error of L by 2 eps: float64 keeps about 16 significant digits, so with eps = 1e-6
that error is about 1e-10, a right gradient typically agrees to 1e-7 or better, and the usual
mistakes are off by 1e-2 or more. float32 keeps about 7 digits, so the rounding error alone is
then as large as a wrong gradient's (relative errors near 0.1 for correct float32 layers).
`gradient_errors` therefore checks a float64 copy of the layer on a float64 copy of the input,
and `numerical_gradient` refuses anything less precise than float64.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np

from ._checks import as_floats, check_number


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dF/dx by central differences, (f(x + eps) - f(x - eps)) / (2 eps), one entry at a time.

    ``f`` takes no arguments and reads ``x``, which is nudged in place and always restored.
    x : float64 array of any shape -> gradient of the same shape, float64.
    Raises TypeError for x that is not a NumPy array of float64 (or wider) numbers: an integer
    array cannot hold x + eps, and in float32 the differences are mostly rounding error. ``f``
    should compute in float64 too.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        got = f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"numerical_gradient: expected x as a float64 array, got {got}")
    if np.finfo(x.dtype).eps > np.finfo(np.float64).eps:
        raise TypeError(
            f"numerical_gradient: expected x as a float64 array, got dtype {x.dtype}: in "
            f"{x.dtype}, f(x + eps) - f(x - eps) is mostly rounding error. Give it a float64 x "
            "(and let f compute in float64)"
        )
    grad = np.zeros(x.shape, dtype=np.float64)
    for k in np.ndindex(x.shape):  # x itself, whatever its strides: a reshape might copy
        original = x[k]
        try:
            x[k] = original + eps
            f_plus = f()
            x[k] = original - eps
            f_minus = f()
        finally:
            x[k] = original
        grad[k] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||): 0 for equal arrays, 1 for opposite ones, scale-free.

    a, b : arrays of the same shape, computed in float64 (integers too, so no difference wraps
    around). Raises ValueError for different shapes, which broadcasting would silently pair up.
    """
    a = as_floats(a, "relative_error", "a").astype(np.float64, copy=False)
    b = as_floats(b, "relative_error", "b").astype(np.float64, copy=False)
    if a.shape != b.shape:
        raise ValueError(
            f"relative_error: expected a and b of the same shape, got {a.shape} and {b.shape}"
        )
    denominator = np.linalg.norm(a) + np.linalg.norm(b)
    if denominator == 0.0:
        return 0.0
    return float(np.linalg.norm(a - b) / denominator)


def gradient_errors(
    layer,
    x: np.ndarray,
    *,
    training: bool = False,
    eps: float = 1e-6,
    rng: np.random.Generator | None = None,
) -> dict[str, float]:
    """Relative error of the layer's analytic gradients against numerical ones, in float64.

    layer : a Layer; x : a floating point input of the shape the layer takes.
    Returns {"x": error of dx, "w": error of grads["w"], ...}: one entry for the input and one
    per parameter; no "x" for a layer built with ``input_grad=False`` that returns no dx (a dx
    it does return is checked). The check runs on float64 copies, ``layer.astype(np.float64)``
    and x, so a float32 layer is checked for its formulas, not for float32's rounding (see the
    module's docstring). The layer itself is left untouched: every evaluation runs on a fresh
    copy, so a layer that draws random numbers (dropout) draws the same ones every time.
    Raises TypeError for x that is not floating point, for a layer whose float64 copy does not
    compute in float64 (one that converts inside cannot be checked this way), for an object
    that is not one layer (a `Sequential`, say), for a backward that returns None from a layer
    that was not built with ``input_grad=False`` or leaves a parameter's gradient out, and for
    an eps that is not a number. Raises ValueError for a gradient of the wrong shape, an eps
    that is not positive and finite, a parameter named "x", and when there is nothing to check
    (an empty x, or no dx and no parameters).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    if not all(hasattr(layer, a) for a in ("forward", "backward", "params", "grads")) or not (
        isinstance(layer.params, dict) and isinstance(layer.grads, dict)
    ):
        raise TypeError(
            "gradient_errors: expected one layer (forward, backward, and params and grads as "
            f"dicts), got {type(layer).__name__}; check a Sequential's layers one by one"
        )
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        got = f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"gradient_errors: expected a floating point input x, got {got}")
    if x.size == 0:
        raise ValueError(
            f"gradient_errors: x of shape {x.shape} holds no numbers: there is nothing to check"
        )
    eps = check_number(eps, "eps", "gradient_errors", 0.0, math.inf, "()")
    if "x" in layer.params:
        raise ValueError(
            f"gradient_errors: {layer!r} has a parameter named 'x', the name of the input's "
            "entry in the result; rename the parameter"
        )
    x = x.astype(np.float64)  # a copy: numerical_gradient nudges it
    if hasattr(layer, "astype"):  # a Layer converts itself
        pristine = layer.astype(np.float64)
    else:  # any other object with params: a copy, its parameters converted
        pristine = copy.deepcopy(layer)
        pristine.params = {k: np.asarray(v, dtype=np.float64) for k, v in layer.params.items()}

    analytic = copy.deepcopy(pristine)
    y = analytic.forward(x.copy(), training=training)
    if y.dtype != np.float64:
        raise TypeError(
            f"gradient_errors: {layer!r} gives {y.dtype} for float64 parameters and input; the "
            "check needs it to compute in float64 throughout"
        )
    g = rng.standard_normal(y.shape)
    dx = analytic.backward(g.copy())
    if dx is None and getattr(layer, "input_grad", True):
        raise TypeError(
            f"gradient_errors: {layer!r}.backward returned None instead of dx (a missing "
            "return?); only a layer built with input_grad=False may return None"
        )

    def scalar_loss(x_in, params):
        trial = copy.deepcopy(pristine)
        for key, value in params.items():
            trial.params[key] = value
        return float(np.sum(trial.forward(x_in.copy(), training=training) * g))

    params = {k: v.astype(np.float64) for k, v in pristine.params.items()}  # copies
    if dx is None and not params:
        raise ValueError(
            f"gradient_errors: {layer!r} returns no dx and has no parameters: "
            "there is nothing to check"
        )
    analytic_grads = {"x": dx} if dx is not None else {}  # None: built with input_grad=False
    for key in params:
        if analytic.grads.get(key) is None:
            raise TypeError(f"gradient_errors: {layer!r}.backward did not fill grads[{key!r}]")
        analytic_grads[key] = analytic.grads[key]
    errors = {}
    for key, analytic_grad in analytic_grads.items():
        target = x if key == "x" else params[key]
        what = "dx" if key == "x" else f"grads[{key!r}]"
        analytic_grad = np.asarray(analytic_grad)
        if analytic_grad.shape != target.shape:
            raise ValueError(
                f"gradient_errors: {layer!r} gave {what} of shape {analytic_grad.shape}, "
                f"expected {target.shape}"
            )
        numeric = numerical_gradient(lambda: scalar_loss(x, params), target, eps)
        errors[key] = relative_error(analytic_grad, numeric)
    return errors


def check_gradients(layer, x: np.ndarray, **kwargs) -> float:
    """The worst relative error over the input and every parameter (see `gradient_errors`):
    nan if any of them is nan (a gradient holding nan or inf)."""
    errors = list(gradient_errors(layer, x, **kwargs).values())
    return math.nan if any(math.isnan(e) for e in errors) else max(errors)
