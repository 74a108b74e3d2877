"""Functional forms of the attention, transposed convolution, rearrangement and distance layers.

They live here, re-exported by ``nn.functional`` under PyTorch's names, so that the long
functional module grows by one import. Each is composed of differentiable ops (or one op
from ``glassgrad.ops``), so backward comes with them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from glassgrad import creation, ops
from glassgrad.tensor import Tensor

if TYPE_CHECKING:
    from collections.abc import Sequence


def _softmax_all_masked_zero(scores):
    """softmax over the last dim, where a row whose every score is -inf gives zeros (not NaN),
    as PyTorch's scaled_dot_product_attention does; the row is zeroed before the softmax so
    that its backward stays finite too."""
    dead = np.isneginf(scores.array).all(axis=-1, keepdims=True)
    if not dead.any():
        return ops.softmax(scores, -1)
    dead = creation.tensor(dead)
    scores = ops.where(dead, creation.tensor(0.0, dtype=scores.dtype), scores)
    return ops.where(dead, creation.tensor(0.0, dtype=scores.dtype), ops.softmax(scores, -1))


def _as_additive_mask(mask, like, allowed_when_true):
    """A boolean or float mask as a float one to add to the scores: -inf where not allowed."""
    if mask is None:
        return None
    if mask.dtype == creation.tensor(True).dtype:
        keep = mask.array if allowed_when_true else ~mask.array
        return creation.tensor(np.where(keep, 0.0, -np.inf).astype(like.array.dtype))
    return mask


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(Q K^T * scale + mask) V, scale = 1/sqrt(E) unless given.

    query (N, ..., L, E), key (N, ..., S, E), value (N, ..., S, Ev) -> (N, ..., L, Ev).
    ``attn_mask`` broadcasts to (N, ..., L, S): boolean (True takes part) or float (added).
    ``is_causal`` keeps the lower triangle (then ``attn_mask`` must be None).
    ``dropout_p`` drops attention weights whenever it is above 0, as PyTorch's does.
    A query row that may attend to nothing gives zeros.
    """
    from glassgrad.nn import functional as F  # the dropout of nn.functional; imported late (cycle)

    length, source = query.shape[-2], key.shape[-2]
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        heads, kv_heads = query.shape[-3], key.shape[-3]
        if heads % kv_heads:
            raise RuntimeError(
                f"scaled_dot_product_attention: with enable_gqa the query's {heads} heads must be a multiple "
                f"of the key's {kv_heads}"
            )
        key, value = (_repeat_heads(t, heads // kv_heads) for t in (key, value))
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = ops.matmul(query, key.transpose(-2, -1)) * factor
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError(
                "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True"
            )
        attn_mask = creation.tensor(np.tril(np.ones((length, source), dtype=bool)))
    additive = _as_additive_mask(attn_mask, scores, allowed_when_true=True)
    if additive is not None:
        scores = scores + additive
    weights = _softmax_all_masked_zero(scores)
    if dropout_p > 0.0:
        weights = F.dropout(weights, dropout_p, True)
    return ops.matmul(weights, value)


def _repeat_heads(t, times):
    """(…, H, S, E) -> (…, H*times, S, E), each head repeated ``times`` times in a row."""
    shape = tuple(t.shape)
    expanded = t.unsqueeze(-3).expand(*shape[:-2], times, *shape[-2:])
    return expanded.reshape(*shape[:-3], shape[-3] * times, *shape[-2:])


def _in_projection(query, key, value, num_heads, in_proj_weight, in_proj_bias, separate, q_w, k_w, v_w):
    from glassgrad.nn import functional as F

    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = ops.chunk(in_proj_bias, 3, 0)
    if not separate:
        w_q, w_k, w_v = ops.chunk(in_proj_weight, 3, 0)
    else:
        w_q, w_k, w_v = q_w, k_w, v_w
    return F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> Any:
    """Multi-head attention on query (L, N, E) or (L, E), key (S, N, kdim), value (S, N, vdim).

    Returns (output (L, N, E), weights (N, L, S) averaged over heads, (N, H, L, S) with
    ``average_attn_weights=False``, or None without ``need_weights``). ``key_padding_mask`` (N, S)
    and ``attn_mask`` (L, S) or (N*H, L, S) are boolean (True: ignore that key) or float (added).
    """
    from glassgrad.nn import functional as F

    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k/static_v are not available in glassgrad")
    batched = query.ndim == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer module method "
            "`generate_square_subsequent_mask` to create this mask."
        )
    length, batch, embed_dim = query.shape
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}")

    q, k, v = _in_projection(
        query, key, value, num_heads, in_proj_weight, in_proj_bias,
        use_separate_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight,
    )  # fmt: skip

    mask = _as_additive_mask(attn_mask, q, allowed_when_true=False)
    if mask is not None:
        if mask.ndim == 2:
            if tuple(mask.shape) != (length, key.shape[0]):
                raise RuntimeError(
                    f"The shape of the 2D attn_mask is {tuple(mask.shape)}, but should be {(length, key.shape[0])}."
                )
            mask = mask.unsqueeze(0)
        elif mask.ndim == 3:
            if tuple(mask.shape) != (batch * num_heads, length, key.shape[0]):
                raise RuntimeError(
                    f"The shape of the 3D attn_mask is {tuple(mask.shape)}, but should be "
                    f"{(batch * num_heads, length, key.shape[0])}."
                )
        else:
            raise RuntimeError(f"attn_mask's dimension {mask.ndim} is not supported")
    padding = _as_additive_mask(key_padding_mask, q, allowed_when_true=False)

    if bias_k is not None and bias_v is not None:
        k = ops.cat([k, bias_k.expand(1, batch, embed_dim)], 0)
        v = ops.cat([v, bias_v.expand(1, batch, embed_dim)], 0)
        mask = None if mask is None else F.pad(mask, (0, 1))
        padding = None if padding is None else F.pad(padding, (0, 1))

    # (L, N, E) -> (N*H, L, head_dim): heads become batch entries.
    q = q.reshape(length, batch * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], batch * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], batch * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        k = ops.cat([k, creation.zeros(batch * num_heads, 1, head_dim, dtype=k.dtype)], 1)
        v = ops.cat([v, creation.zeros(batch * num_heads, 1, head_dim, dtype=v.dtype)], 1)
        mask = None if mask is None else F.pad(mask, (0, 1))
        padding = None if padding is None else F.pad(padding, (0, 1))
    source = k.shape[1]

    if padding is not None:
        if tuple(padding.shape) != (batch, source):
            raise AssertionError(
                f"expecting key_padding_mask shape of {(batch, source)}, but got {tuple(padding.shape)}"
            )
        padding = padding.reshape(batch, 1, 1, source).expand(batch, num_heads, 1, source)
        padding = padding.reshape(batch * num_heads, 1, source)
        mask = padding if mask is None else mask + padding

    if not training:
        dropout_p = 0.0
    scores = ops.matmul(q * math.sqrt(1.0 / head_dim), k.transpose(-2, -1))
    if mask is not None:
        scores = scores + mask
    weights = ops.softmax(scores, -1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, dropout_p, True)
    out = ops.matmul(weights, v)  # (N*H, L, head_dim)
    out = out.transpose(0, 1).reshape(length * batch, embed_dim)
    out = F.linear(out, out_proj_weight, out_proj_bias).reshape(length, batch, embed_dim)
    if not batched:
        out = out.squeeze(1)
    if not need_weights:
        return out, None
    weights = weights.reshape(batch, num_heads, length, source)
    if average_attn_weights:
        weights = weights.mean(dim=1)
    if not batched:
        weights = weights.squeeze(0)
    return out, weights


