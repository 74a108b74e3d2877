"""Functional forms of the layers: ``import glassgrad.nn.functional as F``.

Stateless: every tensor a layer would own (weights, running statistics) is an argument.
Names, arguments and defaults are PyTorch's.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from glassgrad import ops
from glassgrad.autograd.graph import increment_version
from glassgrad.ops import activation as _act
from glassgrad.ops import conv as _conv
from glassgrad.ops import dropout as _dropout
from glassgrad.ops import elementwise as _elementwise
from glassgrad.ops import embedding as _embedding
from glassgrad.ops import interpolate as _interp
from glassgrad.ops import linear as _linear
from glassgrad.ops import loss as _loss
from glassgrad.ops import normalization as _norm
from glassgrad.ops import pooling as _pool
from glassgrad.ops.elementwise import sigmoid, tanh  # noqa: F401  (F.sigmoid, F.tanh)
from glassgrad.ops.reduction import log_softmax as _log_softmax
from glassgrad.ops.reduction import softmax as _softmax
from glassgrad.ops.shape import pad as _pad
from glassgrad.tensor import Tensor

if TYPE_CHECKING:
    from collections.abc import Sequence

    from glassgrad._dtype import DTypeLike

# -- linear -----------------------------------------------------------------------------


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight^T + bias. input (*, in), weight (out, in), bias (out) -> (*, out)."""
    if input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(
            f"linear: input has {input.shape[-1]} features in its last dimension (shape {tuple(input.shape)}) "
            f"but the weight expects {weight.shape[-1]} (weight shape {tuple(weight.shape)}); "
            "check in_features, or flatten the input first (nn.Flatten())"
        )
    if weight.ndim != 2 or input.ndim == 0 or (bias is not None and tuple(bias.shape) not in ((weight.shape[0],), ())):
        out = ops.matmul(input, ops.transpose(weight, 0, 1))
        return out if bias is None else out + bias
    if input.array.dtype != weight.array.dtype:
        raise RuntimeError(
            f"linear: mat1 and mat2 must have the same dtype, but got {input.dtype} and {weight.dtype}; "
            "convert the input (x.float()) or the layer (model.double())"
        )
    return _linear.Linear.apply(input, weight, bias)


# -- activations ----------------------------------------------------------------------------


def _result(input, out, inplace, name):
    """For ``inplace=True``: write ``out`` into ``input`` (taking over its history) and return it."""
    return input._inplace(name, out) if inplace else out


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    if inplace:
        return _elementwise.ReLU.apply_into("relu_", input)
    return ops.relu(input)


def relu_(input: Tensor) -> Tensor:
    return relu(input, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    return _result(input, _act.LeakyReLU.apply(input, negative_slope=negative_slope), inplace, "leaky_relu_")


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _result(input, _act.ELU.apply(input, alpha=alpha), inplace, "elu_")


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return _result(input, _act.ELU.apply(input, alpha=alpha, scale=scale), inplace, "selu_")


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (it divides the input)")
    return _result(input, _act.CELU.apply(input, alpha=alpha), inplace, "celu_")


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (Phi the normal CDF, through erf), or the tanh approximation with approximate='tanh'."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate={approximate!r} is not valid; use 'none' or 'tanh'")
    return _act.GELU.apply(input, approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return _result(input, _act.SiLU.apply(input), inplace, "silu_")


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    return _result(input, _act.Mish.apply(input), inplace, "mish_")


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    if inplace:
        return _act.Hardtanh.apply_into("hardtanh_", input, min_val=min_val, max_val=max_val)
    return _act.Hardtanh.apply(input, min_val=min_val, max_val=max_val)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    return _result(input, _act.Hardsigmoid.apply(input), inplace, "hardsigmoid_")


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    return _result(input, _act.Hardswish.apply(input), inplace, "hardswish_")


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return _act.Softplus.apply(input, beta=beta, threshold=threshold)


def softsign(input: Tensor) -> Tensor:
    return _act.Softsign.apply(input)


def logsigmoid(input: Tensor) -> Tensor:
    return _act.LogSigmoid.apply(input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    return _result(input, _act.Threshold.apply(input, threshold=threshold, value=value), inplace, "threshold_")


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    channels = input.shape[1] if input.ndim > 1 else (input.shape[0] if input.ndim else 1)
    if weight.numel() not in (1, channels):
        raise RuntimeError(
            f"prelu: the weight has {weight.numel()} slopes but the input has {channels} channels "
            f"(dimension 1 of shape {tuple(input.shape)}); use num_parameters=1 or ={channels}"
        )
    return _act.PReLU.apply(input, weight)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """input where |input| > lambd, else 0."""
    return _act.Hardshrink.apply(input, lambd=lambd)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """input shrunk towards 0 by lambd, 0 within [-lambd, lambd]."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be at least 0, but got {lambd}")
    return _act.Softshrink.apply(input, lambd=lambd)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """The gated linear unit: a * sigmoid(b), a and b the two halves of input along dim (even size)."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support 0-D (scalar) tensors")
    if input.shape[dim] % 2:
        raise RuntimeError(
            f"glu: halving dimension {dim} needs an even size, but the input has shape {tuple(input.shape)}"
        )
    a, b = ops.chunk(input, 2, dim)
    return a * sigmoid(b)


def tanhshrink(input: Tensor) -> Tensor:
    return input - tanh(input)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: DTypeLike | None = None) -> Tensor:
    return _softmax(input, _implicit_dim(input, dim, "softmax"), dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: DTypeLike | None = None) -> Tensor:
    return _log_softmax(input, _implicit_dim(input, dim, "log_softmax"), dtype=dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: DTypeLike | None = None) -> Tensor:
    return _softmax(-input, _implicit_dim(input, dim, "softmin"), dtype=dtype)


