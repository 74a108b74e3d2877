"""The NumPy reference of every fast kernel: always available, and the judge of the numba ones.

Each function takes and returns NumPy arrays and allocates its result. The numba versions
in ``numba_kernels`` compute the same values in fewer, multi-threaded passes.
"""

import numpy as np


def sigmoid(x):
    """1 / (1 + exp(-x)) in place in one buffer; exp overflows to inf for x < -88, giving exactly 0."""
    out = np.negative(x)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


def sigmoid_backward(grad, out):
    """grad * s * (1 - s), where s = sigmoid(x) is the saved output."""
    result = np.subtract(1, out, dtype=out.dtype)
    result *= out
    result *= grad
    return result


def relu(x):
    """max(x, 0); NaN stays NaN, as in PyTorch."""
    return np.maximum(x, 0, dtype=x.dtype)


def relu_backward(grad, out):
    """grad where the output is positive, else 0."""
    return np.where(out > 0, grad, np.zeros((), dtype=grad.dtype))


def tanh_backward(grad, out):
    """grad * (1 - tanh(x)^2) from the saved output."""
    result = np.multiply(out, out)
    np.subtract(1, result, out=result)
    result *= grad
    return result


def nchw_to_padded_nhwc(x, pt, pb, pl, pr):
    """(N, C, H, W) -> zero-padded (N, H + pt + pb, W + pl + pr, C)."""
    n, c, h, w = x.shape
    xp = np.zeros((n, h + pt + pb, w + pl + pr, c), dtype=x.dtype)
    xp[:, pt : pt + h, pl : pl + w, :] = x.transpose(0, 2, 3, 1)
    return xp


def nhwc_to_nchw(rows, n, h, w, bias=None):
    """Rows (N*H*W, C) of an NHWC array -> contiguous (N, C, H, W), adding ``bias`` (C,) on the way."""
    c = rows.shape[-1]
    source = rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)
    if bias is None:
        return np.ascontiguousarray(source)
    result = np.empty((n, c, h, w), dtype=rows.dtype)
    np.add(source, bias.reshape(1, c, 1, 1), out=result)
    return result


def nchw_to_nhwc(x):
    """(N, C, H, W) -> contiguous (N, H, W, C)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def col2im_nhwc(grad_cols, x_shape, stride, padding, dilation):
    """Sum column gradients (N, H_out, W_out, kh, kw, C) back onto the input, returned as NCHW.

    padding is ((top, bottom), (left, right)); one slice-add per kernel offset.
    """
    n, h_out, w_out, kh, kw, c = grad_cols.shape
    _, _, h, w = x_shape
    (pt, pb), (pl, pr) = padding
    buffer = np.zeros((n, h + pt + pb, w + pl + pr, c), dtype=grad_cols.dtype)
    h_span = stride[0] * (h_out - 1) + 1
    w_span = stride[1] * (w_out - 1) + 1
    for i in range(kh):
        top = i * dilation[0]
        for j in range(kw):
            left = j * dilation[1]
            buffer[:, top : top + h_span : stride[0], left : left + w_span : stride[1]] += grad_cols[:, :, :, i, j]
    return np.ascontiguousarray(buffer[:, pt : pt + h, pl : pl + w].transpose(0, 3, 1, 2))


def max_pool2d(x, kernel, stride, padding, dilation, out_hw):
    """Max pooling of (N, C, H, W) with -inf padding; returns (out, argmax) where argmax is the
    flat index h * W + w of each maximum in its (H, W) plane (the first one on ties)."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    h_out, w_out = out_hw
    # Enough padding on the bottom/right for ceil_mode windows that run past the edge.
    hp = max(h + 2 * ph, (h_out - 1) * sh + (kh - 1) * dh + 1)
    wp = max(w + 2 * pw, (w_out - 1) * sw + (kw - 1) * dw + 1)
    xp = np.full((n, c, hp, wp), -np.inf, dtype=x.dtype)
    xp[:, :, ph : ph + h, pw : pw + w] = x
    s = xp.strides
    windows = np.lib.stride_tricks.as_strided(
        xp, (n, c, h_out, w_out, kh, kw), (s[0], s[1], sh * s[2], sw * s[3], dh * s[2], dw * s[3]), writeable=False
    ).reshape(n, c, h_out, w_out, kh * kw)
    # NaN wins, as in PyTorch: argmax over "is NaN" first, then the ordinary argmax.
    local = np.argmax(windows, axis=-1)
    out = np.take_along_axis(windows, local[..., None], axis=-1)[..., 0]
    nan = np.isnan(windows)
    if nan.any():
        has_nan = nan.any(axis=-1)
        local = np.where(has_nan, np.argmax(nan, axis=-1), local)
        out = np.where(has_nan, np.nan, out).astype(x.dtype)
    ki, kj = np.divmod(local, kw)
    rows = np.arange(h_out).reshape(-1, 1) * sh + ki * dh - ph
    cols = np.arange(w_out) * sw + kj * dw - pw
    return np.ascontiguousarray(out), (rows * w + cols).astype(np.int64)


def max_pool2d_backward(grad, argmax, x_shape):
    """Send each output's gradient to the input position its maximum came from (summing overlaps)."""
    n, c, h, w = x_shape
    result = np.zeros((n * c, h * w), dtype=grad.dtype)
    flat = argmax.reshape(n * c, -1)
    offsets = (np.arange(n * c) * (h * w)).reshape(-1, 1)
    np.add.at(result.reshape(-1), (flat + offsets).reshape(-1), grad.reshape(-1))
    return result.reshape(n, c, h, w)
