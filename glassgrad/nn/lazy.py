"""Lazy modules: LazyLinear, LazyConv1d/2d, LazyBatchNorm1d/2d, whose input size is read from
the first input, as PyTorch's.

Before the first call their parameters are UninitializedParameters (an optimizer may already
hold them: they are materialized in place). The first call gives them their shapes, draws
them as the regular layer would, and turns the module into that layer (``cls_to_become``).
Loading a state dict into a lazy module gives its parameters the state dict's shapes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from glassgrad.autograd import grad_mode
from glassgrad.nn.conv import Conv1d, Conv2d
from glassgrad.nn.linear import Linear
from glassgrad.nn.normalization import BatchNorm1d, BatchNorm2d
from glassgrad.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy

if TYPE_CHECKING:
    from glassgrad._dtype import DTypeLike
    from glassgrad.nn.parameter import Parameter

__all__ = ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyConv1d", "LazyConv2d", "LazyLinear", "LazyModuleMixin"]


class LazyModuleMixin:
    """Infers parameter shapes at the first call through ``initialize_parameters(*input)``."""

    cls_to_become: type | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters, with_kwargs=True)

    def has_uninitialized_params(self):
        """Whether any parameter or buffer of this module (not its children) still has no shape."""
        tensors = list(self._parameters.values()) + list(self._buffers.values())
        return any(t is not None and is_lazy(t) for t in tensors)

    def initialize_parameters(self, *args, **kwargs):
        raise NotImplementedError(f"initialize_parameters is not implemented for {type(self).__name__}")

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        for table in (self._parameters, self._buffers):
            for name, tensor in table.items():
                key = prefix + name
                if tensor is not None and is_lazy(tensor) and key in state_dict:
                    tensor.materialize(tuple(state_dict[key].shape))
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        if not self.has_uninitialized_params():
            self._become_regular()

    def _become_regular(self):
        self._initialize_hook.remove()
        del self._initialize_hook
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become


def _infer_parameters(module, args, kwargs):
    with grad_mode.no_grad():
        module.initialize_parameters(*args, **kwargs)
    if module.has_uninitialized_params():
        raise RuntimeError(f"module {module._get_name()} has not been fully initialized")
    module._become_regular()


class LazyLinear(LazyModuleMixin, Linear):
    """Linear whose ``in_features`` is the last dim of the first input. Input (*, H_in) -> (*, out_features)."""

    cls_to_become = Linear

    def __init__(
        self, out_features: int, bias: bool = True, device: Any = None, dtype: DTypeLike | None = None
    ) -> None:
        super().__init__(0, 0, False, dtype=dtype)
        self.out_features = out_features
        self.weight = UninitializedParameter(dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()


class _LazyConvMixin(LazyModuleMixin):
    def __init__(
        self,
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
        super().__init__(0, 0, kernel_size, stride, padding, dilation, 1, False, padding_mode, dtype=dtype)
        self.out_channels = out_channels
        self.groups = groups
        if groups <= 0 or out_channels % groups:
            raise ValueError(
                f"{type(self).__name__}: out_channels ({out_channels}) must be divisible by groups ({groups})"
            )
        self.weight: Parameter = UninitializedParameter(dtype=dtype)
        if bias:
            self.bias: Parameter = UninitializedParameter(dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            batched = input.ndim == self._dims + 2
            self.in_channels = input.shape[1] if batched else input.shape[0]
            if self.in_channels % self.groups:
                raise ValueError("in_channels must be divisible by groups")
            self.weight.materialize((self.out_channels, self.in_channels // self.groups) + tuple(self.kernel_size))
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()


class LazyConv1d(_LazyConvMixin, Conv1d):
    """Conv1d whose ``in_channels`` is read from the first input (N, C_in, L) or (C_in, L)."""

    cls_to_become = Conv1d


class LazyConv2d(_LazyConvMixin, Conv2d):
    """Conv2d whose ``in_channels`` is read from the first input (N, C_in, H, W) or (C_in, H, W)."""

    cls_to_become = Conv2d


class _LazyNormMixin(LazyModuleMixin):
    def __init__(
        self,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__(0, eps, momentum, False, False, dtype=dtype)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight: Parameter = UninitializedParameter(dtype=dtype)
            self.bias: Parameter = UninitializedParameter(dtype=dtype)
        if track_running_stats:
            from glassgrad.tensor import Tensor

            self.running_mean = UninitializedBuffer(dtype=dtype)
            self.running_var = UninitializedBuffer(dtype=dtype)
            self.num_batches_tracked = Tensor(0, dtype="int64")

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            self.num_features = input.shape[1]
            for t in (self.weight, self.bias, self.running_mean, self.running_var):
                if t is not None:
                    t.materialize((self.num_features,))
            self.reset_parameters()


class LazyBatchNorm1d(_LazyNormMixin, BatchNorm1d):
    """BatchNorm1d whose ``num_features`` is the first input's dim 1: (N, C) or (N, C, L)."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNormMixin, BatchNorm2d):
    """BatchNorm2d whose ``num_features`` is the first input's dim 1: (N, C, H, W)."""

    cls_to_become = BatchNorm2d