def _implicit_dim(input, dim, op):
    if dim is not None:
        return dim
    # PyTorch's legacy rule when dim is left out, with its warning.
    warnings.warn(
        f"Implicit dimension choice for {op} has been deprecated. Change the call to include dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if input.ndim in (0, 1, 3) else 1


# -- dropout ----------------------------------------------------------------------------------


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p); identity unless training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    return _result(input, _dropout.dropout(input, p, tuple(input.shape)), inplace, "dropout_")


def _feature_dropout(input, p, training, inplace, spatial, name):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(
            f"{name}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) input, "
            f"got shape {tuple(input.shape)}"
        )
    if not training or p == 0:
        return input
    # One draw per channel: whole feature maps are dropped together.
    channel_dims = input.ndim - spatial
    mask_shape = tuple(input.shape[:channel_dims]) + (1,) * spatial
    return _result(input, _dropout.dropout(input, p, mask_shape), inplace, name + "_")


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    return _feature_dropout(input, p, training, inplace, 1, "dropout1d")


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels: one draw per (sample, channel) of the first two dims.

    Input (N, C, H, W). PyTorch's rule for other ranks is kept, with its warnings: a 3-D input
    counts as (N, C, L), not as an unbatched (C, H, W), and a 2-D one drops single elements.
    """
    if input.ndim < 2:
        raise RuntimeError(
            f"dropout2d: feature dropout needs an input of at least 2 dims, got shape {tuple(input.shape)}"
        )
    if input.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: got a {input.ndim}-D input; dropout2d is meant for (N, C, H, W) or (C, H, W) and drops "
            "along the first two dims here, as PyTorch does (use dropout for elementwise dropout)",
            stacklevel=2,
        )
    elif input.ndim == 3:
        warnings.warn(
            "dropout2d: got a 3-D input and, as PyTorch does, takes it as (N, C, L) with channel-wise 1-D dropout, "
            "not as an unbatched (C, H, W); use dropout1d to say so",
            stacklevel=2,
        )
    return _masked_dropout(input, p, training, inplace, tuple(input.shape[:2]) + (1,) * (input.ndim - 2), "dropout2d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W); any other rank counts as unbatched (C, ...), as in PyTorch."""
    if input.ndim == 0:
        raise RuntimeError("dropout3d: feature dropout needs an input of at least 1 dim, got a 0-D tensor")
    if input.ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: got a {input.ndim}-D input; dropout3d is meant for (N, C, D, H, W) or (C, D, H, W) and "
            "takes it as unbatched, dropping along its first dim, as PyTorch does",
            stacklevel=2,
        )
    if input.ndim == 5:
        mask_shape = tuple(input.shape[:2]) + (1,) * 3
    else:
        mask_shape = tuple(input.shape[:1]) + (1,) * (input.ndim - 1)
    return _masked_dropout(input, p, training, inplace, mask_shape, "dropout3d")


