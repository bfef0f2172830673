"""The layers of a CNN, each with ``forward(x, training=False)`` and ``backward(dy)``.

NCHW layout and PyTorch's argument names. ``backward`` returns dx = dL/dx (None for a Conv2D
built with ``input_grad=False``) and fills ``grads`` (same keys and shapes as ``params``); it
never changes a parameter: an optimizer does that.
``forward`` takes a floating point NumPy array and ``backward`` a floating point ``dy``; anything
else raises TypeError (integers would round and wrap around). An empty batch (N = 0) gives empty
outputs of the right shape and zero parameter gradients, as in PyTorch.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from . import _checks as chk
from .conv import conv2d_backward, conv2d_forward, output_size
from .pool import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward


class Layer:
    """Base class: parameters, their gradients, and what forward keeps for backward."""

    # The parameters' dtype, which the input must match, in layers that have parameters; None in
    # the others, which compute in their input's dtype.
    dtype: np.dtype | None = None

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._out_shape: tuple[int, ...] | None = None  # None until forward has run

    @property
    def name(self) -> str:
        return type(self).__name__

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of forward's output for an input of ``input_shape``, without computing it."""
        return tuple(input_shape)

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self.forward(x, training=training)

    def astype(self, dtype) -> Layer:
        """A deep copy of this layer that computes in ``dtype``, a floating point type.

        Parameters and gradients are converted; the layer itself is unchanged. `gradcheck`
        uses it to check a float32 layer in float64. Raises TypeError for other dtypes.
        """
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"{self.name}: dtype must be a floating point type, got {dtype}")
        twin = copy.deepcopy(self)
        twin.params = {key: value.astype(dtype) for key, value in self.params.items()}
        twin.grads = {key: value.astype(dtype) for key, value in self.grads.items()}
        if twin.dtype is not None:
            twin.dtype = dtype
        return twin

    def _check_dy(self, dy: np.ndarray) -> np.ndarray:
        return chk.check_grad_shape(dy, self._out_shape, self.name)


def _he_normal(rng, shape, fan_in, dtype):
    """He initialisation: N(0, 2 / fan_in), which keeps the mean square of the activations steady,
    on average, through layers fed by ReLUs (He et al., "Delving deep into rectifiers", 2015)."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in PyTorch).

    x : (N, in_channels, H, W) -> y : (N, out_channels, H_out, W_out), with
    H_out = floor((H + top + bottom - kh) / stride_h) + 1 (and likewise W_out), where
    ``self.pads = (top, bottom, left, right)`` is ``padding`` resolved: an int p pads p on every
    side, a pair (ph, pw) ph at the top and bottom and pw at the sides, "valid" nothing, and
    "same" (stride 1 only) k - 1 rows and columns in all, so that H_out = H and W_out = W.
    params["w"] : (out_channels, in_channels, kh, kw), params["b"] : (out_channels,)

    ``input_grad=False`` is for a network's first layer, whose input is data: nothing needs
    dL/dx there, so `backward` fills ``grads`` and returns None instead of dx, skipping a
    matrix multiply and the col2im pass (PyTorch skips it the same way for an input that does
    not require a gradient).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
        input_grad: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = chk.as_int(in_channels, "in_channels", self.name)
        self.out_channels = chk.as_int(out_channels, "out_channels", self.name)
        self.kernel_size = chk.as_pair(kernel_size, "kernel_size", self.name)
        self.stride = chk.as_pair(stride, "stride", self.name)
        self.padding = padding
        self.pads = chk.as_padding(padding, self.kernel_size, self.stride, self.name)
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"{self.name}: dtype must be a floating point type, got {self.dtype}")
        rng = np.random.default_rng() if rng is None else rng
        kh, kw = self.kernel_size
        fan_in = self.in_channels * kh * kw
        self.params["w"] = _he_normal(
            rng, (self.out_channels, self.in_channels, kh, kw), fan_in, self.dtype
        )
        self.params["b"] = np.zeros(self.out_channels, dtype=self.dtype)
        if not isinstance(input_grad, bool):
            raise TypeError(f"{self.name}: input_grad must be True or False, got {input_grad!r}")
        self.input_grad = input_grad
        self._cache = None

    def __repr__(self) -> str:
        return (
            f"Conv2D({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding!r})"
        )

    def output_shape(self, input_shape):
        self._check_shape(tuple(input_shape))
        N, C, H, W = input_shape
        top, bottom, left, right = self.pads
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        return (
            N,
            self.out_channels,
            output_size(H, kh, sh, top, bottom),
            output_size(W, kw, sw, left, right),
        )

    def _check_shape(self, shape: tuple[int, ...]) -> None:
        """ValueError unless ``shape`` is (N, in_channels, H, W), padded at least as large as
        the kernel: what `forward` and `output_shape` both refuse."""
        if len(shape) != 4 or shape[1] != self.in_channels:
            raise ValueError(
                f"{self.name}: expected input of shape (N, {self.in_channels}, H, W), got {shape}"
            )
        top, bottom, left, right = self.pads
        kh, kw = self.kernel_size
        Hp, Wp = shape[2] + top + bottom, shape[3] + left + right
        if Hp < kh or Wp < kw:
            raise ValueError(
                f"{self.name}: the padded input is {Hp}x{Wp}, smaller than the {kh}x{kw} kernel "
                f"(input shape {shape}, padding {self.padding!r})"
            )

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x : (N, in_channels, H, W) -> y : (N, out_channels, H_out, W_out)."""
        chk.check_array(x, self.name)
        self._check_shape(x.shape)
        chk.check_dtype(x, self.dtype, self.name)
        # Free the previous window matrix before building the next one: lower peak memory, and
        # the allocator can hand the same pages back instead of faulting in fresh ones.
        self._cache = None
        y, self._cache = conv2d_forward(
            x, self.params["w"], self.params["b"], self.stride, self.pads
        )
        self._out_shape = y.shape
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """dy : (N, out_channels, H_out, W_out) -> dx : (N, in_channels, H, W); fills grads.

        Returns None instead of dx for a layer built with ``input_grad=False``.
        """
        dy = self._check_dy(dy).astype(self.dtype, copy=False)
        dx, self.grads["w"], self.grads["b"] = conv2d_backward(dy, self._cache, self.input_grad)
        return dx