# -- transposed convolution ---------------------------------------------------------------


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, dims, op):
    from glassgrad.ops.conv.transpose import ConvTranspose
    from glassgrad.ops.utils import batched as _batched
    from glassgrad.ops.utils import ntuple as _ntuple

    x, unbatched = _batched(input, dims + 2, op, "input")
    if not isinstance(weight, Tensor) or weight.ndim != dims + 2:
        raise RuntimeError(
            f"{op}: weight must be a {dims + 2}-D tensor (C_in, C_out/groups, *kernel), got shape "
            f"{tuple(getattr(weight, 'shape', ()))}"
        )
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of ints, got {padding!r} (no 'same'/'valid')")
    stride, padding, dilation, output_padding = (
        _ntuple(v, dims, name, op)
        for v, name in (
            (stride, "stride"),
            (padding, "padding"),
            (dilation, "dilation"),
            (output_padding, "output_padding"),
        )
    )
    groups = int(groups)
    if any(s < 1 for s in stride) or any(d < 1 for d in dilation) or any(p < 0 for p in padding) or groups < 1:
        raise ValueError(
            f"{op}: stride, dilation and groups must be positive and padding non-negative, got stride={stride}, "
            f"dilation={dilation}, padding={padding}, groups={groups}"
        )
    for o, s, d in zip(output_padding, stride, dilation):
        if o < 0 or (o >= s and o >= d):
            raise RuntimeError(
                f"{op}: output padding must be smaller than either stride or dilation, but got output_padding="
                f"{output_padding}, stride={stride}, dilation={dilation}"
            )
    if x.shape[1] != weight.shape[0]:
        raise RuntimeError(
            f"{op}: Given transposed=1, weight of size {list(weight.shape)}, expected input{list(x.shape)} to have "
            f"{weight.shape[0]} channels, but got {x.shape[1]} channels instead"
        )
    if weight.shape[0] % groups:
        raise RuntimeError(f"{op}: the weight's {weight.shape[0]} input channels are not divisible by groups={groups}")
    c_out = weight.shape[1] * groups
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise RuntimeError(f"{op}: bias of shape {tuple(bias.shape)} does not match out_channels; expected ({c_out},)")
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        raise TypeError(f"{op}: input and parameters must have the same dtype ({x.dtype}, {weight.dtype})")
    if dims == 1:
        x, weight = x.unsqueeze(2), weight.unsqueeze(2)
        stride, padding, dilation, output_padding = (
            (1,) + stride,
            (0,) + padding,
            (1,) + dilation,
            (0,) + output_padding,
        )
    for size in _out_sizes(x.shape[2:], weight.shape[2:], stride, padding, dilation, output_padding):
        if size <= 0:
            raise RuntimeError(
                f"{op}: the output would be empty (input {tuple(input.shape)}, weight {tuple(weight.shape)})"
            )
    out = ConvTranspose.apply(
        x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups, output_padding=output_padding
    )
    if dims == 1:
        out = out.squeeze(2)
    return out.squeeze(0) if unbatched else out


