"""Softmax and cross-entropy, stable for logits of any size."""

from __future__ import annotations

import numpy as np


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log(softmax(z)) along the last axis, computed as z - max - log(sum(exp(z - max))).

    Subtracting the maximum changes nothing mathematically and keeps every exponent <= 0, so
    exp never overflows; the largest term is exp(0) = 1, so the sum never underflows to 0.
    z : (..., K) -> (..., K)
    """
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(z: np.ndarray) -> np.ndarray:
    """Probabilities along the last axis, without overflow. z : (..., K) -> (..., K)."""
    return np.exp(log_softmax(z))


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(logits) against integer labels.

    forward(logits (N, K), labels (N,)) -> float, the mean of -log softmax(logits)[n, labels[n]].
    backward() -> dlogits (N, K) = (softmax(logits) - onehot(labels)) / N.
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
        K = logits.shape[1]
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
