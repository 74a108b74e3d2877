"""The NumPy reference of every fast kernel: always available, and the judge of the numba ones.

Each function takes and returns NumPy arrays and keeps the input's float dtype. The numba
versions in ``numba_kernels`` compute the same values in fewer, multi-threaded passes.

(Convolution's im2col stays in glassgrad.ops.conv: measured, NumPy's copies with long
contiguous runs beat compiled loops there. Its col2im is here, because adding short rows is
where compiled loops win (benchmarks/README.md, "Backend").)
"""

import numpy as np


def sigmoid(x):
    """1 / (1 + e) where x >= 0, else e / (1 + e), with e = exp(-|x|): exp never overflows."""
    e = np.abs(x, out=np.empty_like(x))  # out= keeps 0-d results arrays, so in-place works
    np.negative(e, out=e)
    np.exp(e, out=e)
    numerator = np.where(x >= 0, np.ones((), dtype=x.dtype), e)
    e += 1
    return np.divide(numerator, e, out=numerator)


def sigmoid_backward(grad, out):
    """grad * s * (1 - s), where s = sigmoid(x) is the saved output."""
    result = np.subtract(1, out, out=np.empty_like(out))
    np.multiply(result, out, out=result)
    return np.multiply(result, grad, out=result) if grad.dtype == out.dtype else result * grad


def relu(x, out=None):
    """max(x, 0), into ``out`` if given (it may be x itself); NaN stays NaN, as in PyTorch."""
    return np.maximum(x, 0, dtype=x.dtype, out=out)


def relu_backward(grad, out):
    """grad where the output is positive, else 0."""
    return np.where(out > 0, grad, np.zeros((), dtype=grad.dtype))


def hardtanh_backward(grad, out, low, high):
    """grad where the output lies strictly inside (low, high), else 0 (NaN outputs give 0)."""
    inside = (out > low) & (out < high)
    return np.where(inside, grad, np.zeros((), dtype=grad.dtype))


def tanh_backward(grad, out):
    """grad * (1 - tanh(x)^2) from the saved output."""
    result = np.multiply(out, out, out=np.empty_like(out))
    np.subtract(1, result, out=result)
    return np.multiply(result, grad, out=result) if grad.dtype == out.dtype else result * grad