class _Pool2D(Layer):
    """Shared set-up of the pooling layers: kernel, stride (defaults to the kernel), checks."""

    def __init__(self, kernel_size, stride=None) -> None:
        super().__init__()
        self.kernel_size = chk.as_pair(kernel_size, "kernel_size", self.name)
        self.stride = (
            self.kernel_size if stride is None else chk.as_pair(stride, "stride", self.name)
        )
        self._x_shape = None

    def __repr__(self) -> str:
        return f"{self.name}(kernel_size={self.kernel_size}, stride={self.stride})"

    def output_shape(self, input_shape):
        self._check_shape(tuple(input_shape))
        N, C, H, W = input_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        return (N, C, output_size(H, kh, sh, 0, 0), output_size(W, kw, sw, 0, 0))

    def _check_shape(self, shape: tuple[int, ...]) -> None:
        """ValueError unless ``shape`` is (N, C, H, W) with H x W at least the window."""
        if len(shape) != 4:
            raise ValueError(f"{self.name}: expected input of shape (N, C, H, W), got {shape}")
        kh, kw = self.kernel_size
        if shape[2] < kh or shape[3] < kw:
            raise ValueError(
                f"{self.name}: input of {shape[2]}x{shape[3]} is smaller than the "
                f"{kh}x{kw} window (input shape {shape})"
            )

    def _check_input(self, x: np.ndarray) -> None:
        chk.check_array(x, self.name)
        self._check_shape(x.shape)


class MaxPool2D(_Pool2D):
    """Maximum over each kh x kw window; windows may overlap when stride < kernel_size.

    x : (N, C, H, W) -> y : (N, C, H_out, W_out). The gradient of each window goes to its first
    maximum in row-major order, as in PyTorch.
    """

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._check_input(x)
        y, self._argmax = maxpool2d_forward(x, self.kernel_size, self.stride)
        self._x_shape, self._out_shape = x.shape, y.shape
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy = self._check_dy(dy)
        return maxpool2d_backward(dy, self._argmax, self._x_shape, self.kernel_size, self.stride)


