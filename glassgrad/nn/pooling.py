"""Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d (PyTorch's names and repr)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from glassgrad.nn.functional import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from glassgrad.nn.module import Module

if TYPE_CHECKING:
    from glassgrad.tensor import Tensor


class MaxPool2d(Module):
    """Max over kernel_size windows. Input (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out),
    H_out = floor or ceil((H + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1.
    ``stride`` defaults to ``kernel_size``; padding counts as -inf."""

    def __init__(
        self,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] | None = None,
        padding: int | tuple[int, ...] = 0,
        dilation: int | tuple[int, ...] = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        return max_pool2d(
            input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices
        )

    def extra_repr(self):
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """Mean over kernel_size windows, zero padding. Input (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out).
    ``count_include_pad`` counts padded zeros in the divisor; ``divisor_override`` replaces it."""

    def __init__(
        self,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] | None = None,
        padding: int | tuple[int, ...] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to ``output_size`` (int, pair, None entries keep the input size) for any input size.
    Input (N, C, H, W) or (C, H, W) -> (N, C, *output_size)."""

    def __init__(self, output_size: int | tuple[int, ...]) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to ``output_size`` for any input size; ``return_indices`` also returns the
    flat H*W index of each maximum. Input (N, C, H, W) or (C, H, W) -> (N, C, *output_size)."""

    def __init__(self, output_size: int | tuple[int, ...], return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class MaxPool3d(MaxPool2d):
    """Max over kernel_size windows of (N, C, D, H, W) or (C, D, H, W); padding counts as -inf."""

    def forward(self, input: Tensor) -> Tensor:
        from glassgrad.nn.functional import max_pool3d

        return max_pool3d(
            input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices
        )


class AvgPool3d(AvgPool2d):
    """Mean over kernel_size windows of (N, C, D, H, W) or (C, D, H, W), zero padding."""

    def forward(self, input: Tensor) -> Tensor:
        from glassgrad.nn.functional import avg_pool3d

        return avg_pool3d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class MaxPool1d(MaxPool2d):
    """Max over kernel_size windows of (N, C, L) or (C, L); padding counts as -inf."""

    def forward(self, input: Tensor) -> Tensor:
        from glassgrad.nn.functional import max_pool1d

        return max_pool1d(
            input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices
        )


class AvgPool1d(Module):
    """Mean over kernel_size windows of (N, C, L) or (C, L), zero padding."""

    def __init__(
        self,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] | None = None,
        padding: int | tuple[int, ...] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        from glassgrad.ops.utils import ntuple as _ntuple

        super().__init__()
        self.kernel_size = _ntuple(kernel_size, 1, "kernel_size", "AvgPool1d")
        self.stride = _ntuple(stride if stride is not None else kernel_size, 1, "stride", "AvgPool1d")
        self.padding = _ntuple(padding, 1, "padding", "AvgPool1d")
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        from glassgrad.nn.functional import avg_pool1d

        return avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """Average pooling of (N, C, L) or (C, L) to a length of ``output_size``."""

    def forward(self, input: Tensor) -> Tensor:
        from glassgrad.nn.functional import adaptive_avg_pool1d

        return adaptive_avg_pool1d(input, self.output_size)


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Max pooling of (N, C, L) or (C, L) to a length of ``output_size``."""

    def forward(self, input: Tensor) -> Tensor:
        from glassgrad.nn.functional import adaptive_max_pool1d

        return adaptive_max_pool1d(input, self.output_size, self.return_indices)