def _masked_dropout(input: Tensor, p: float, training: bool, inplace: bool, mask_shape: tuple, name: str) -> Tensor:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    return _result(input, _dropout.dropout(input, p, mask_shape), inplace, name + "_")


# -- normalisation -------------------------------------------------------------------------------


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation over all dimensions but 1. input (N, C, *); the rest (C).

    In training the batch statistics normalise the input and, when running buffers
    are given, update them in place: running = (1 - momentum) * running + momentum * batch,
    with the unbiased batch variance for ``running_var`` (PyTorch's convention).
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of 2 or more dimensions (N, C, *), got {tuple(input.shape)}")
    channels = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and t.numel() != channels:
            raise RuntimeError(
                f"batch_norm: {name} has {t.numel()} elements but the input has {channels} channels "
                f"(shape {tuple(input.shape)}); num_features must equal the input's dimension 1"
            )
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("batch_norm: running_mean and running_var must be given when training=False")
    updates = training and running_mean is not None and running_var is not None
    update = (running_mean.array, running_var.array, momentum, 1) if updates else None  # type: ignore[union-attr]
    out = _norm.BatchNorm.apply(
        input, weight, bias, running_mean, running_var, training=training, eps=eps, update=update
    )
    if updates and input.numel():  # an empty batch leaves them alone
        for buffer in (running_mean, running_var):
            increment_version(buffer, "batch norm (running statistics)")
    return out


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel of each sample over its spatial positions. input (N, C, *).

    Computed as batch norm of the input folded to (1, N * C, *); the running buffers (C),
    when given and ``use_input_stats``, move towards the mean over the batch of the
    per-instance statistics (unbiased variance), as PyTorch's do.
    """
    if input.ndim < 3:
        raise ValueError(
            f"instance_norm: expected an input (N, C, *) with 3 or more dimensions, got {tuple(input.shape)}"
        )
    n, c = input.shape[:2]
    if use_input_stats and input.numel() // (n * c) <= 1:
        raise ValueError(
            f"instance_norm: expected more than 1 spatial element when training, got input size {tuple(input.shape)}"
        )
    folded = ops.reshape(input, (1, n * c) + tuple(input.shape[2:]))
    w = None if weight is None else ops.repeat(weight, (n,))
    b = None if bias is None else ops.repeat(bias, (n,))
    if use_input_stats:
        updates = running_mean is not None and running_var is not None
        update = (running_mean.array, running_var.array, momentum, n) if updates else None  # type: ignore[union-attr]
        out = _norm.BatchNorm.apply(folded, w, b, None, None, training=True, eps=eps, update=update)
        if updates and input.numel():
            for buffer in (running_mean, running_var):
                increment_version(buffer, "batch norm (running statistics)")
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("instance_norm: running_mean and running_var must be given when use_input_stats=False")
        tiled_mean = Tensor._wrap(np.tile(running_mean.array, n))
        tiled_var = Tensor._wrap(np.tile(running_var.array, n))
        out = _norm.BatchNorm.apply(folded, w, b, tiled_mean, tiled_var, training=False, eps=eps)
    return ops.reshape(out, tuple(input.shape))


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the last len(normalized_shape) dimensions. input (*, *normalized_shape)."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(normalized_shape) :]) != normalized_shape:
        raise RuntimeError(
            f"layer_norm: the input's last dimensions {tuple(input.shape)} do not end with "
            f"normalized_shape {normalized_shape}"
        )
    return _norm.LayerNorm.apply(input, weight, bias, n_dims=len(normalized_shape), eps=eps)


def rms_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """input / sqrt(mean(input^2) + eps) over the last len(normalized_shape) dimensions, times weight.

    eps None: the machine epsilon of input's dtype, as PyTorch.
    """
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(normalized_shape) :]) != normalized_shape:
        raise RuntimeError(
            f"rms_norm: the input's last dimensions {tuple(input.shape)} do not end with "
            f"normalized_shape {normalized_shape}"
        )
    if eps is None:
        eps = float(np.finfo(input.array.dtype).eps)
    dims = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    out = input * ops.rsqrt((input * input).mean(dim=dims, keepdim=True) + eps)
    return out if weight is None else out * weight


def group_norm(
    input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Normalise groups of channels per sample. input (N, C, *), C divisible by num_groups."""
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise RuntimeError(
            f"group_norm: expected an input (N, C, *) with C divisible by num_groups={num_groups}, "
            f"got shape {tuple(input.shape)}"
        )
    return _norm.GroupNorm.apply(input, weight, bias, num_groups=num_groups, eps=eps)


def local_response_norm(input: Tensor, size: Any, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """AlexNet's normalisation across channels. input (N, C, *) with 3 or more dimensions."""
    if input.ndim < 3:
        raise ValueError(
            f"local_response_norm: expected 3D or higher dimensionality input (got {input.ndim} dimensions)"
        )
    if input.numel() == 0:
        return input
    return _norm.LocalResponseNorm.apply(input, size=size, alpha=alpha, beta=beta, k=k)


def normalize(input: Tensor, p: float = 2.0, dim: int | None = 1, eps: float = 1e-12) -> Tensor:
    """input / max(||input||_p along dim, eps)."""
    norm = ops.norm(input, p, dim, keepdim=True)
    return input / ops.clamp(norm, min=eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int | None = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 * x2) / max(||x1|| * ||x2||, eps) along ``dim``."""
    dot = ops.sum(x1 * x2, dim)
    n1 = ops.norm(x1, 2, dim)
    n2 = ops.norm(x2, 2, dim)
    return dot / ops.clamp(n1 * n2, min=eps)


# -- embeddings -------------------------------------------------------------------------------------


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) picked by int64 ``input`` (*) -> (*, dim).

    ``padding_idx``'s row gets no gradient; with ``max_norm`` the rows looked up are first
    rescaled in place to a ``norm_type`` norm of at most ``max_norm`` (PyTorch's renorm).
    """
    if sparse:
        raise ValueError("embedding: sparse gradients are not available in glassgrad; use sparse=False")
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx must be within num_embeddings ({n}), got {padding_idx}")
        padding_idx %= n
    indices = input.array if isinstance(input, Tensor) else np.asarray(input)
    if max_norm is not None and indices.size:
        rows = np.unique(indices.reshape(-1) % n)
        picked = weight.array[rows]
        norms = np.linalg.norm(picked, ord=norm_type, axis=1, keepdims=True)
        scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1).astype(picked.dtype)
        weight.array[rows] = picked * scale
        increment_version(weight, "embedding (max_norm)")
    return _embedding.Embedding.apply(
        weight, Tensor._wrap(indices), padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq
    )


# -- shapes and encodings ---------------------------------------------------------------------------


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last dimensions: pad = (left, right, top, bottom, ...), last dimension first.

    mode 'constant' fills with ``value``; 'reflect' mirrors without repeating the edge,
    'replicate' repeats the edge, 'circular' wraps around. The last three pad the last
    1-3 dimensions of a batched or unbatched input, as PyTorch does.
    """
    if mode == "constant":
        return _pad(input, pad, mode=mode, value=0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode {mode!r} is not one of 'constant', 'reflect', 'replicate', 'circular'")
    if value is not None and value != 0:
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in value argument")
    if len(pad) % 2 or not 1 <= len(pad) // 2 <= 3 or input.ndim not in (len(pad) // 2 + 1, len(pad) // 2 + 2):
        raise ValueError(
            f"pad: {mode} padding of {len(pad) // 2} dimensions needs a {len(pad) // 2 + 1}-D (unbatched) or "
            f"{len(pad) // 2 + 2}-D input, got shape {tuple(input.shape)} with pad {tuple(pad)}"
        )
    plans = []
    for i, size in enumerate(input.shape[input.ndim - len(pad) // 2 :]):
        before, after = pad[len(pad) - 2 - 2 * i], pad[len(pad) - 1 - 2 * i]
        limit = size - 1 if mode == "reflect" else size
        if min(before, after) < 0 or max(before, after) > limit:
            raise ValueError(
                f"pad: {mode} padding ({before}, {after}) must be between 0 and {limit} for a dimension of size {size}"
            )
        plans.append(("taps", _interp.padding_taps(size, before, after, mode)))
    return _interp.Resize.apply(input, plans=tuple(plans))


_MODE_DIMS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


def interpolate(
    input: Tensor,
    size: Any = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial dimensions of (N, C, *spatial) to ``size`` or by ``scale_factor``.

    Modes: 'nearest', 'nearest-exact', 'area' (any of 1-3 spatial dimensions), 'linear'
    (N, C, L), 'bilinear' and 'bicubic' (N, C, H, W), 'trilinear' (N, C, D, H, W);
    ``align_corners`` as in PyTorch (False when left out) for the last four.
    """
    modes = ("nearest", "nearest-exact", "area", "linear", "bilinear", "bicubic", "trilinear")
    if mode not in modes:
        raise ValueError(f"interpolate: mode {mode!r} is not one of {modes}")
    if input.ndim not in (3, 4, 5):
        raise ValueError(f"interpolate: expected a 3-D, 4-D or 5-D input (N, C, *spatial), got {tuple(input.shape)}")
    if mode in _MODE_DIMS and input.ndim != _MODE_DIMS[mode]:
        raise ValueError(
            f"interpolate: mode {mode!r} needs a {_MODE_DIMS[mode]}-D input, got shape {tuple(input.shape)}"
        )
    if align_corners is not None and mode not in _MODE_DIMS:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear"
        )
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    if antialias:
        raise ValueError("interpolate: antialias=True is not available in glassgrad; use antialias=False")
    in_sizes = tuple(input.shape[2:])
    out_sizes, factors = _interp.output_size(in_sizes, size, scale_factor)
    if recompute_scale_factor or mode == "area":
        factors = (None,) * len(in_sizes)
    dtype = input.array.dtype
    plans = tuple(
        ("matrix", _interp.area_matrix(i, o, dtype))
        if mode == "area"
        else ("taps", _interp.interpolation_taps(i, o, mode, bool(align_corners), f, dtype))
        for i, o, f in zip(in_sizes, out_sizes, factors)
    )
    return _interp.Resize.apply(input, plans=plans)


