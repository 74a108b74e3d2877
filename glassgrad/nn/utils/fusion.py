"""Batch norm in evaluation mode folded into the convolution before it, for inference.

In evaluation mode a batch norm is an affine map per channel, ``y = (x - mean) / sqrt(var + eps)
* gamma + beta`` with the running statistics, so after a convolution it folds into the
convolution's weight and bias: one pass over the activations instead of two. It is explicit and
opt-in: the fused convolution no longer shows the value between the two (hooks on the batch
norm, glassgrad's recorded intermediates), and it is only right while the statistics stay as
they are (evaluation mode). On VGG-11-BN's inference at batch 128 (2 threads, 12 and 16 alternating
runs, twice) the fused model took 0.96-0.97x the CPU time (benchmarks/README.md, "Winograd").
"""

import copy

import numpy as np

from glassgrad.nn.parameter import Parameter
from glassgrad.tensor import Tensor


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """(weight, bias) Parameters of the convolution whose output equals ``bn(conv(x))`` with the
    batch norm's running statistics: conv_w (C_out, C_in, *k) (transposed convolutions:
    (C_in, C_out, *k), ``transpose=True``), conv_b (C_out,) or None, the batch norm's running
    mean and variance (C_out,), eps, and its weight and bias (C_out,) or None (no affine).
    The sums are done in float64 and rounded once to the weight's dtype."""
    w = np.asarray(conv_w.detach().numpy(), dtype=np.float64)
    channels = w.shape[1] if transpose else w.shape[0]
    mean, var = (np.asarray(t.numpy(), dtype=np.float64) for t in (bn_rm, bn_rv))
    if mean.shape != (channels,) or var.shape != (channels,):
        raise ValueError(
            f"fuse_conv_bn_weights: the batch norm's running statistics have shapes {mean.shape} and "
            f"{var.shape}, but the convolution has {channels} output channels; fuse a batch norm of "
            f"{channels} features"
        )
    gamma = np.ones(channels) if bn_w is None else np.asarray(bn_w.detach().numpy(), np.float64)
    beta = np.zeros(channels) if bn_b is None else np.asarray(bn_b.detach().numpy(), np.float64)
    bias = np.zeros(channels) if conv_b is None else np.asarray(conv_b.detach().numpy(), np.float64)
    scale = gamma / np.sqrt(var + bn_eps)
    shape = [1] * w.ndim
    shape[1 if transpose else 0] = -1
    dtype = conv_w.detach().numpy().dtype
    fused_w = Tensor._wrap((w * scale.reshape(shape)).astype(dtype))
    fused_b = Tensor._wrap(((bias - mean) * scale + beta).astype(dtype))
    return (
        Parameter(fused_w, requires_grad=conv_w.requires_grad),
        Parameter(fused_b, requires_grad=True if conv_b is None else conv_b.requires_grad),
    )


def fuse_conv_bn_eval(conv, bn=None, transpose=False):
    """A copy of the convolution ``conv`` whose output is ``bn(conv(x))``, both in evaluation mode.

    Given a single module (a whole model), a fused copy of it instead: every convolution followed
    directly by a batch norm of its channels in an ``nn.Sequential`` is replaced by the fused
    convolution, and the batch norm by ``nn.Identity``. Only pairs inside a Sequential are
    fused, where the order proves that the convolution's output goes to the batch norm alone;
    pairs written in a module's own ``forward`` (``self.bn1(self.conv1(x))``) are left as they
    are. The original model is not changed."""
    if bn is None:
        return _fuse_model(conv)
    if conv.training or bn.training:
        raise RuntimeError(
            "fuse_conv_bn_eval: fusion is only right in evaluation mode (the batch norm must use its "
            "running statistics); call model.eval() first"
        )
    if bn.running_mean is None or bn.running_var is None:
        raise RuntimeError(
            "fuse_conv_bn_eval: the batch norm keeps no running statistics (track_running_stats=False), "
            "so it normalises with each batch's own and cannot be folded into the convolution"
        )
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias, transpose
    )
    return fused


def _fuse_model(model):
    from glassgrad import nn  # glassgrad.nn imports this module while it loads

    convs = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    transposed = (nn.ConvTranspose1d, nn.ConvTranspose2d)
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
    if model.training:
        raise RuntimeError("fuse_conv_bn_eval: fusion is only right in evaluation mode; call model.eval() first")
    fused = copy.deepcopy(model)
    for module in fused.modules():
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            conv, bn = module._modules[first], module._modules[second]
            if not (isinstance(conv, convs + transposed) and isinstance(bn, norms)):
                continue
            if bn.num_features != conv.out_channels or bn.running_mean is None or bn.running_var is None:
                continue
            if isinstance(conv, transposed) and conv.groups != 1:
                continue  # its weight holds C_out / groups channels per group along axis 1
            if conv._forward_hooks or bn._forward_pre_hooks or bn._forward_hooks:
                continue  # a hook reads the value between the two, or the batch norm's: keep it visible
            module._modules[first] = fuse_conv_bn_eval(conv, bn, isinstance(conv, transposed))
            module._modules[second] = nn.Identity()
    return fused
