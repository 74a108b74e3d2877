"""Functional forms of the attention, transposed convolution, rearrangement and distance layers.

They live here, re-exported by ``nn.functional`` under PyTorch's names, so that the long
functional module grows by one import. Each is composed of differentiable ops (or one op
from ``glassgrad.ops``), so backward comes with them.
"""

import math

import numpy as np

from glassgrad import creation, ops
from glassgrad.tensor import Tensor


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
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
):
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
    query,
    key,
    value,
    embed_dim_to_check,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn,
    dropout_p,
    out_proj_weight,
    out_proj_bias,
    training=True,
    key_padding_mask=None,
    need_weights=True,
    attn_mask=None,
    use_separate_proj_weight=False,
    q_proj_weight=None,
    k_proj_weight=None,
    v_proj_weight=None,
    static_k=None,
    static_v=None,
    average_attn_weights=True,
    is_causal=False,
):
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
    from glassgrad.ops.conv import _batched, _ntuple
    from glassgrad.ops.conv.transpose import ConvTranspose

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


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution (the gradient of conv2d w.r.t. its input), as PyTorch's.

    input (N, C_in, H, W) or (C_in, H, W); weight (C_in, C_out/groups, kh, kw); bias (C_out,).
    Output (N, C_out, H_out, W_out), H_out = (H-1)*stride - 2*padding + dilation*(kh-1) + output_padding + 1.
    """
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 2, "conv_transpose2d"
    )


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution: input (N, C_in, L) or (C_in, L), weight (C_in, C_out/groups, k)."""
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 1, "conv_transpose1d"
    )