def upsample(
    input: Tensor,
    size: Any = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Tensor:
    return interpolate(input, size, scale_factor, mode, align_corners)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices (*) -> int64 (*, num_classes) with a 1 at each index."""
    if tensor.array.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot is only applicable to index tensor (integer dtype), got {tensor.dtype}")
    indices = tensor.array
    if num_classes == -1:
        num_classes = int(indices.max()) + 1 if indices.size else 0
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise RuntimeError(f"one_hot: class values must be in [0, {num_classes - 1}] for num_classes={num_classes}")
    out = np.zeros(indices.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, indices[..., None].astype(np.int64), 1, axis=-1)
    return Tensor._wrap(out)


# -- losses -------------------------------------------------------------------------------------------


def _legacy_reduction(size_average, reduce, reduction):
    """PyTorch's deprecated size_average/reduce arguments, mapped to ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    warnings.warn("size_average and reduce args will be deprecated, please use reduction instead.", stacklevel=3)
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def _as_tensor(x, like):
    if isinstance(x, Tensor):
        return x
    return Tensor(np.asarray(x, dtype=like.array.dtype))


def _check_target_shape(input, target, op):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"{op}: Using a target size ({tuple(target.shape)}) that is different to the input size "
            f"({tuple(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            stacklevel=3,
        )


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross entropy between logits and targets (class indices or class probabilities).

    input: (N, C), (N, C, d1, ...) or (C,) logits; target: (N), (N, d1, ...) or () int64
    class indices, or float probabilities of the input's shape. weight: (C) per-class.
    'mean' with class indices divides by the summed weights of the targets not ignored.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _loss.check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    target = target if isinstance(target, Tensor) else Tensor(target)
    if target.array.dtype.kind == "f":
        if tuple(target.shape) != tuple(input.shape):
            raise RuntimeError(
                f"cross_entropy: a float target is read as class probabilities and must have the input's shape "
                f"{tuple(input.shape)}, got {tuple(target.shape)}; for class indices pass an int64 tensor (.long())"
            )
        return _loss.CrossEntropyProbs.apply(
            input, target, weight, reduction=reduction, label_smoothing=label_smoothing
        )
    return _loss.NLLFromLogProbs.apply(
        input,
        target,
        weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        logits=True,
    )


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log likelihood of class indices given log-probabilities (apply log_softmax first).
    input (N, C) or (N, C, d1, ...); target (N) or (N, d1, ...) int64."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _loss.check_reduction(reduction, "nll_loss")
    if target.array.dtype.kind not in "iu":
        raise RuntimeError(f"nll_loss: expected class indices of an integer dtype (.long()), got {target.dtype}")
    return _loss.NLLFromLogProbs.apply(
        input, target, weight, ignore_index=ignore_index, reduction=reduction, logits=False
    )