class AvgPool2D(_Pool2D):
    """Mean over each kh x kw window. x : (N, C, H, W) -> y : (N, C, H_out, W_out)."""

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._check_input(x)
        y = avgpool2d_forward(x, self.kernel_size, self.stride)
        self._x_shape, self._out_shape = x.shape, y.shape
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy = self._check_dy(dy)
        return avgpool2d_backward(dy, self._x_shape, self.kernel_size, self.stride)


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...). A reshape of a contiguous array copies nothing."""

    def __repr__(self) -> str:
        return "Flatten()"

    def output_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"{self.name}: expected input of shape (N, ...), got {input_shape}")
        return (input_shape[0], math.prod(input_shape[1:]))

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        chk.check_array(x, self.name)
        if x.ndim < 2:
            raise ValueError(f"{self.name}: expected input of shape (N, ...), got {x.shape}")
        self._x_shape = x.shape
        # The feature count spelled out, not -1: NumPy cannot infer -1 for an empty batch (N = 0).
        y = x.reshape(x.shape[0], math.prod(x.shape[1:]))
        self._out_shape = y.shape
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return self._check_dy(dy).reshape(self._x_shape)


class ReLU(Layer):
    """max(0, x), elementwise; its gradient passes where x > 0 and stops elsewhere."""

    def __repr__(self) -> str:
        return "ReLU()"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        chk.check_array(x, self.name)
        self._mask = x > 0
        self._out_shape = x.shape
        return np.maximum(x, x.dtype.type(0))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy = self._check_dy(dy)
        return dy * self._mask


class Dropout(Layer):
    """Inverted dropout: while training, zero each unit with probability p and scale the rest by
    1 / (1 - p), so that evaluation needs no change at all (the layer is then the identity).

    x : any shape (N, ...) -> y : the same shape. Each entry of x gets its own draw from ``rng``:
    the keep mask r is ``rng.random(x.shape) >= p``, and y = x * r / (1 - p).
    p is the probability of *dropping* a unit, as in PyTorch and Keras; Srivastava et al.,
    "Dropout: a simple way to prevent neural networks from overfitting" (JMLR 2014), call the
    probability of keeping one p.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)):
            raise TypeError(f"{self.name}: p must be a number in [0, 1), got {p!r}")
        if not 0.0 <= p < 1.0:
            raise ValueError(f"{self.name}: p must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = np.random.default_rng() if rng is None else rng
        self._scale = None

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        chk.check_array(x, self.name)
        self._out_shape = x.shape
        if not training or self.p == 0.0:
            self._scale = None
            return x
        keep = self.rng.random(x.shape) >= self.p
        # The mask and the 1 / (1 - p) scale in one array, reused by backward.
        self._scale = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.p))
        return x * self._scale

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy = self._check_dy(dy)
        return dy if self._scale is None else dy * self._scale


class Dense(Layer):
    """Fully connected layer: y = x @ w + b.

    x : (N, in_features) -> y : (N, out_features)
    params["w"] : (in_features, out_features), params["b"] : (out_features,)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
    ) -> None:
        super().__init__()
        self.in_features = chk.as_int(in_features, "in_features", self.name)
        self.out_features = chk.as_int(out_features, "out_features", self.name)
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"{self.name}: dtype must be a floating point type, got {self.dtype}")
        rng = np.random.default_rng() if rng is None else rng
        self.params["w"] = _he_normal(
            rng, (self.in_features, self.out_features), self.in_features, self.dtype
        )
        self.params["b"] = np.zeros(self.out_features, dtype=self.dtype)

    def __repr__(self) -> str:
        return f"Dense({self.in_features}, {self.out_features})"

    def output_shape(self, input_shape):
        if len(input_shape) != 2 or input_shape[1] != self.in_features:
            raise ValueError(
                f"{self.name}: expected input of shape (N, {self.in_features}), got "
                f"{tuple(input_shape)}"
            )
        return (input_shape[0], self.out_features)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x : (N, in_features) -> y : (N, out_features)."""
        chk.check_array(x, self.name)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"{self.name}: expected input of shape (N, {self.in_features}), got {x.shape}"
            )
        chk.check_dtype(x, self.dtype, self.name)
        self._x = x
        y = x @ self.params["w"] + self.params["b"]
        self._out_shape = y.shape
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy : (N, out_features) -> dx : (N, in_features); fills grads."""
        dy = self._check_dy(dy).astype(self.dtype, copy=False)
        self.grads["w"] = self._x.T @ dy
        self.grads["b"] = dy.sum(axis=0)
        return dy @ self.params["w"].T
