"""SyncBatchNorm: batch norm whose statistics are those of the global batch, across processes.

Forward all-reduces, per channel, the sum, the sum of squares and the count of the local batch;
backward all-reduces the two sums its closed form needs, sum(g') and sum(g' * x_hat) with
g' = grad * weight, so the input's gradient is that of batch norm over the whole global batch:

    dx = invstd * (g' - sum(g') / N - x_hat * sum(g' * x_hat) / N),   N the global count.

The weight and bias gradients stay local sums: DistributedDataParallel averages them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from glassgrad import distributed as dist
from glassgrad.autograd.function import Function
from glassgrad.autograd.graph import increment_version
from glassgrad.nn.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, _BatchNorm
from glassgrad.tensor import Tensor

if TYPE_CHECKING:
    from glassgrad._dtype import DTypeLike

__all__ = ["SyncBatchNorm"]


def _sum_across(array, group):
    """All-reduce (sum) a float64 array in place; a no-op without a group of several processes."""
    if group is not False and dist.is_initialized() and dist.get_world_size(group) > 1:
        dist.all_reduce(Tensor._wrap(array), group=group)
    return array


class SyncBatchNormFunction(Function):
    """Training-mode batch norm with global statistics. x (N, C, *); weight, bias (C) or None.

    ``group``: the process group (None: the world; False: this process only, for gradcheck).
    Keeps ``batch_mean``, ``batch_var`` (biased, global) and ``count`` (global) on the node.
    """

    def forward(self, x, weight=None, bias=None, eps=1e-5, group=None):
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        c = x.shape[1]
        stats = np.empty(2 * c + 1, dtype=np.float64)
        stats[:c] = x.sum(axis=axes, dtype=np.float64)
        stats[c : 2 * c] = np.square(x, dtype=np.float64).sum(axis=axes)
        stats[2 * c] = x.size // c if c else 0
        _sum_across(stats, group)
        count = stats[2 * c]
        if count <= 1:
            raise ValueError(
                f"SyncBatchNorm: expected more than 1 value per channel over the global batch, got "
                f"{int(count)} (local input of shape {tuple(x.shape)}); use a larger batch"
            )
        mean = stats[:c] / count
        var = np.maximum(stats[c : 2 * c] / count - mean * mean, 0.0)
        invstd = 1.0 / np.sqrt(var + eps)
        x_hat = (x - mean.astype(x.dtype).reshape(shape)) * invstd.astype(x.dtype).reshape(shape)
        out = x_hat
        if weight is not None:
            out = out * weight.reshape(shape)
        if bias is not None:
            out = out + bias.reshape(shape)
        self.batch_mean, self.batch_var, self.count = mean, var, count
        self.axes, self.shape, self.group = axes, shape, group
        self.save_for_backward(x_hat, invstd, weight)
        return out.astype(x.dtype, copy=False)

    def backward(self, grad):
        x_hat, invstd, weight = self.saved_tensors
        axes, shape, c = self.axes, self.shape, grad.shape[1]
        g_hat = grad if weight is None else grad * weight.reshape(shape)
        sums = np.empty(2 * c, dtype=np.float64)
        sums[:c] = g_hat.sum(axis=axes, dtype=np.float64)
        sums[c:] = (g_hat * x_hat).sum(axis=axes, dtype=np.float64)
        _sum_across(sums, self.group)
        mean_g = (sums[:c] / self.count).astype(grad.dtype).reshape(shape)
        mean_gx = (sums[c:] / self.count).astype(grad.dtype).reshape(shape)
        grad_x = None
        if self.needs_input_grad[0]:
            grad_x = invstd.astype(grad.dtype).reshape(shape) * (g_hat - mean_g - x_hat * mean_gx)
        grad_w = (grad * x_hat).sum(axis=axes) if self.needs_input_grad[1] else None
        grad_b = grad.sum(axis=axes) if self.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


class SyncBatchNorm(_BatchNorm):
    """Batch norm over (N, C, *) inputs with the statistics of the batch of every process in
    ``process_group`` (the world by default). Outside training, or without a process group of
    several processes, it is plain batch norm."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: Any = None,
        device: Any = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.ndim < 2:
            raise ValueError(f"SyncBatchNorm: expected at least 2D input (got {input.ndim}D input)")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"SyncBatchNorm: input has {input.shape[1]} channels (shape {tuple(input.shape)}), "
                f"expected num_features={self.num_features}"
            )
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        group = self.process_group
        sync = use_batch_stats and dist.is_initialized() and dist.get_world_size(group) > 1
        if not sync:
            return super().forward(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.array[...] += 1
            increment_version(self.num_batches_tracked, "batch norm (num_batches_tracked)")
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
        out, node = SyncBatchNormFunction.apply_with_node(input, self.weight, self.bias, eps=self.eps, group=group)
        if self.training and self.track_running_stats and self.running_mean is not None:
            unbiased = node.batch_var * (node.count / (node.count - 1))
            for buffer, batch in ((self.running_mean, node.batch_mean), (self.running_var, unbiased)):
                a = buffer.array
                a[...] = (1 - factor) * a + factor * batch.astype(a.dtype)
                increment_version(buffer, "batch norm (running statistics)")
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm1d/2d/3d replaced by a SyncBatchNorm sharing its
        parameters and buffers (the module itself when it is one); returns the result."""
        out = module
        if isinstance(module, (BatchNorm1d, BatchNorm2d, BatchNorm3d)):
            out = cls(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
                process_group,
            )
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