def mse_loss(
    input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"
) -> Tensor:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _loss.check_reduction(reduction, "mse_loss")
    _check_target_shape(input, target, "mse_loss")
    return _loss.MSELoss.apply(input, _as_tensor(target, input), reduction=reduction)


def l1_loss(
    input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"
) -> Tensor:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _loss.check_reduction(reduction, "l1_loss")
    _check_target_shape(input, target, "l1_loss")
    return _loss.L1Loss.apply(input, _as_tensor(target, input), reduction=reduction)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _loss.check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    return _loss.HuberLoss.apply(input, _as_tensor(target, input), reduction=reduction, delta=beta, smooth_l1=True)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    _loss.check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _loss.HuberLoss.apply(input, _as_tensor(target, input), reduction=reduction, delta=delta)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """BCE on probabilities in [0, 1]; each log is clamped at -100. input and target: same shape."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _loss.check_reduction(reduction, "binary_cross_entropy")
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"binary_cross_entropy: Using a target size ({tuple(target.shape)}) that is different to the input "
            f"size ({tuple(input.shape)}) is deprecated. Please ensure they have the same size."
        )
    return _loss.BCELoss.apply(input, _as_tensor(target, input), weight, reduction=reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """BCE on logits, stable for any logit (log-sigmoid form). pos_weight weighs positives (per class)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _loss.check_reduction(reduction, "binary_cross_entropy_with_logits")
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"binary_cross_entropy_with_logits: Target size ({tuple(target.shape)}) must be the same as "
            f"input size ({tuple(input.shape)})"
        )
    return _loss.BCEWithLogits.apply(input, _as_tensor(target, input), weight, pos_weight, reduction=reduction)


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """KL divergence with log-probabilities as input: sum target * (log target - input)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in _loss.REDUCTIONS + ("batchmean",):
        raise ValueError(f"kl_div: reduction={reduction!r} is not valid; use 'batchmean', 'mean', 'sum' or 'none'")
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size. "
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition.",
            stacklevel=2,
        )
    return _loss.KLDivLoss.apply(input, _as_tensor(target, input), reduction=reduction, log_target=log_target)


# -- convolution and pooling -------------------------------------------------------------


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: int | tuple[int, ...] | str = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution over (N, C_in, H, W) or unbatched (C_in, H, W) input, as ``torch.nn.functional.conv2d``.

    weight: (C_out, C_in/groups, kh, kw); bias: (C_out,) or None. padding: int, (ph, pw),
    'valid' or 'same' (zeros). Output: (N, C_out, H_out, W_out).
    """
    x, unbatched, stride, pads, dilation = _conv.conv_arguments(input, weight, stride, padding, dilation, 2, "conv2d")
    groups = int(groups)
    _conv.check_conv(x, weight, bias, stride, pads, dilation, groups, "conv2d")
    out = _conv.convolve(x, weight, bias, stride=stride, padding=pads, dilation=dilation, groups=groups)
    return out.squeeze(0) if unbatched else out


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: int | tuple[int, ...] | str = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution over (N, C_in, L) or unbatched (C_in, L), as ``torch.nn.functional.conv1d``:
    a 2-D convolution with a height of one. weight: (C_out, C_in/groups, k)."""
    x, unbatched, stride, pads, dilation = _conv.conv_arguments(input, weight, stride, padding, dilation, 1, "conv1d")
    groups = int(groups)
    _conv.check_conv(x, weight, bias, stride, pads, dilation, groups, "conv1d")
    out = _conv.convolve(
        x.unsqueeze(2),
        weight.unsqueeze(2),
        bias,
        stride=(1, stride[0]),
        padding=((0, 0), pads[0]),
        dilation=(1, dilation[0]),
        groups=groups,
    ).squeeze(2)
    return out.squeeze(0) if unbatched else out


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """2-D max pooling over (N, C, H, W) or (C, H, W), as ``torch.nn.functional.max_pool2d``.
    Padding counts as -inf. With ``return_indices``, also the flat H*W index of each maximum."""
    x, unbatched = _pool._pool_input(input, "max_pool2d", floating=False)
    kernel, stride, padding, dilation = _pool._pool_args(kernel_size, stride, padding, dilation, "max_pool2d")
    out, node = _pool.MaxPool2DWithIndices.apply_with_node(
        x,
        kernel=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        ceil_mode=bool(ceil_mode),
        indices=bool(return_indices),
    )
    out = out.squeeze(0) if unbatched else out
    if return_indices:
        return out, _pool._indices_tensor(node, unbatched)
    return out


def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """2-D average pooling over (N, C, H, W) or (C, H, W), as ``torch.nn.functional.avg_pool2d``."""
    x, unbatched = _pool._pool_input(input, "avg_pool2d")
    kernel, stride, padding, _ = _pool._pool_args(kernel_size, stride, padding, 1, "avg_pool2d")
    if divisor_override is not None and int(divisor_override) == 0:
        raise ValueError("avg_pool2d: divisor_override must be non-zero")
    out = _pool.AvgPool2D.apply(
        x,
        kernel=kernel,
        stride=stride,
        padding=padding,
        ceil_mode=bool(ceil_mode),
        count_include_pad=bool(count_include_pad),
        divisor_override=divisor_override,
    )
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed (H_out, W_out) for any input size, as
    ``torch.nn.functional.adaptive_avg_pool2d``; None in output_size keeps that input size."""
    x, unbatched = _pool._pool_input(input, "adaptive_avg_pool2d")
    size = _pool._adaptive_size(output_size, x, "adaptive_avg_pool2d")
    h, w = x.shape[-2:]
    if size == (1, 1):
        # Global average pooling, as PyTorch computes it too: a mean over the plane, one
        # reduction where a window of H*W offsets would add H*W strided views.
        out = x.mean(dim=(2, 3), keepdim=True)
    elif h % size[0] == 0 and w % size[1] == 0:
        kernel = (h // size[0], w // size[1])
        out = _pool.AvgPool2D.apply(x, kernel=kernel, stride=kernel, padding=(0, 0))
    else:
        out = _pool.AdaptiveAvgPool2D.apply(x, output_size=size)
    return out.squeeze(0) if unbatched else out


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling to a fixed (H_out, W_out) for any input size, as
    ``torch.nn.functional.adaptive_max_pool2d``."""
    x, unbatched = _pool._pool_input(input, "adaptive_max_pool2d", floating=False)
    size = _pool._adaptive_size(output_size, x, "adaptive_max_pool2d")
    h, w = x.shape[-2:]
    if h % size[0] == 0 and w % size[1] == 0:
        kernel = (h // size[0], w // size[1])
        out, node = _pool.MaxPool2DWithIndices.apply_with_node(
            x, kernel=kernel, stride=kernel, indices=bool(return_indices)
        )
    else:
        out, node = _pool.AdaptiveMaxPool2D.apply_with_node(x, output_size=size)
    out = out.squeeze(0) if unbatched else out
    if return_indices:
        return out, _pool._indices_tensor(node, unbatched)
    return out


from glassgrad.nn._functional_layers import (  # noqa: E402, F401  (re-exported; defined apart to keep this module short)
    adaptive_avg_pool1d,
    adaptive_max_pool1d,
    avg_pool1d,
    avg_pool3d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    cosine_embedding_loss,
    ctc_loss,
    fold,
    gaussian_nll_loss,
    margin_ranking_loss,
    max_pool1d,
    max_pool3d,
    multi_head_attention_forward,
    pairwise_distance,
    pixel_shuffle,
    pixel_unshuffle,
    poisson_nll_loss,
    scaled_dot_product_attention,
    triplet_margin_loss,
    unfold,
)

# -- PyTorch's other spellings of the functions above -------------------------------------


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


def selu_(input: Tensor) -> Tensor:
    return selu(input, inplace=True)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, inplace=True)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return _result(input, _act.Threshold.apply(input, threshold=threshold, value=value), True, "threshold_")


def max_pool1d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = True) -> Any:  # fmt: skip
    """max_pool1d that returns (output, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)


def max_pool2d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = True) -> Any:  # fmt: skip
    """max_pool2d that returns (output, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)


def max_pool3d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = True) -> Any:  # fmt: skip
    """max_pool3d that returns (output, indices)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size: Any, return_indices: bool = True) -> Any:
    """adaptive_max_pool1d that returns (output, indices)."""
    return adaptive_max_pool1d(input, output_size, return_indices=True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size: Any, return_indices: bool = True) -> Any:
    """adaptive_max_pool2d that returns (output, indices)."""
    return adaptive_max_pool2d(input, output_size, return_indices=True)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """The deprecated spelling of interpolate(mode='nearest')."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """The deprecated spelling of interpolate(mode='bilinear', align_corners=True)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def grid_sample(
    input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros", align_corners: bool | None = None
) -> Tensor:
    """Sample input (N, C, H, W) at grid (N, H_out, W_out, 2) of normalised (x, y) -> (N, C, H_out, W_out)."""
    from glassgrad.ops.grid_sample import grid_sample as _grid_sample

    return _grid_sample(input, grid, mode, padding_mode, align_corners)


