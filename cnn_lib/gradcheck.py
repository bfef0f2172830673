"""Numerical gradients by central differences, to check every analytic backward pass.

The check uses a random upstream gradient g: the scalar L = sum(forward(x) * g) has
dL/dx = backward(g), so one scalar tests the whole Jacobian in a random direction per output.
Run it in float64: in float32 the rounding error of the differences swamps the comparison.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dF/dx by central differences, (f(x + eps) - f(x - eps)) / (2 eps), one entry at a time.

    ``f`` takes no arguments and reads ``x``, which is nudged in place and always restored.
    x : any shape -> gradient of the same shape.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)  # a view: nudging it nudges x
    for k in range(flat.size):
        original = flat[k]
        try:
            flat[k] = original + eps
            f_plus = f()
            flat[k] = original - eps
            f_minus = f()
        finally:
            flat[k] = original
        grad.reshape(-1)[k] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||): 0 for equal arrays, 1 for opposite ones, scale-free."""
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
    """Relative error of the layer's analytic gradients against numerical ones.

    Returns {"x": error of dx, "W": error of grads["W"], ...}: one entry for the input and one
    per parameter. The layer itself is left untouched: every evaluation runs on a fresh copy, so
    a layer that draws random numbers (dropout) draws the same ones every time.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    x = np.array(x, copy=True)
    pristine = copy.deepcopy(layer)

    analytic = copy.deepcopy(pristine)
    y = analytic.forward(x.copy(), training=training)
    g = rng.standard_normal(y.shape).astype(y.dtype)
    errors = {"x": None}
    dx = analytic.backward(g.copy())

    def scalar_loss(x_in, params):
        trial = copy.deepcopy(pristine)
        for key, value in params.items():
            trial.params[key] = value
        return float(np.sum(trial.forward(x_in.copy(), training=training) * g))

    params = {k: v.copy() for k, v in pristine.params.items()}
    errors["x"] = relative_error(dx, numerical_gradient(lambda: scalar_loss(x, params), x, eps))
    for key in params:
        numeric = numerical_gradient(lambda: scalar_loss(x, params), params[key], eps)
        errors[key] = relative_error(analytic.grads[key], numeric)
    return errors


def check_gradients(layer, x: np.ndarray, **kwargs) -> float:
    """The worst relative error over the input and every parameter (see `gradient_errors`)."""
    return max(gradient_errors(layer, x, **kwargs).values())
