"""Optimizers: they turn gradients into updates, and are the only code that changes a parameter.

Both follow PyTorch's definitions, so that a reader can compare numbers with it. Each takes the
list that `Sequential.parameters()` returns, ``[(name, value, grad), ...]``, and updates every
``value`` in place; the state an optimizer keeps (momentum, moment estimates, Adam's step count)
is kept per parameter and keyed by name, so that a parameter which joins later (a layer unfrozen
after some steps) starts its own state from scratch, as in PyTorch.

    optimizer = Adam(lr=1e-3)
    loss.forward(model.forward(x, training=True), y)
    model.backward(loss.backward())
    optimizer.step(model.parameters())
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable

import numpy as np

try:
    from numpy.lib.array_utils import byte_bounds  # NumPy 2
except ImportError:  # NumPy 1.x
    from numpy import byte_bounds

from ._checks import check_number

Parameters = Iterable[tuple[str, np.ndarray, "np.ndarray | None"]]


def _is_float_array(a) -> bool:
    return isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)


def _describe_item(item) -> str:
    if isinstance(item, tuple):
        return f"a tuple of {len(item)}"
    if isinstance(item, np.ndarray):
        return f"an array of shape {item.shape}"
    return type(item).__name__


def _describe(a) -> str:
    if isinstance(a, np.ndarray):
        return f"dtype {a.dtype}"
    if isinstance(a, np.generic):
        return f"a NumPy scalar ({type(a).__name__})"
    return type(a).__name__


class Optimizer:
    """Shared bookkeeping: the learning rate, per-parameter state, and ``t``, the number of calls
    to `step` (each parameter's own count, where an update needs one, lives in its state)."""

    def __init__(self, lr: float) -> None:
        self.lr = lr
        self.state: dict[str, dict] = {}
        self.t = 0  # number of calls to step()

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        # A learning-rate schedule sets lr between epochs; it is checked every time.
        self._lr = check_number(value, "lr", self.name, 0.0, math.inf, "()")

    def step(self, parameters: Parameters) -> None:
        """Update every parameter in place from its gradient.

        parameters : iterable of (name, value, grad), value and grad floating point arrays of the
        same shape; usually ``model.parameters()`` right after ``model.backward(...)``. The state
        kept between steps (momentum, moment estimates) is found by ``name``: a parameter
        replaced by another of the same shape under the same name takes over its state.
        Raises RuntimeError for a missing gradient; TypeError for an array that is not floating
        point (an integer parameter cannot take a fractional step; an integer gradient would
        wrap around when squared) and for anything but (name, value, grad) tuples; ValueError
        for a gradient of the wrong shape, a name given twice, parameters that share memory
        with each other or with another parameter's gradient, a read-only parameter, a
        parameter whose shape or type differs from the state kept under its name, and an
        iterator that gives no parameters (an empty list is a model without parameters, and
        changes nothing). Every parameter is checked before any changes: after an error,
        nothing has changed.
        """
        checked: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if isinstance(parameters, (str, bytes)) or not hasattr(parameters, "__iter__"):
            raise TypeError(
                f"{self.name}: expected an iterable of (name, value, grad), such as "
                f"model.parameters(), got {type(parameters).__name__}"
            )
        for item in parameters:
            if not isinstance(item, tuple) or len(item) != 3:
                raise TypeError(
                    f"{self.name}: expected each parameter as a (name, value, grad) tuple, such "
                    f"as model.parameters() gives, got {_describe_item(item)}"
                )
            name, value, grad = item
            if not isinstance(name, str):
                raise TypeError(
                    f"{self.name}: parameter names must be str, got {type(name).__name__}"
                )
            if grad is None:
                raise RuntimeError(
                    f"{self.name}: parameter {name!r} has no gradient; "
                    "call backward() before step()"
                )
            if not (_is_float_array(value) and _is_float_array(grad)):
                raise TypeError(
                    f"{self.name}: parameter {name!r} and its gradient must be floating point "
                    f"arrays, got {_describe(value)} and {_describe(grad)}"
                )
            if grad.shape != value.shape:
                raise ValueError(
                    f"{self.name}: gradient of {name!r} has shape {grad.shape}, "
                    f"expected {value.shape} (the parameter's shape)"
                )
            if name in checked:
                raise ValueError(
                    f"{self.name}: parameter name {name!r} appears twice in one step; each "
                    "parameter needs a name of its own (its state is kept under it)"
                )
            if not value.flags.writeable:
                raise ValueError(
                    f"{self.name}: parameter {name!r} is read-only; the optimizer changes "
                    "parameters in place"
                )
            self._check_parameter(name, value, grad)
            self._check_state(name, value)
            checked[name] = (value, grad)
        self._check_no_shared_memory(checked)
        if not checked and iter(parameters) is parameters:  # a list may be empty, an iterator
            raise ValueError(  # that gives nothing was most likely used up by an earlier step
                f"{self.name}: the iterator of parameters gave none; was it used up by an "
                "earlier step? Pass model.parameters() afresh at every step"
            )
        self.t += 1
        for name, (value, grad) in checked.items():
            self._update(name, value, grad, self.state.setdefault(name, {}))

    def _check_parameter(self, name: str, value: np.ndarray, grad: np.ndarray) -> None:
        """Refuse a parameter this optimizer cannot update correctly (none, here)."""

    def _check_no_shared_memory(self, checked: dict) -> None:
        """Refuse parameters that share memory with each other, or with another parameter's
        gradient: updating one would change the other before its own update.

        Sorted by the first byte each array spans, an array can only share memory with those
        spans still open when it starts, so few pairs are compared (np.shares_memory is exact,
        and too slow to call for every pair of a model's parameters)."""
        spans = []  # (first byte, end byte, name, "value" or "gradient", array)
        for name, (value, grad) in checked.items():
            for kind, array in (("value", value), ("gradient", grad)):
                low, high = byte_bounds(array)
                if high > low:  # an empty array shares no memory
                    spans.append((low, high, name, kind, array))
        spans.sort(key=lambda span: span[0])
        open_spans: list = []
        for low, high, name, kind, array in spans:
            open_spans = [span for span in open_spans if span[1] > low]
            for _, _, other, other_kind, other_array in open_spans:
                harmless = (kind == other_kind == "gradient") or other == name
                if not harmless and np.shares_memory(array, other_array):
                    first, second = sorted([(other, other_kind), (name, kind)])
                    raise ValueError(
                        f"{self.name}: the {first[1]} of {first[0]!r} and the {second[1]} of "
                        f"{second[0]!r} share memory: updating one parameter would change the "
                        "other before its own update"
                    )
            open_spans.append((low, high, name, kind, array))

    def _check_state(self, name: str, value: np.ndarray) -> None:
        """Refuse a parameter that the state kept under its name was not made for."""
        native = value.dtype.newbyteorder("=")  # the byte order does not matter to NumPy
        for kept in self.state.get(name, {}).values():
            if isinstance(kept, np.ndarray) and (
                kept.shape != value.shape or kept.dtype.newbyteorder("=") != native
            ):
                raise ValueError(
                    f"{self.name}: parameter {name!r} is {value.shape} {native}, but the state "
                    f"kept for {name!r} is {kept.shape} {kept.dtype.newbyteorder('=')}: another "
                    "parameter under the same name (a layer replaced, or converted to another "
                    "type, since the last step?); make a new optimizer for the new model"
                )

    def _update(self, name: str, w: np.ndarray, dw: np.ndarray, state: dict) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay (as in PyTorch).

    g = dw + weight_decay * w
    v = momentum * v + g          (v starts at g on the first step; no momentum: v = g)
    w = w - lr * v
    """

    def __init__(self, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(lr)
        self.momentum = check_number(momentum, "momentum", self.name, 0.0, 1.0, "[)")
        self.weight_decay = check_number(
            weight_decay, "weight_decay", self.name, 0.0, math.inf, "[)"
        )

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr}, momentum={self.momentum}, weight_decay={self.weight_decay})"

    def _update(self, name, w, dw, state):
        g = dw + self.weight_decay * w if self.weight_decay else dw
        if self.momentum:
            if "v" not in state:
                state["v"] = np.array(g, dtype=w.dtype, copy=True)
            else:
                state["v"] *= self.momentum
                state["v"] += g
            g = state["v"]
        w -= (self.lr * g).astype(w.dtype, copy=False)


class Adam(Optimizer):
    """Adam: step along the gradient's running mean, scaled by its running root mean square.

    g = dw + weight_decay * w
    m = beta1 * m + (1 - beta1) * g          (m and v start at zero)
    v = beta2 * v + (1 - beta2) * g**2
    m_hat = m / (1 - beta1**t),  v_hat = v / (1 - beta2**t)   (bias correction, t = 1, 2, ...)
    w = w - lr * m_hat / (sqrt(v_hat) + eps)

    ``t`` counts the steps of this parameter, not of the optimizer: m and v of a parameter that
    joins late start at zero, so its first step needs the first step's correction, t = 1
    (PyTorch's ``torch.optim.Adam`` keeps the same count per parameter).

    Parameters and gradients in float16 are refused (TypeError): eps = 1e-8 and the squares of
    small gradients round to 0 there, and those of large ones overflow.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{self.name}: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (
            check_number(betas[0], "betas[0]", self.name, 0.0, 1.0, "[)"),
            check_number(betas[1], "betas[1]", self.name, 0.0, 1.0, "[)"),
        )
        self.eps = check_number(eps, "eps", self.name, 0.0, math.inf, "()")
        self.weight_decay = check_number(
            weight_decay, "weight_decay", self.name, 0.0, math.inf, "[)"
        )

    def __repr__(self) -> str:
        return (
            f"Adam(lr={self.lr}, betas={self.betas}, eps={self.eps}, "
            f"weight_decay={self.weight_decay})"
        )

    def _check_parameter(self, name, value, grad):
        for what, array in ((f"parameter {name!r}", value), (f"the gradient of {name!r}", grad)):
            if np.finfo(array.dtype).bits < 32:
                raise TypeError(
                    f"{self.name}: {what} is {array.dtype}, in which eps="
                    f"{self.eps} and the squares of small gradients round to 0 and those of "
                    "large ones overflow; use float32 or float64"
                )

    def _update(self, name, w, dw, state):
        beta1, beta2 = self.betas
        g = dw + self.weight_decay * w if self.weight_decay else dw
        if "m" not in state:
            state["m"] = np.zeros_like(w)
            state["v"] = np.zeros_like(w)
            state["t"] = 0
        state["t"] += 1
        m, v, t = state["m"], state["v"], state["t"]
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * np.square(g)
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        w -= (self.lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(w.dtype, copy=False)


def cosine_schedule(lr: float, epochs: int, final_fraction: float = 0.05) -> Callable[[int], float]:
    """A learning rate that falls along half a cosine, from ``lr`` to ``final_fraction * lr``.

    Returns schedule(epoch) for epoch = 0 .. epochs - 1: lr at epoch 0, final_fraction * lr at
    the last epoch. Large steps early cover ground; small steps late settle into a minimum.
    Use it as ``fit(..., lr_schedule=cosine_schedule(1e-3, epochs))``. ``final_fraction`` lies
    in (0, 1], and ``final_fraction * lr`` must not round to 0: the optimizers take only rates
    above 0 (ValueError otherwise).
    """
    lr = check_number(lr, "lr", "cosine_schedule", 0.0, math.inf, "()")
    final_fraction = check_number(final_fraction, "final_fraction", "cosine_schedule", 0, 1, "(]")
    if lr * final_fraction == 0.0:
        raise ValueError(
            f"cosine_schedule: the last rate, final_fraction * lr = {final_fraction} * {lr}, "
            "rounds to 0, which no optimizer takes"
        )
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"cosine_schedule: epochs must be an int >= 0, got {epochs!r}")

    def schedule(epoch: int) -> float:
        if epochs <= 1:
            return lr
        progress = min(max(epoch, 0), epochs - 1) / (epochs - 1)  # 0 at the start, 1 at the end
        return lr * (
            final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))
        )

    return schedule