def _out_sizes(hw, kernel, stride, padding, dilation, output_padding):
    from glassgrad.ops.conv.transpose import output_hw

    return output_hw(hw, kernel, stride, padding, dilation, output_padding)


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """2-D transposed convolution (the gradient of conv2d w.r.t. its input), as PyTorch's.

    input (N, C_in, H, W) or (C_in, H, W); weight (C_in, C_out/groups, kh, kw); bias (C_out,).
    Output (N, C_out, H_out, W_out), H_out = (H-1)*stride - 2*padding + dilation*(kh-1) + output_padding + 1.
    """
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 2, "conv_transpose2d"
    )


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """1-D transposed convolution: input (N, C_in, L) or (C_in, L), weight (C_in, C_out/groups, k)."""
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 1, "conv_transpose1d"
    )


# -- rearrangement ------------------------------------------------------------------------


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r), r = upscale_factor: channels become sub-pixels."""
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(
            f"pixel_shuffle expects input to have at least 3 dimensions, but got input with {input.ndim} dimension(s)"
        )
    *lead, c, h, w = input.shape
    if r <= 0 or c % (r * r):
        raise RuntimeError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, "
            f"but input.size(-3)={c} is not divisible by {r * r}"
        )
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W), the inverse of pixel_shuffle."""
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(
            f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with {input.ndim} dimension(s)"
        )
    *lead, c, h, w = input.shape
    if r <= 0 or h % r or w % r:
        raise RuntimeError(
            f"pixel_unshuffle expects height and width to be divisible by downscale_factor, but got "
            f"height={h}, width={w} and downscale_factor={r}"
        )
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def _pairs(op, **values):
    from glassgrad.ops.utils import ntuple as _ntuple

    return [_ntuple(v, 2, name, op) for name, v in values.items()]


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:
    """Sliding windows as columns: (N, C, H, W) or (C, H, W) -> (N, C*kh*kw, L) or (C*kh*kw, L)."""
    from glassgrad.ops import fold as _fold

    if input.ndim not in (3, 4):
        raise NotImplementedError(
            f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D) for unfold"
        )
    kernel, dilation, padding, stride = _pairs(
        "unfold", kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride
    )
    x = input.unsqueeze(0) if input.ndim == 3 else input
    for axis in range(2):
        if _fold.out_size(x.shape[2 + axis], kernel[axis], dilation[axis], padding[axis], stride[axis]) <= 0:
            raise RuntimeError(
                f"unfold: the {kernel} kernel (dilation {dilation}) does not fit in the padded input of shape "
                f"{tuple(input.shape)} (padding {padding})"
            )
    out = _fold.Unfold.apply(x, kernel=kernel, dilation=dilation, padding=padding, stride=stride)
    return out.squeeze(0) if input.ndim == 3 else out