def max_pool2d_2x2(x):
    """MaxPool2d(2) on (N, C, H, W): (out, offsets) with offsets (int8) the row-major position
    0..3 of each maximum in its window; the first maximum on ties, the last NaN if any (PyTorch's
    rule: a value wins when it is greater or NaN). A trailing odd row or column is dropped."""
    n, c, h, w = x.shape
    views = [x[:, :, i : 2 * (h // 2) : 2, j : 2 * (w // 2) : 2] for i in (0, 1) for j in (0, 1)]
    out = views[0].copy()
    offsets = np.zeros(out.shape, dtype=np.int8)
    better = np.empty(out.shape, dtype=bool)
    for k, view in enumerate(views[1:], start=1):
        np.greater(view, out, out=better)
        better |= np.isnan(view)
        np.copyto(out, view, where=better)
        np.copyto(offsets, np.int8(k), where=better)
    return out, offsets


def max_pool2d_2x2_backward(grad, offsets, x_shape):
    """Each output's gradient to the position its maximum came from; zeros elsewhere."""
    n, c, h, w = x_shape
    result = np.zeros(x_shape, dtype=grad.dtype)
    zero = np.zeros((), dtype=grad.dtype)
    for i in (0, 1):
        for j in (0, 1):
            result[:, :, i : 2 * (h // 2) : 2, j : 2 * (w // 2) : 2] = np.where(offsets == 2 * i + j, grad, zero)
    return result


# -- pooling windows of any size: one strided view per kernel offset -----------------------------


def padded_to_windows(x, out_hw, kernel, stride, padding, dilation, fill):
    """The (..., H, W) input extended (with ``fill``) or cropped to exactly the rows and columns
    the windows cover; ``x`` itself (no copy) when nothing needs adding."""
    h, w = x.shape[-2:]
    spans = [(o - 1) * s + d * (k - 1) + 1 for o, k, s, d in zip(out_hw, kernel, stride, dilation)]
    (ph, pw), (sh, sw) = padding, spans
    if ph == 0 and pw == 0 and sh <= h and sw <= w:
        return x
    buffer = np.full(x.shape[:-2] + (sh, sw), fill, dtype=x.dtype)
    rows, cols = min(h, sh - ph), min(w, sw - pw)
    buffer[..., ph : ph + rows, pw : pw + cols] = x[..., :rows, :cols]
    return buffer


def window_views(xp, out_hw, kernel, stride, dilation):
    """For each kernel offset (i, j) in row-major order, the (..., H_out, W_out) view of the
    elements of the padded ``xp`` it picks in every window."""
    (ho, wo), (kh, kw), (sh, sw), (dh, dw) = out_hw, kernel, stride, dilation
    n_c = xp.shape[:-2]
    if (kh, kw) == (sh, sw) and (dh, dw) == (1, 1) and xp.shape[-2] >= ho * kh and xp.shape[-1] >= wo * kw:
        # The windows tile the input: a reshape shows them as (..., H_out, kh, W_out, kw).
        tiles = xp[..., : ho * kh, : wo * kw].reshape(n_c + (ho, kh, wo, kw))
        return [tiles[..., :, i, :, j] for i in range(kh) for j in range(kw)]
    return [
        xp[..., i * dh : i * dh + (ho - 1) * sh + 1 : sh, j * dw : j * dw + (wo - 1) * sw + 1 : sw]
        for i in range(kh)
        for j in range(kw)
    ]


def windows_overlap(kernel, stride, dilation):
    """Whether two (window, offset) pairs can pick the same input element, so that backward must add."""
    return any(s < d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))


def unpad_windows(grad_xp, x_shape, padding):
    """The gradient of the unpadded input from that of the padded (or cropped) one."""
    h, w = x_shape[-2:]
    if grad_xp.shape == tuple(x_shape):
        return grad_xp
    ph, pw = padding
    inner = grad_xp[..., ph : ph + h, pw : pw + w]
    if inner.shape == tuple(x_shape):
        return np.ascontiguousarray(inner)
    # The windows did not reach the last rows or columns: those get no gradient.
    grad_x = np.zeros(x_shape, dtype=grad_xp.dtype)
    grad_x[..., : inner.shape[-2], : inner.shape[-1]] = inner
    return grad_x


def pool_offset_dtype(kernel):
    """The dtype of max pooling's offsets: int8 while a window's kh*kw offsets fit."""
    return np.int8 if kernel[0] * kernel[1] < 128 else np.int32


def _first_valid(out_size, s, p, d):
    """Per output position along one axis: the first offset inside the unpadded input."""
    starts = np.arange(out_size) * s - p
    return np.maximum(0, -(starts // d))  # the smallest i with starts + i*d >= 0


def max_pool2d(x, out_hw, kernel, stride, padding, dilation, offsets=True):
    """Max pooling of (..., H, W) into (..., H_out, W_out) windows of ``kernel`` (padding counts
    as -inf): (out, offsets), offsets the row-major position i*kw + j of each window's maximum
    (``pool_offset_dtype``), or None when ``offsets`` is False. PyTorch's rule: a value wins when
    it is greater or NaN, so the first maximum on ties and the last NaN; a window whose every
    value is -inf points at its first element inside the input."""
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = padded_to_windows(x, out_hw, kernel, stride, padding, dilation, fill)
    views = window_views(xp, out_hw, kernel, stride, dilation)
    out = views[0].copy()
    if not offsets:
        for view in views[1:]:
            np.maximum(out, view, out=out)  # propagates NaN, as PyTorch's max does
        return out, None
    small = pool_offset_dtype(kernel)
    if x.dtype.kind == "f" and np.isnan(x).any():
        where = np.zeros(out.shape, dtype=small)
        better = np.empty(out.shape, dtype=bool)
        for k, view in enumerate(views[1:], start=1):
            np.greater(view, out, out=better)
            better |= np.isnan(view)
            np.copyto(out, view, where=better)
            np.copyto(where, k, where=better)
    else:
        # The maximum first, then the first offset equal to it (scanning backwards so the
        # earliest match is written last): fewer and cheaper passes than tracking as we go.
        for view in views[1:]:
            np.maximum(out, view, out=out)
        where = np.full(out.shape, len(views) - 1, dtype=small)
        for k in range(len(views) - 2, -1, -1):
            where = np.where(views[k] == out, small(k), where)
    if xp is not x and (padding[0] or padding[1]):
        # Where offset 0 lies in the padding and nothing beat it (all real values -inf),
        # PyTorch points at the first element inside the input instead.
        fh = _first_valid(out_hw[0], stride[0], padding[0], dilation[0])
        fw = _first_valid(out_hw[1], stride[1], padding[1], dilation[1])
        first = fh[:, None] * kernel[1] + fw[None, :]
        np.copyto(where, first.astype(where.dtype), where=(where == 0) & (first > 0))
    return out, where


def max_pool2d_backward(grad, offsets, x_shape, kernel, stride, padding, dilation):
    """The gradient of ``max_pool2d``'s input: each output's gradient to the element its
    maximum came from (added where windows overlap), zeros elsewhere."""
    out_hw = grad.shape[-2:]
    spans = [(o - 1) * s + d * (k - 1) + 1 for o, k, s, d in zip(out_hw, kernel, stride, dilation)]
    fits = all(span <= n for span, n in zip(spans, x_shape[-2:]))
    # The shape ``padded_to_windows`` gave the forward pass.
    xp_shape = tuple(x_shape) if padding == (0, 0) and fits else tuple(x_shape[:-2]) + tuple(spans)
    add = windows_overlap(kernel, stride, dilation)
    # When the windows tile the buffer exactly, every element is written once below and
    # needs no zeroing first; elsewhere, elements no window covers must read zero.
    tiled = kernel == stride and dilation == (1, 1) and xp_shape[-2:] == tuple(k * o for k, o in zip(kernel, out_hw))
    grad_xp = np.empty(xp_shape, dtype=grad.dtype) if tiled else np.zeros(xp_shape, dtype=grad.dtype)
    views = window_views(grad_xp, out_hw, kernel, stride, dilation)
    zero = np.zeros((), dtype=grad.dtype)
    for k, view in enumerate(views):
        if add:
            view += np.where(offsets == k, grad, zero)
        else:
            # Every element of the view belongs to exactly one window: write, don't add.
            np.copyto(view, np.where(offsets == k, grad, zero))
    return unpad_windows(grad_xp, x_shape, padding)


def sgd_momentum(param, buf, grad, lr, momentum, dampening, weight_decay, nesterov):
    """One SGD step with momentum after the first, in place on ``param`` and ``buf`` (arrays of
    one shape and float dtype), PyTorch's order of operations: g = grad + weight_decay * param;
    buf = momentum * buf + (1 - dampening) * g; param -= lr * (g + momentum * buf if nesterov
    else buf). The Python scalars act in the arrays' dtype (NumPy's rule for them)."""
    if weight_decay != 0:
        grad = grad + weight_decay * param
    buf *= momentum
    buf += (1 - dampening) * grad
    step = grad + momentum * buf if nesterov else buf
    param += -lr * step


def inverse_std(var, eps):
    """1 / sqrt(var + eps), in var's dtype."""
    return (1 / np.sqrt(var + var.dtype.type(eps))).astype(var.dtype, copy=False)


def normalize(x, axes, eps):
    """``(x_hat, mean, var, invstd)`` with x_hat = (x - mean) * invstd over ``axes`` and the biased
    variance; the statistics keep their axes (keepdims). Batch, layer and group norm share it."""
    mean = x.mean(axis=axes, keepdims=True, dtype=x.dtype)
    centered = x - mean
    var = np.mean(centered * centered, axis=axes, keepdims=True, dtype=x.dtype)
    invstd = inverse_std(var, eps)
    return centered * invstd, mean, var, invstd


def normalized_backward(g_hat, x_hat, invstd, axes):
    """dx of x_hat = (x - mean) * invstd with the statistics over ``axes``, from the gradient
    g_hat of x_hat: invstd * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat))."""
    mean_g = g_hat.mean(axis=axes, keepdims=True)
    mean_gx = (g_hat * x_hat).mean(axis=axes, keepdims=True)
    return invstd * (g_hat - mean_g - x_hat * mean_gx)


def scale_shift(out, weight, bias, shape=None):
    """out * weight + bias, each only when given; ``shape`` reshapes them to broadcast per channel."""
    if weight is not None:
        out = out * (weight if shape is None else weight.reshape(shape))
    if bias is not None:
        out = out + (bias if shape is None else bias.reshape(shape))
    return out


def batch_norm_train(x, weight, bias, eps):
    """Training-mode batch norm over every axis but 1: ``(out, mean, var, invstd)`` with the
    biased batch variance; mean, var, invstd have shape (C,); weight and bias may be None.
    x_hat = (x - mean) * invstd is not kept: backward recomputes it from x."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    x_hat, mean, var, invstd = normalize(x, axes, eps)
    out = scale_shift(x_hat, weight, bias, shape)
    return out.astype(x.dtype, copy=False), mean.reshape(-1), var.reshape(-1), invstd.reshape(-1)


def batch_norm_train_backward(grad, x, mean, invstd, weight):
    """``(grad_x, grad_weight, grad_bias)`` of training-mode batch norm, from the input x and its
    batch mean and invstd (C,), with g' = grad * weight the gradient of x_hat (see
    ``normalized_backward``)."""
    axes = (0,) + tuple(range(2, grad.ndim))
    shape = (1, grad.shape[1]) + (1,) * (grad.ndim - 2)
    x_hat = (x - mean.reshape(shape)) * invstd.reshape(shape)
    g_hat = scale_shift(grad, weight, None, shape)
    grad_x = normalized_backward(g_hat, x_hat, invstd.reshape(shape), axes)
    return grad_x, (grad * x_hat).sum(axis=axes), grad.sum(axis=axes)


def batch_norm_eval_terms(running_mean, running_var, weight, bias, eps, dtype):
    """Per-channel ``(alpha, beta)`` (C,) of evaluation-mode batch norm, out = x * alpha + beta,
    computed as PyTorch does: alpha = invstd * weight rounded to ``dtype``, and beta = bias -
    mean * alpha with a single rounding (PyTorch's CPU kernels fuse it into one multiply-add).

    For float16 and float32 they come back in float64, where the product of two such numbers is
    exact, so ``x * alpha + beta`` in float64 rounded to ``dtype`` gives the fused result (up to
    a double rounding, which takes about one value in 2**29): PyTorch's own bits on a CPU with
    fused multiply-add. float64 gets the plain two-rounding formula, within an ulp of it.
    """
    dtype = np.dtype(dtype)
    mean = np.asarray(running_mean).astype(dtype, copy=False)
    alpha = inverse_std(np.asarray(running_var).astype(dtype, copy=False), eps)
    if weight is not None:
        alpha = (alpha * weight.astype(dtype, copy=False)).astype(dtype, copy=False)
    wide = np.float64 if dtype.itemsize < 8 else dtype
    alpha = alpha.astype(wide)
    beta = -(mean.astype(wide) * alpha)
    if bias is not None:
        beta = bias.astype(wide) + beta
    return alpha, beta.astype(dtype).astype(wide)


def batch_norm_eval(x, running_mean, running_var, weight, bias, eps):
    """Evaluation-mode batch norm over axis 1 with the running statistics (C,): x * alpha + beta
    per channel, with PyTorch's alpha and beta (see ``batch_norm_eval_terms``)."""
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    alpha, beta = batch_norm_eval_terms(running_mean, running_var, weight, bias, eps, x.dtype)
    return (x * alpha.reshape(shape) + beta.reshape(shape)).astype(x.dtype, copy=False)


def col2im(grad_cols, out, stride, top_left, dilation, scratch=None):
    """Add the column gradients back onto the image: ``out`` (b, C, H, W) is overwritten with
    the sum over kernel offsets (i, j) of grad_cols[:, i, j] (groups, kh, kw, C/groups, b,
    H_out, W_out) placed at rows i*dh + stride_h*h_out - top and columns j*dw + stride_w*w_out
    - left, in (i, j) order; places outside the image (the padding) are dropped.

    Each offset's block adds into a zero-padded (C, b, Hp, Wp) buffer in one strided NumPy
    operation: a loop over the kh*kw offsets, never over pixels. ``scratch(shape, dtype)``, if
    given, supplies that buffer (the convolution reuses one)."""
    groups, kh, kw, cg, b, h_out, w_out = grad_cols.shape
    (sh, sw), (pt, pl), (dh, dw) = stride, top_left, dilation
    h, w = out.shape[2], out.shape[3]
    # Rows and columns of the padded buffer: enough for every offset's reach and for the image.
    hp = max(pt + h, (kh - 1) * dh + sh * (h_out - 1) + 1)
    wp = max(pl + w, (kw - 1) * dw + sw * (w_out - 1) + 1)
    shape = (groups, cg, b, hp, wp)
    buffer = np.empty(shape, grad_cols.dtype) if scratch is None else scratch(shape, grad_cols.dtype)
    buffer.fill(0)
    h_span, w_span = sh * (h_out - 1) + 1, sw * (w_out - 1) + 1
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            buffer[:, :, :, top : top + h_span : sh, left : left + w_span : sw] += grad_cols[:, i, j]
    inside = buffer.reshape(groups * cg, b, hp, wp)[:, :, pt : pt + h, pl : pl + w]
    np.copyto(out, inside.transpose(1, 0, 2, 3))
