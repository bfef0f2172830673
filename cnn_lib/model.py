"""A network as a list of layers: `Sequential`, and `reference_cnn`, the book's model.

`Sequential` chains ``forward`` through the layers and ``backward`` back through them, names
every parameter ``"<layer index>.<key>"`` (``"0.w"`` is the first layer's weights), prints a
summary, and saves and loads its weights as a ``.npz`` file of plain arrays. `Sequential.load`
raises `WeightsFileError` (a ValueError) for a file it cannot use.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from ._files import WeightsFileError, read_npz, write_atomically
from .layers import Conv2D, Dense, Dropout, Flatten, Layer, MaxPool2D, ReLU


class Parameter(NamedTuple):
    """One parameter array of a model, with its name and its gradient (None before backward)."""

    name: str
    value: np.ndarray
    grad: np.ndarray | None


class Sequential:
    """Layers applied one after the other: y = layers[-1](... layers[1](layers[0](x))).

    x : (N, ...) whatever the first layer takes -> y : what the last layer gives, usually
    logits (N, K).
    """

    def __init__(self, layers: list[Layer]) -> None:
        """``layers``: Layer objects, each at one position only (ValueError for a layer object
        given twice: a layer keeps what its last forward pass needs for backward). For the same
        reason a layer object belongs to one model: two models that share one would each
        backpropagate through the other's last forward pass, and that goes unnoticed."""
        layers = list(layers)
        if not layers:
            raise ValueError("Sequential: expected at least one layer, got an empty list")
        first_at: dict[int, int] = {}  # id of a layer object -> its first position
        for i, layer in enumerate(layers):
            if not all(hasattr(layer, a) for a in ("forward", "backward", "params", "grads")):
                raise TypeError(
                    f"Sequential: layer {i} must be a Layer (forward, backward, params, grads), "
                    f"got {type(layer).__name__}"
                )
            if id(layer) in first_at:
                raise ValueError(
                    f"Sequential: layers {first_at[id(layer)]} and {i} are one and the same "
                    f"{layer!r} object; a layer keeps only what its last forward pass needs for "
                    "backward, so the gradients would be wrong: give each position a layer of "
                    f"its own ({type(layer).__name__}(...) again)"
                )
            first_at[id(layer)] = i
        self.layers = layers

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self.forward(x, training=training)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x : (N, ...) -> the last layer's output, e.g. logits (N, K).

        ``training=True`` switches dropout on and keeps what backward needs.
        """
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """dy = dL/d(output), e.g. dlogits (N, K) -> dx = dL/dx, shaped like the input.

        Fills every layer's ``grads``; changes no parameter. Returns None when the first layer
        was built with ``input_grad=False`` (as in `reference_cnn`): the gradient with respect
        to the input images is then not computed at all.
        """
        for i in reversed(range(len(self.layers))):
            dy = self.layers[i].backward(dy)
            if dy is None and i > 0:
                raise RuntimeError(
                    f"Sequential: layer {i} ({self.layers[i]!r}) returned no input gradient, so "
                    "the layers before it would get none; only the first layer may be built "
                    "with input_grad=False"
                )
        return dy

    def parameters(self) -> list[Parameter]:
        """Every parameter as (name, value, grad), in layer order; value is the live array."""
        return [
            Parameter(f"{i}.{key}", value, layer.grads.get(key))
            for i, layer in enumerate(self.layers)
            for key, value in layer.params.items()
        ]

    def n_parameters(self) -> int:
        """How many numbers the model learns (weights and biases together)."""
        return sum(p.value.size for p in self.parameters())

    def output_shapes(self, input_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The output shape of every layer for one example of ``input_shape``, e.g. (1, 28, 28).

        Returned without the batch axis: [(16, 28, 28), (16, 28, 28), (16, 14, 14), ...].
        """
        shape = (1, *input_shape)
        shapes = []
        for layer in self.layers:
            shape = tuple(int(n) for n in layer.output_shape(shape))
            shapes.append(shape[1:])
        return shapes

    def summary(self, input_shape: tuple[int, ...]) -> str:
        """A table of the layers, their output shapes and parameter counts.

        ``input_shape`` is the shape of one example, without the batch axis: (C, H, W).
        """
        rows = [("#", "layer", "output shape", "parameters")]
        rows.append(("", "input", _fmt_shape(input_shape), ""))
        for i, (layer, shape) in enumerate(
            zip(self.layers, self.output_shapes(input_shape), strict=True)
        ):
            count = sum(v.size for v in layer.params.values())
            rows.append((str(i), repr(layer), _fmt_shape(shape), f"{count:,}" if count else "0"))
        widths = [max(len(row[c]) for row in rows) for c in range(4)]
        rule = "  ".join("-" * w for w in widths)

        def line(row):
            return "  ".join(
                cell.rjust(w) if c in (0, 3) else cell.ljust(w)
                for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()

        body = [line(rows[0]), rule, *(line(r) for r in rows[1:]), rule]
        body.append(f"total parameters: {self.n_parameters():,}")
        return "\n".join(body)

    def save(self, path: str | os.PathLike) -> None:
        """Write every parameter to ``path`` as an .npz archive, keyed by name ("0.w", ...).

        The archive is written to a temporary file next to ``path`` and then renamed over it,
        so ``path`` holds either the old file or the complete new one, never half of one.
        Raises ValueError for an empty path, IsADirectoryError for a directory,
        FileNotFoundError for a directory that does not exist and PermissionError for one that
        cannot be written to, before anything is written.
        """
        arrays = {p.name: p.value for p in self.parameters()}
        write_atomically(path, lambda f: np.savez(f, **arrays), "Sequential.save")

    def load(self, path: str | os.PathLike) -> None:
        """Copy the parameters saved by `save` into this model.

        Every array is checked first (the same names, shapes and dtypes as this model's); on any
        mismatch nothing is changed. Nothing in the file is ever unpickled.

        Raises FileNotFoundError for a missing file, and WeightsFileError (a ValueError) naming
        the file for one that is not an .npz archive of plain arrays (a pickle, a single .npy
        array, an archive holding Python objects, a damaged or truncated archive, an empty
        file, a directory, ...) or whose arrays do not fit this model (a missing or unexpected
        name, a wrong shape or dtype).
        """
        expected = {p.name: p.value for p in self.parameters()}
        loaded = read_npz(path)
        missing = sorted(expected.keys() - loaded.keys())
        extra = sorted(loaded.keys() - expected.keys())
        if missing or extra:
            raise WeightsFileError(
                f"{path}: the saved parameters do not match this model: "
                f"missing {missing or 'none'}, unexpected {extra or 'none'}"
            )
        for name, value in expected.items():
            got = loaded[name]
            if got.shape != value.shape:
                raise WeightsFileError(
                    f"{path}: parameter {name!r} expected shape {value.shape}, got {got.shape}"
                )
            # The same type in the other byte order (a file from a big-endian machine) is fine:
            # copying into the parameter converts it.
            if got.dtype.newbyteorder("=") != value.dtype:
                raise WeightsFileError(
                    f"{path}: parameter {name!r} expected dtype {value.dtype}, got {got.dtype}"
                )
        for name, value in expected.items():
            value[...] = loaded[name]


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return str(tuple(int(n) for n in shape))


def reference_cnn(
    rng: np.random.Generator | None = None,
    dropout: float = 0.25,
    dtype=np.float32,
    input_grad: bool = False,
) -> Sequential:
    """The book's CNN for 28 x 28 grey images in 10 classes (Fashion-MNIST, MNIST).

    x : (N, 1, 28, 28) -> logits : (N, 10)

        Conv2D(1, 16, 3, padding=1)  ReLU  MaxPool2D(2)    -> (N, 16, 14, 14)
        Conv2D(16, 32, 3, padding=1) ReLU  MaxPool2D(2)    -> (N, 32, 7, 7)
        Flatten  Dropout(dropout)                          -> (N, 1568)
        Dense(1568, 128) ReLU  Dropout(dropout)            -> (N, 128)
        Dense(128, 10)                                     -> (N, 10)

    ``rng`` seeds both the initial weights and the dropout masks, so one seed fixes a whole run.
    Training needs no gradient with respect to the images, so the first convolution is built
    with ``input_grad=False`` and ``model.backward`` returns None; pass ``input_grad=True`` to
    get dL/dx (to see which pixels a prediction is most sensitive to, say).
    """
    rng = np.random.default_rng() if rng is None else rng
    return Sequential(
        [
            Conv2D(1, 16, 3, padding=1, rng=rng, dtype=dtype, input_grad=input_grad),
            ReLU(),
            MaxPool2D(2),
            Conv2D(16, 32, 3, padding=1, rng=rng, dtype=dtype),
            ReLU(),
            MaxPool2D(2),
            Flatten(),
            Dropout(dropout, rng=rng),
            Dense(32 * 7 * 7, 128, rng=rng, dtype=dtype),
            ReLU(),
            Dropout(dropout, rng=rng),
            Dense(128, 10, rng=rng, dtype=dtype),
        ]
    )
