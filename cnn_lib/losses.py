"""Softmax and cross-entropy, stable for logits of any size."""

from __future__ import annotations

import numpy as np

from ._checks import as_floats


def _logits(z, owner: str) -> np.ndarray:
    """z as floating point logits of shape (..., K), K >= 1: integers in float64, where
    ``z - max`` cannot wrap around (in uint8, 1 - 3 is 254)."""
    z = as_floats(z, owner, "logits z")
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ValueError(f"{owner}: expected logits z of shape (..., K) with K >= 1, got {z.shape}")
    return z


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log(softmax(z)) along the last axis, computed as z - max - log(sum(exp(z - max))).

    Subtracting the maximum changes nothing mathematically and keeps every exponent <= 0, so
    exp never overflows; the largest term is exp(0) = 1, so the sum never underflows to 0.
    z : (..., K) -> (..., K), in z's floating point dtype; integer z is computed in float64.
    Raises ValueError for K = 0 and TypeError for complex numbers, text or objects.
    """
    z = _logits(z, "log_softmax")
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(z: np.ndarray) -> np.ndarray:
    """Probabilities along the last axis, without overflow. z : (..., K) -> (..., K).

    Integer z is computed in float64; errors as in `log_softmax`.
    """
    return np.exp(log_softmax(_logits(z, "softmax")))


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(logits) against integer labels.

    forward(logits (N, K), labels (N,)) -> float, the mean of -log softmax(logits)[n, labels[n]].
    backward() -> dlogits (N, K) = (softmax(logits) - onehot(labels)) / N.

    Raises TypeError for logits that are not floating point or labels that are not integers, and
    ValueError for mismatched shapes, labels outside [0, K - 1], and an empty batch (N = 0): the
    mean of no losses is undefined. PyTorch returns nan there; cnn_lib refuses, because a nan
    would silently spoil every running mean it is added to (an epoch's loss, say).
    """

    name = "SoftmaxCrossEntropy"

    def __init__(self) -> None:
        self._probs = None
        self._labels = None

    def __repr__(self) -> str:
        return "SoftmaxCrossEntropy()"

    def _check(self, logits, labels) -> None:
        if not isinstance(logits, np.ndarray) or not np.issubdtype(logits.dtype, np.floating):
            raise TypeError(f"{self.name}: expected logits as a float array (N, K), got {logits!r}")
        if logits.ndim != 2:
            raise ValueError(f"{self.name}: expected logits of shape (N, K), got {logits.shape}")
        labels = np.asarray(labels)
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"{self.name}: expected integer class labels, got dtype {labels.dtype}")
        if labels.shape != (logits.shape[0],):
            raise ValueError(
                f"{self.name}: expected labels of shape ({logits.shape[0]},) to match logits "
                f"{logits.shape}, got {labels.shape}"
            )
        N, K = logits.shape
        if N == 0 or K == 0:
            raise ValueError(
                f"{self.name}: expected at least one example and one class, got logits of shape "
                f"{logits.shape}{' (the mean over an empty batch is undefined)' if N == 0 else ''}"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= K):
            bad = labels[(labels < 0) | (labels >= K)][0]
            raise ValueError(
                f"{self.name}: labels must lie in [0, {K - 1}] for {K} classes, got {bad}"
            )

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        self._check(logits, labels)
        labels = np.asarray(labels)
        N = logits.shape[0]
        log_probs = log_softmax(logits)
        self._probs = np.exp(log_probs)
        self._labels = labels
        return float(-log_probs[np.arange(N), labels].mean())

    __call__ = forward

    def backward(self) -> np.ndarray:
        """dL/dlogits : (N, K) = (softmax - onehot) / N, for the last forward call."""
        if self._probs is None:
            raise RuntimeError(f"{self.name}: backward() called before forward()")
        N = self._probs.shape[0]
        dlogits = self._probs.copy()
        dlogits[np.arange(N), self._labels] -= 1
        dlogits /= N
        return dlogits