def affine_grid(theta: Tensor, size: Sequence[int], align_corners: bool | None = None) -> Tensor:
    """The sampling grid (N, H, W, 2) of the affine maps theta (N, 2, 3) for an output of size (N, C, H, W)."""
    from glassgrad.ops.grid_sample import affine_grid as _affine_grid

    return _affine_grid(theta, size, align_corners)


def embedding_bag(
    input: Tensor,
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """The sum, mean or max of each bag of embeddings -> (B, dim).

    Bags: the rows of a 2-D ``input`` (B, N), or the runs of a 1-D ``input`` that start at ``offsets``
    (B,) (with ``include_last_offset``, (B + 1,) whose last entry ends the last bag). Entries equal to
    ``padding_idx`` are left out; an empty bag gives zeros.
    """
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: mode={mode!r} is not one of 'sum', 'mean', 'max'")
    indices = input.array
    if indices.ndim == 2:
        if offsets is not None:
            raise ValueError("embedding_bag: offsets must be None when input is 2-D (each row is a bag)")
        bags, length = indices.shape
        bag_of = np.repeat(np.arange(bags), length)
        indices = indices.reshape(-1)
    elif indices.ndim == 1:
        if offsets is None:
            raise ValueError("embedding_bag: a 1-D input needs offsets, the start of each bag (B,)")
        starts = np.asarray(offsets.array if isinstance(offsets, Tensor) else offsets, dtype=np.int64)
        if starts.ndim != 1 or (starts.size and (starts[0] != 0 or np.any(np.diff(starts) < 0))):
            raise ValueError(f"embedding_bag: offsets must be 1-D, start at 0 and not decrease, got {starts.tolist()}")
        if include_last_offset:
            indices, starts = indices[: starts[-1]], starts[:-1]
        bags = starts.size
        bag_of = np.searchsorted(starts, np.arange(indices.size), side="right") - 1
    else:
        raise ValueError(f"embedding_bag: input must be 1-D or 2-D, got shape {tuple(input.shape)}")
    if per_sample_weights is not None and mode != "sum":
        raise ValueError(f"embedding_bag: per_sample_weights is only supported for mode='sum', got mode={mode!r}")
    keep = np.ones(indices.size, dtype=bool)
    if padding_idx is not None:
        padding_idx %= weight.shape[0]
        keep = indices != padding_idx
    rows = embedding(Tensor._wrap(indices), weight, padding_idx, max_norm, norm_type, scale_grad_by_freq)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1)[: indices.size].unsqueeze(-1)
    rows, bag_of = rows[Tensor._wrap(keep)], bag_of[keep]
    out = Tensor._wrap(np.zeros((bags, weight.shape[1]), dtype=weight.array.dtype))
    if mode == "max":
        where = Tensor._wrap(np.broadcast_to(bag_of[:, None], rows.shape).copy())
        return out.scatter_reduce(0, where, rows, "amax", include_self=False)
    total = out.index_add(0, Tensor._wrap(bag_of), rows)
    if mode == "sum":
        return total
    counts = np.bincount(bag_of, minlength=bags).astype(weight.array.dtype)
    return total / Tensor._wrap(np.maximum(counts, 1)[:, None])