def fold(
    input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
) -> Tensor:
    """Columns back into an image, overlaps summed: (N, C*kh*kw, L) or (C*kh*kw, L) -> (N, C, H, W) or (C, H, W)."""
    from glassgrad.ops import fold as _fold

    if input.ndim not in (2, 3):
        raise NotImplementedError(
            f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported (got {input.ndim}D) for fold"
        )
    size, kernel, dilation, padding, stride = _pairs(
        "fold", output_size=output_size, kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride
    )
    x = input.unsqueeze(0) if input.ndim == 2 else input
    k = kernel[0] * kernel[1]
    if x.shape[1] % k:
        raise RuntimeError(
            f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got "
            f"input.size(1)={x.shape[1]} and kernel_size={kernel}"
        )
    blocks = [_fold.out_size(size[a], kernel[a], dilation[a], padding[a], stride[a]) for a in range(2)]
    if blocks[0] * blocks[1] != x.shape[2]:
        raise RuntimeError(
            f"Given output_size={size}, kernel_size={kernel}, dilation={dilation}, padding={padding}, "
            f"stride={stride}, expected size of input's dimension 2 to match the calculated number of sliding "
            f"blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got input.size(2)={x.shape[2]}."
        )
    out = _fold.Fold.apply(x, output_size=size, kernel=kernel, dilation=dilation, padding=padding, stride=stride)
    return out.squeeze(0) if input.ndim == 2 else out


# -- distances and their losses ----------------------------------------------------------


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim: (*, D) and (*, D) -> (*) (or (*, 1) with keepdim)."""
    return ops.norm(x1 - x2 + eps, p, -1, keepdim=keepdim)


def _reduce(loss, reduction, op):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: {reduction} is not a valid value for reduction; use 'mean', 'sum' or 'none'")


def _legacy(size_average, reduce, reduction):
    from glassgrad.nn import functional as F

    return F._legacy_reduction(size_average, reduce, reduction)


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, -target * (input1 - input2) + margin); input1, input2, target of one shape, target in {1, -1}."""
    reduction = _legacy(size_average, reduce, reduction)
    if not (input1.ndim == input2.ndim == target.ndim):
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: input1: "
            f"{tuple(input1.shape)}, input2: {tuple(input2.shape)}, target: {tuple(target.shape)} "
        )
    return _reduce(ops.clamp(-target * (input1 - input2) + margin, min=0), reduction, "margin_ranking_loss")


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0), d the pairwise distance; (N, D) or (D) inputs.
    ``swap`` takes d(p, n) for the negative distance where it is smaller."""
    reduction = _legacy(size_average, reduce, reduction)
    if not (anchor.ndim == positive.ndim == negative.ndim):
        raise RuntimeError(
            f"The anchor, positive, and negative tensors are expected to have the same number of dimensions, but "
            f"got: anchor {anchor.ndim}D, positive {positive.ndim}D, and negative {negative.ndim}D inputs"
        )
    if margin <= 0:
        raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ops.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(ops.clamp(margin + d_pos - d_neg, min=0), reduction, "triplet_margin_loss")


def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1; inputs (N, D) or (D)."""
    reduction = _legacy(size_average, reduce, reduction)
    if input1.ndim not in (1, 2) or input1.shape != input2.shape:
        raise RuntimeError(
            f"cosine_embedding_loss: expected 1D or 2D inputs of one shape, got {tuple(input1.shape)} and "
            f"{tuple(input2.shape)}"
        )
    dim = input1.ndim - 1
    # As PyTorch: the squared magnitudes each get 1e-12 before the square root of their product.
    dot = ops.sum(input1 * input2, dim)
    mag = ops.sqrt((ops.sum(input1 * input1, dim) + 1e-12) * (ops.sum(input2 * input2, dim) + 1e-12))
    cos = dot / mag
    zero = creation.zeros_like(cos)
    pos = ops.where(target == 1, 1 - cos, zero)
    neg = ops.where(target == -1, ops.clamp(cos - margin, min=0), zero)
    return _reduce(pos + neg, reduction, "cosine_embedding_loss")


