"""Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d, with PyTorch's parameters, defaults, padding
modes and repr."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from glassgrad import creation
from glassgrad.nn import init
from glassgrad.nn.functional import conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, pad
from glassgrad.nn.module import Module
from glassgrad.nn.parameter import Parameter
from glassgrad.ops.utils import ntuple

if TYPE_CHECKING:
    from glassgrad._dtype import DTypeLike
    from glassgrad.tensor import Tensor

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What Conv1d and Conv2d share: parameter shapes, checks, initialisation and repr."""

    _dims = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | str = 0,
        dilation: int | tuple[int, ...] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__()
        name, n = type(self).__name__, self._dims
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = ntuple(kernel_size, n, "kernel_size", name)
        self.stride = ntuple(stride, n, "stride", name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = ntuple(padding, n, "padding", name)
        self.dilation = ntuple(dilation, n, "dilation", name)
        self.transposed = False
        self.output_padding = (0,) * n
        self.groups = groups
        self.padding_mode = padding_mode
        shape = self._weight_shape(in_channels, out_channels, groups)
        self.weight = Parameter(creation.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _weight_shape(self, in_channels, out_channels, groups):
        return (out_channels, in_channels // groups) + self.kernel_size

    def _padded(self, input):
        """``input`` and the padding left for the convolution: with a padding_mode other than zeros,
        the input is padded here (reflect/replicate/circular) and the convolution pads nothing."""
        if self.padding_mode == "zeros":
            return input, self.padding
        if self.padding == "valid":
            return input, 0
        if self.padding == "same":
            total = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            sides = [(t // 2, t - t // 2) for t in total]
        else:
            sides = [(p, p) for p in self.padding]
        amounts = [a for pair in reversed(sides) for a in pair]  # F.pad wants the last dimension first
        return pad(input, amounts, mode=self.padding_mode), 0

    def reset_parameters(self):
        init._default_weight_and_bias_(self.weight, self.bias)

    def extra_repr(self):
        n = self._dims
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W).

    Output: (N, C_out, H_out, W_out), H_out = (H + 2*padding - dilation*(kernel_size-1) - 1) // stride + 1.
    ``weight`` (out_channels, in_channels/groups, kh, kw) ~ kaiming_uniform_(a=sqrt(5)), i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels/groups * kh * kw;
    ``bias`` (out_channels,) from the same bound.
    """

    _dims = 2

    def forward(self, input: Tensor) -> Tensor:
        input, padding = self._padded(input)
        return conv2d(input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) or (C_in, L). Output: (N, C_out, L_out).
    ``weight`` (out_channels, in_channels/groups, k); initialisation as Conv2d."""

    _dims = 1

    def forward(self, input: Tensor) -> Tensor:
        input, padding = self._padded(input)
        return conv1d(input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    """What ConvTranspose1d and ConvTranspose2d share: weight (in_channels, out_channels/groups, *kernel),
    initialised as a convolution's with fan_in = out_channels/groups * prod(kernel)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | str = 0,
        output_padding: int | tuple[int, ...] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, ...] = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        name = type(self).__name__
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple of ints, got {padding!r}")
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, device, dtype
        )
        self.transposed = True
        self.output_padding = ntuple(output_padding, self._dims, "output_padding", name)

    def _weight_shape(self, in_channels, out_channels, groups):
        return (in_channels, out_channels // groups) + self.kernel_size

    def _output_padding(self, input, output_size):
        """The output_padding that makes the output ``output_size`` (its last dims), checked."""
        if output_size is None:
            return self.output_padding
        n = self._dims
        size = list(output_size.tolist() if hasattr(output_size, "tolist") else output_size)
        if len(size) == n + 2 or (len(size) == n + 1 and input.ndim == n + 1):
            size = size[-n:]
        if len(size) != n:
            raise ValueError(
                f"ConvTranspose{n}D: for {input.ndim}D input, output_size must have {n} or {n + 2} elements (got {len(size)})"
            )
        spatial = tuple(input.shape[-n:])
        lows, highs = [], []
        for d in range(n):
            low = (
                (spatial[d] - 1) * self.stride[d]
                - 2 * self.padding[d]
                + self.dilation[d] * (self.kernel_size[d] - 1)
                + 1
            )
            lows.append(low)
            highs.append(low + self.stride[d] - 1)
        for d in range(n):
            if not lows[d] <= size[d] <= highs[d]:
                raise ValueError(
                    f"requested an output size of {size}, but valid sizes range from {lows} to {highs} "
                    f"(for an input of {list(spatial)})"
                )
        return tuple(int(size[d] - lows[d]) for d in range(n))


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution over (N, C_in, H, W) or (C_in, H, W); ``forward(input, output_size=None)``.

    Output: (N, C_out, H_out, W_out), H_out = (H-1)*stride - 2*padding + dilation*(kh-1) + output_padding + 1.
    ``weight`` (in_channels, out_channels/groups, kh, kw); ``bias`` (out_channels,).
    """

    _dims = 2

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        output_padding = self._output_padding(input, output_size)
        return conv_transpose2d(
            input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups, self.dilation
        )


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over (N, C_in, L) or (C_in, L); weight (in_channels, out_channels/groups, k)."""

    _dims = 1

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        output_padding = self._output_padding(input, output_size)
        return conv_transpose1d(
            input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups, self.dilation
        )


class Conv3d(_ConvNd):
    """3-D convolution over (N, C_in, D, H, W) or (C_in, D, H, W). Output (N, C_out, D_out, H_out, W_out).
    ``weight`` (out_channels, in_channels/groups, kd, kh, kw); initialisation as Conv2d."""

    _dims = 3

    def forward(self, input: Tensor) -> Tensor:
        input, padding = self._padded(input)
        return conv3d(input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)
