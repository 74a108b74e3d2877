"""The NumPy reference of every fast kernel: always available, and the judge of the numba ones.

Each function takes and returns NumPy arrays and keeps the input's float dtype. The numba
versions in ``numba_kernels`` compute the same values in fewer, multi-threaded passes.

(Convolution's im2col and col2im stay in glassgrad.ops.conv: measured, its NumPy copies
with long contiguous runs beat compiled loops over NCHW.)
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


def relu(x):
    """max(x, 0); NaN stays NaN, as in PyTorch."""
    return np.maximum(x, 0, dtype=x.dtype)


def relu_backward(grad, out):
    """grad where the output is positive, else 0."""
    return np.where(out > 0, grad, np.zeros((), dtype=grad.dtype))


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


def batch_norm_train(x, weight, bias, eps):
    """Training-mode batch norm over every axis but 1: ``(out, x_hat, mean, var, invstd)`` with
    the biased batch variance; mean, var, invstd have shape (C,); weight and bias may be None."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes, keepdims=True, dtype=x.dtype)
    centered = x - mean
    var = np.mean(centered * centered, axis=axes, keepdims=True, dtype=x.dtype)
    invstd = (1 / np.sqrt(var + x.dtype.type(eps))).astype(x.dtype, copy=False)
    x_hat = centered * invstd
    out = x_hat
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out.astype(x.dtype, copy=False), x_hat, mean.reshape(-1), var.reshape(-1), invstd.reshape(-1)


def batch_norm_train_backward(grad, x_hat, invstd, weight):
    """``(grad_x, grad_weight, grad_bias)`` of training-mode batch norm, from the saved x_hat and
    invstd (C,): dx = invstd * (g' - mean(g') - x_hat * mean(g' * x_hat)) with g' = grad * weight."""
    axes = (0,) + tuple(range(2, grad.ndim))
    shape = (1, grad.shape[1]) + (1,) * (grad.ndim - 2)
    g_hat = grad if weight is None else grad * weight.reshape(shape)
    mean_g = g_hat.mean(axis=axes, keepdims=True)
    mean_gx = (g_hat * x_hat).mean(axis=axes, keepdims=True)
    grad_x = invstd.reshape(shape) * (g_hat - mean_g - x_hat * mean_gx)
    return grad_x, (grad * x_hat).sum(axis=axes), grad.sum(axis=axes)


def batch_norm_eval(x, running_mean, running_var, weight, bias, eps):
    """Evaluation-mode batch norm over axis 1 with the running statistics (C,):
    ((x - mean) * invstd) * weight + bias, with invstd = 1 / sqrt(var + eps)."""
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mean = running_mean.astype(x.dtype, copy=False).reshape(shape)
    var = running_var.astype(x.dtype, copy=False).reshape(shape)
    invstd = (1 / np.sqrt(var + x.dtype.type(eps))).astype(x.dtype, copy=False)
    out = (x - mean) * invstd
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out.astype(x.dtype, copy=False)