def gaussian_nll_loss(
    input: Tensor, target: Tensor, var: Tensor, full: bool = False, eps: float = 1e-6, reduction: str = "mean"
) -> Tensor:
    """0.5 * (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5*log(2*pi) with ``full``).

    var: the input's shape, or one dim fewer, or a last dim of 1 (one variance per sample), or a
    number. The clamp at eps passes gradients straight through, as PyTorch's (done without grad)."""
    from glassgrad.autograd.grad_mode import no_grad

    if not isinstance(var, Tensor):
        var = creation.full(tuple(input.shape), float(var), dtype=input.dtype)
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1:
            pass
        elif var.ndim == 0 or var.numel() == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(reduction + " is not valid")
    if np.any(var.array < 0):
        raise ValueError("var has negative entry/entries")
    with no_grad():
        lift = ops.clamp(var, min=eps) - var
    var = var + lift
    loss = 0.5 * (ops.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """exp(input) - target*input (``log_input``), else input - target*log(input + eps); ``full`` adds
    Stirling's term target*log(target) - target + 0.5*log(2*pi*target) where target > 1."""
    reduction = _legacy(size_average, reduce, reduction)
    if log_input:
        loss = ops.exp(input) - target * input
    else:
        loss = input - target * ops.log(input + eps)
    if full:
        big = creation.tensor(np.asarray(target.array if isinstance(target, Tensor) else target) > 1)
        safe = ops.where(big, target, creation.tensor(2.0, dtype=input.dtype))  # no log(0) off the mask
        stirling = safe * ops.log(safe) - safe + 0.5 * ops.log(2 * math.pi * safe)
        loss = loss + ops.where(big, stirling, creation.tensor(0.0, dtype=stirling.dtype))
    return _reduce(loss, reduction, "poisson_nll_loss")


# -- 3-D convolution and pooling, by depth offsets ---------------------------------------------
# Each offset of the kernel along depth takes one strided slab of depth slices, folds its depth
# into the batch, and runs the 2-D op on it; the kd results add up (or take their maximum).
# So the 3-D ops are kd calls of the 2-D ones, with their algorithms and their backward.


def _out_len(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    if span < 0:
        return 0
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside the input or its left padding
        out -= 1
    return out


def _depth_slabs(x, k, s, d, out):
    """For each depth offset i: x's depth slices i*d, i*d + s, ..., as (N*out, C, H, W)."""
    n, c, _, h, w = x.shape
    for i in range(k):
        slab = x[:, :, i * d : i * d + s * (out - 1) + 1 : s]
        yield i, slab.transpose(1, 2).reshape(n * out, c, h, w)


def _triple(value, name, op):
    from glassgrad.ops.utils import ntuple as _ntuple

    return _ntuple(value, 3, name, op)


def _batched5(input, op):
    if input.ndim not in (4, 5):
        raise RuntimeError(f"{op}: expected a 5-D (batched) or 4-D (unbatched) input, got shape {tuple(input.shape)}")
    return (input.unsqueeze(0), True) if input.ndim == 4 else (input, False)


def conv3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: int | tuple[int, ...] | str = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """3-D convolution over (N, C_in, D, H, W) or (C_in, D, H, W); weight (C_out, C_in/groups, kd, kh, kw).
    Output (N, C_out, D_out, H_out, W_out), each size as conv2d's. padding: int, triple, 'valid' or 'same'."""
    from glassgrad.nn import functional as F

    x, unbatched = _batched5(input, "conv3d")
    if not isinstance(weight, Tensor) or weight.ndim != 5:
        raise RuntimeError(
            f"conv3d: weight must be a 5-D tensor (C_out, C_in/groups, kd, kh, kw), got {tuple(weight.shape)}"
        )
    stride, dilation = _triple(stride, "stride", "conv3d"), _triple(dilation, "dilation", "conv3d")
    kernel = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"conv3d: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
        if padding == "same" and any(s != 1 for s in stride):
            raise ValueError("conv3d: padding='same' is not supported for strided convolutions")
        totals = [d * (k - 1) if padding == "same" else 0 for k, d in zip(kernel, dilation)]
        pads = [(t // 2, t - t // 2) for t in totals]
    else:
        pads = [(p, p) for p in _triple(padding, "padding", "conv3d")]
    if x.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(
            f"conv3d: weight of shape {tuple(weight.shape)} (groups={groups}) expects an input with "
            f"{weight.shape[1] * groups} channels, but the input of shape {tuple(input.shape)} has {x.shape[1]}"
        )
    if any(lo or hi for lo, hi in pads):
        x = F.pad(x, (pads[2][0], pads[2][1], pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
    n, depth = x.shape[0], x.shape[2]
    out_d = _out_len(depth, kernel[0], stride[0], 0, dilation[0], False)
    if out_d <= 0:
        raise RuntimeError(f"conv3d: the kernel {kernel} does not fit in the padded input of shape {tuple(x.shape)}")
    total: Any = None  # the sum over depth slabs (there is at least one)
    for i, planes in _depth_slabs(x, kernel[0], stride[0], dilation[0], out_d):
        y = F.conv2d(planes, weight[:, :, i], None, stride[1:], 0, dilation[1:], groups)
        total = y if total is None else total + y
    out = total.reshape(n, out_d, *total.shape[1:]).transpose(1, 2)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1, 1)
    return out.squeeze(0) if unbatched else out


def _pool3d_args(kernel_size, stride, padding, dilation, op):
    kernel = _triple(kernel_size, "kernel_size", op)
    stride = (
        kernel
        if stride is None or (not isinstance(stride, int) and len(stride) == 0)
        else _triple(stride, "stride", op)
    )
    padding, dilation = _triple(padding, "padding", op), _triple(dilation, "dilation", op)
    for k, p, d in zip(kernel, padding, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                f"{op}: pad should be at most half of effective kernel size, but got pad={p}, "
                f"kernel_size={k} and dilation={d}"
            )
    return kernel, stride, padding, dilation


def max_pool3d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """3-D max pooling over (N, C, D, H, W) or (C, D, H, W); padding counts as -inf."""
    from glassgrad.nn import functional as F

    if return_indices:
        raise NotImplementedError("max_pool3d: return_indices=True is not available in glassgrad; use False")
    x, unbatched = _batched5(input, "max_pool3d")
    kernel, stride, padding, dilation = _pool3d_args(kernel_size, stride, padding, dilation, "max_pool3d")
    depth = x.shape[2]
    out_d = _out_len(depth, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    # -inf in front (padding) and behind (padding, and what ceil_mode's last window reaches past it).
    behind = max((out_d - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1 - depth - padding[0], 0)
    if padding[0] or behind:
        x = F.pad(x, (0, 0, 0, 0, padding[0], behind), value=-math.inf)
    best: Any = None
    for _, planes in _depth_slabs(x, kernel[0], stride[0], dilation[0], out_d):
        y = F.max_pool2d(planes, kernel[1:], stride[1:], padding[1:], dilation[1:], ceil_mode)
        best = y if best is None else ops.maximum(best, y)
    out = best.reshape(x.shape[0], out_d, *best.shape[1:]).transpose(1, 2)
    return out.squeeze(0) if unbatched else out


def _window_counts(size, k, s, p, out, include_pad):
    """Per output index along one axis: how many of its window's k places lie inside the input
    (or inside the padded input with ``include_pad``)."""
    start = np.arange(out) * s - p
    lo, hi = (-p, size + p) if include_pad else (0, size)
    return np.clip(np.minimum(start + k, hi) - np.maximum(start, lo), 0, None)


def avg_pool3d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """3-D average pooling over (N, C, D, H, W) or (C, D, H, W), zero padding, as PyTorch's."""
    from glassgrad.nn import functional as F

    x, unbatched = _batched5(input, "avg_pool3d")
    kernel, stride, padding, _ = _pool3d_args(kernel_size, stride, padding, 1, "avg_pool3d")
    if divisor_override is not None and int(divisor_override) == 0:
        raise ValueError("avg_pool3d: divisor_override must be non-zero")
    sizes = tuple(x.shape[2:])
    outs = [_out_len(n, k, s, p, 1, ceil_mode) for n, k, s, p in zip(sizes, kernel, stride, padding)]
    behind = max((outs[0] - 1) * stride[0] + kernel[0] - sizes[0] - padding[0], 0)
    if padding[0] or behind:
        x = F.pad(x, (0, 0, 0, 0, padding[0], behind))
    total: Any = None  # the sum over depth slabs (there is at least one)
    for _, planes in _depth_slabs(x, kernel[0], stride[0], 1, outs[0]):
        y = F.avg_pool2d(planes, kernel[1:], stride[1:], padding[1:], ceil_mode, True, 1)  # window sums
        total = y if total is None else total + y
    sums = total.reshape(x.shape[0], outs[0], *total.shape[1:]).transpose(1, 2)
    if divisor_override is not None:
        out = sums / float(divisor_override)
    else:
        # The divisor is separable: per axis, the window's places inside the (padded) input.
        counts = [
            _window_counts(n, k, s, p, o, count_include_pad)
            for n, k, s, p, o in zip(sizes, kernel, stride, padding, outs)
        ]
        divisor = counts[0][:, None, None] * counts[1][None, :, None] * counts[2][None, None, :]
        out = sums / creation.tensor(divisor.astype(sums.array.dtype))
    return out.squeeze(0) if unbatched else out


# -- CTC --------------------------------------------------------------------------------------


def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Tensor | Sequence[int],
    target_lengths: Tensor | Sequence[int],
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    """Connectionist temporal classification loss, as ``torch.nn.functional.ctc_loss``.

    log_probs (T, N, C) or (T, C), from log_softmax; targets (N, S) padded or (sum(target_lengths),)
    concatenated class indices (never ``blank``); input_lengths, target_lengths (N,) (tensors or
    sequences). 'mean' divides each loss by its target length, then averages over the batch.
    """
    from glassgrad.ops.ctc import CTCLoss

    def ints(x):
        return np.asarray(x.numpy() if isinstance(x, Tensor) else x).astype(np.int64).reshape(-1)

    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
    if log_probs.ndim != 3:
        raise RuntimeError(f"ctc_loss: log_probs must be (T, N, C) or (T, C), got shape {tuple(log_probs.shape)}")
    steps, n, classes = log_probs.shape
    in_len, tg_len = ints(input_lengths), ints(target_lengths)
    if in_len.size != n or tg_len.size != n:
        raise RuntimeError(
            f"ctc_loss: expected {n} input_lengths and target_lengths (one per sample), got {in_len.size} and "
            f"{tg_len.size}"
        )
    if np.any(in_len > steps) or np.any(in_len < 1):
        raise RuntimeError(
            f"ctc_loss: input_lengths must be between 1 and the {steps} time steps, got {in_len.tolist()}"
        )
    flat = ints(targets)
    target_array = np.asarray(targets.numpy() if isinstance(targets, Tensor) else targets)
    if unbatched and target_array.ndim == 1 and flat.size != tg_len.sum():
        target_array = target_array[None, :]
    s_max = int(tg_len.max()) if tg_len.size else 0
    labels = np.full((n, max(s_max, 1)), blank, dtype=np.int64)
    if target_array.ndim == 2:
        if target_array.shape[1] < s_max:
            raise RuntimeError(
                f"ctc_loss: targets of shape {target_array.shape} are shorter than a target length of {s_max}"
            )
        for i, length in enumerate(tg_len):
            labels[i, :length] = target_array[i, :length]
    else:
        if flat.size != tg_len.sum():
            raise RuntimeError(
                f"ctc_loss: concatenated targets hold {flat.size} labels but target_lengths sum to {int(tg_len.sum())}"
            )
        offsets = np.concatenate([[0], np.cumsum(tg_len)])
        for i, length in enumerate(tg_len):
            labels[i, :length] = flat[offsets[i] : offsets[i] + length]
    used = labels[np.arange(labels.shape[1])[None, :] < tg_len[:, None]]
    if used.size and (used.min() < 0 or used.max() >= classes or np.any(used == blank)):
        raise RuntimeError(
            f"ctc_loss: target labels must lie in [0, {classes}) and differ from blank={blank}; got {sorted(set(used.tolist()))}"
        )
    losses = CTCLoss.apply(log_probs, labels, in_len, tg_len, blank=int(blank), zero_infinity=bool(zero_infinity))
    if reduction == "mean":
        divisor = creation.tensor(np.maximum(tg_len, 1).astype(losses.array.dtype))
        return (losses / divisor).mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses.squeeze(0) if unbatched else losses
    raise ValueError(f"ctc_loss: {reduction} is not a valid value for reduction; use 'mean', 'sum' or 'none'")


# -- 1-D pooling, as 2-D pooling of a height-one image ---------------------------------------------


def _single(value, name, op):
    from glassgrad.ops.utils import ntuple as _ntuple

    return _ntuple(value, 1, name, op)[0]


def _as_2d(input, op):
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{op}: expected a 3-D (batched) or 2-D (unbatched) input, got shape {tuple(input.shape)}")
    return input.unsqueeze(-2)


def max_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """1-D max pooling over (N, C, L) or (C, L); padding counts as -inf; indices along L."""
    from glassgrad.nn import functional as F

    k = _single(kernel_size, "kernel_size", "max_pool1d")
    s = k if stride is None or stride == () else _single(stride, "stride", "max_pool1d")
    p, d = _single(padding, "padding", "max_pool1d"), _single(dilation, "dilation", "max_pool1d")
    out = F.max_pool2d(_as_2d(input, "max_pool1d"), (1, k), (1, s), (0, p), (1, d), ceil_mode, return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def avg_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """1-D average pooling over (N, C, L) or (C, L), zero padding."""
    from glassgrad.nn import functional as F

    k = _single(kernel_size, "kernel_size", "avg_pool1d")
    s = k if stride is None or stride == () else _single(stride, "stride", "avg_pool1d")
    p = _single(padding, "padding", "avg_pool1d")
    x = _as_2d(input, "avg_pool1d")
    return F.avg_pool2d(x, (1, k), (1, s), (0, p), ceil_mode, count_include_pad).squeeze(-2)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling of (N, C, L) or (C, L) to a length of ``output_size``."""
    from glassgrad.nn import functional as F

    size = _single(output_size, "output_size", "adaptive_avg_pool1d")
    return F.adaptive_avg_pool2d(_as_2d(input, "adaptive_avg_pool1d"), (1, size)).squeeze(-2)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling of (N, C, L) or (C, L) to a length of ``output_size``; indices along L."""
    from glassgrad.nn import functional as F

    size = _single(output_size, "output_size", "adaptive_max_pool1d")
    out = F.adaptive_max_pool2d(_as_2d(input, "adaptive_max_pool1d"), (1, size), return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)
