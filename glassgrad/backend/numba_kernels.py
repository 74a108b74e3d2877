"""The fast kernels compiled with numba: the same values as ``numpy_kernels``, in one
multi-threaded pass where NumPy needs several single-threaded ones.

fastmath stays off, so each element is computed with the same float operations, in the same
order, as the NumPy reference. Kernels compile on first use and are cached on disk
(``cache=True``); small arrays take a serial loop, since waking threads costs more than
the work. Importing this module raises ImportError when numba is missing.
"""

import numba
import numpy as np
from numba import njit, prange

from glassgrad.backend import numpy_kernels

# Below this many elements a serial loop beats waking the thread pool.
PARALLEL_MIN = 1 << 16

_opts = {"cache": True, "nogil": True}


@njit(parallel=True, **_opts)
def _sigmoid_backward_par(grad, out, result, one):
    for i in prange(result.size):
        s = out[i]
        result[i] = (one - s) * s * grad[i]


@njit(**_opts)
def _sigmoid_backward_ser(grad, out, result, one):
    for i in range(result.size):
        s = out[i]
        result[i] = (one - s) * s * grad[i]


@njit(parallel=True, **_opts)
def _relu_par(x, result):
    for i in prange(result.size):
        v = x[i]
        result[i] = 0 if v <= 0 else v


@njit(**_opts)
def _relu_ser(x, result):
    for i in range(result.size):
        v = x[i]
        result[i] = 0 if v <= 0 else v


@njit(parallel=True, **_opts)
def _relu_backward_par(grad, out, result):
    for i in prange(result.size):
        result[i] = grad[i] if out[i] > 0 else 0


@njit(**_opts)
def _relu_backward_ser(grad, out, result):
    for i in range(result.size):
        result[i] = grad[i] if out[i] > 0 else 0


@njit(parallel=True, **_opts)
def _tanh_backward_par(grad, out, result, one):
    for i in prange(result.size):
        t = out[i]
        result[i] = (one - t * t) * grad[i]


def _flat(a):
    return a.reshape(-1) if a.flags.c_contiguous else np.ascontiguousarray(a).reshape(-1)


def _pick(parallel, serial, size):
    return parallel if size >= PARALLEL_MIN else serial


def sigmoid(x):
    # NumPy's vectorised exp outruns numba's scalar one; the reference is already one buffer.
    return numpy_kernels.sigmoid(x)


def sigmoid_backward(grad, out):
    if grad.shape != out.shape or grad.dtype != out.dtype:
        return numpy_kernels.sigmoid_backward(grad, out)
    result = np.empty(out.shape, dtype=out.dtype)
    _pick(_sigmoid_backward_par, _sigmoid_backward_ser, out.size)(
        _flat(grad), _flat(out), result.reshape(-1), out.dtype.type(1)
    )
    return result


def relu(x):
    if x.dtype.kind != "f":
        return numpy_kernels.relu(x)
    result = np.empty(x.shape, dtype=x.dtype)
    _pick(_relu_par, _relu_ser, x.size)(_flat(x), result.reshape(-1))
    return result


def relu_backward(grad, out):
    if grad.shape != out.shape or grad.dtype != out.dtype:
        return numpy_kernels.relu_backward(grad, out)
    result = np.empty(out.shape, dtype=out.dtype)
    _pick(_relu_backward_par, _relu_backward_ser, out.size)(_flat(grad), _flat(out), result.reshape(-1))
    return result


def tanh_backward(grad, out):
    if grad.shape != out.shape or grad.dtype != out.dtype or out.size < PARALLEL_MIN:
        return numpy_kernels.tanh_backward(grad, out)
    result = np.empty(out.shape, dtype=out.dtype)
    _tanh_backward_par(_flat(grad), _flat(out), result.reshape(-1), out.dtype.type(1))
    return result


# -- layout changes around the convolution's matrix products ------------------------------


@njit(parallel=True, **_opts)
def _nchw_to_padded_nhwc(x, pt, pl, xp):
    n, c, h, w = x.shape
    for b in prange(n):
        for i in range(h):
            for j in range(w):
                for k in range(c):
                    xp[b, pt + i, pl + j, k] = x[b, k, i, j]


def nchw_to_padded_nhwc(x, pt, pb, pl, pr):
    n, c, h, w = x.shape
    xp = np.empty((n, h + pt + pb, w + pl + pr, c), dtype=x.dtype)
    # Only the border needs zeros; the interior is written once below.
    if pt:
        xp[:, :pt] = 0
    if pb:
        xp[:, pt + h :] = 0
    if pl:
        xp[:, pt : pt + h, :pl] = 0
    if pr:
        xp[:, pt : pt + h, pl + w :] = 0
    _nchw_to_padded_nhwc(x, pt, pl, xp)
    return xp


@njit(parallel=True, **_opts)
def _nhwc_to_nchw_bias(rows, bias, result):
    n, c, h, w = result.shape
    hw = h * w
    out = result.reshape(n, c, hw)
    for b in prange(n):
        src = rows[b * hw : (b + 1) * hw]
        # Blocks of 16 pixels: reads stay in cache while each channel's plane is written in runs.
        for p0 in range(0, hw, 16):
            p1 = min(p0 + 16, hw)
            for k in range(c):
                bk = bias[k]
                for p in range(p0, p1):
                    out[b, k, p] = src[p, k] + bk


@njit(parallel=True, **_opts)
def _nhwc_to_nchw(rows, result):
    n, c, h, w = result.shape
    hw = h * w
    out = result.reshape(n, c, hw)
    for b in prange(n):
        src = rows[b * hw : (b + 1) * hw]
        for p0 in range(0, hw, 16):
            p1 = min(p0 + 16, hw)
            for k in range(c):
                for p in range(p0, p1):
                    out[b, k, p] = src[p, k]


def nhwc_to_nchw(rows, n, h, w, bias=None):
    c = rows.shape[-1]
    rows = np.ascontiguousarray(rows.reshape(n * h * w, c))
    result = np.empty((n, c, h, w), dtype=rows.dtype)
    if bias is None:
        _nhwc_to_nchw(rows, result)
    else:
        _nhwc_to_nchw_bias(rows, np.ascontiguousarray(bias, dtype=rows.dtype), result)
    return result


@njit(parallel=True, **_opts)
def _nchw_to_nhwc(x, result):
    n, c, h, w = x.shape
    for b in prange(n):
        for i in range(h):
            for j in range(w):
                for k in range(c):
                    result[b, i, j, k] = x[b, k, i, j]


def nchw_to_nhwc(x):
    n, c, h, w = x.shape
    result = np.empty((n, h, w, c), dtype=x.dtype)
    _nchw_to_nhwc(np.ascontiguousarray(x), result)
    return result


@njit(parallel=True, **_opts)
def _col2im_nhwc(grad_cols, sh, sw, pt, pl, dh, dw, result):
    n, h_out, w_out, kh, kw, c = grad_cols.shape
    h, w = result.shape[2], result.shape[3]
    # Each image is one thread's: no two threads ever add into the same element.
    for b in prange(n):
        plane = np.zeros((h, w, c), dtype=result.dtype)
        # Offsets outermost, so each element sums its terms in the reference's order (exactly equal).
        for i in range(kh):
            for j in range(kw):
                for oi in range(h_out):
                    r = oi * sh + i * dh - pt
                    if r < 0 or r >= h:
                        continue
                    for oj in range(w_out):
                        q = oj * sw + j * dw - pl
                        if q < 0 or q >= w:
                            continue
                        for k in range(c):
                            plane[r, q, k] += grad_cols[b, oi, oj, i, j, k]
        for k in range(c):
            for r in range(h):
                for q in range(w):
                    result[b, k, r, q] = plane[r, q, k]


def col2im_nhwc(grad_cols, x_shape, stride, padding, dilation):
    (pt, _), (pl, _) = padding
    result = np.empty(x_shape, dtype=grad_cols.dtype)
    _col2im_nhwc(np.ascontiguousarray(grad_cols), stride[0], stride[1], pt, pl, dilation[0], dilation[1], result)
    return result


# -- max pooling --------------------------------------------------------------------------


@njit(parallel=True, **_opts)
def _max_pool2d(x, kh, kw, sh, sw, ph, pw, dh, dw, out, argmax):
    n, c, h, w = x.shape
    h_out, w_out = out.shape[2], out.shape[3]
    for plane in prange(n * c):
        b, k = plane // c, plane % c
        for oi in range(h_out):
            for oj in range(w_out):
                best = -np.inf
                where = -1
                found_nan = False
                for i in range(kh):
                    r = oi * sh + i * dh - ph
                    if r < 0 or r >= h:
                        continue
                    for j in range(kw):
                        q = oj * sw + j * dw - pw
                        if q < 0 or q >= w:
                            continue
                        v = x[b, k, r, q]
                        if v != v:  # NaN wins, the first one
                            if not found_nan:
                                found_nan = True
                                best = v
                                where = r * w + q
                        elif not found_nan and (v > best or where < 0):
                            best = v
                            where = r * w + q
                out[b, k, oi, oj] = best
                argmax[b, k, oi, oj] = where


@njit(parallel=True, **_opts)
def _max_pool2d_2x2(x, out, argmax):
    n, c, h, w = x.shape
    h_out, w_out = out.shape[2], out.shape[3]
    for plane in prange(n * c):
        b, k = plane // c, plane % c
        for oi in range(h_out):
            r = 2 * oi
            for oj in range(w_out):
                q = 2 * oj
                # Unrolled window in row-major order; strict > keeps the first maximum, and the
                # first NaN wins as in the general loop.
                best = x[b, k, r, q]
                where = r * w + q
                v = x[b, k, r, q + 1]
                if v > best or (v != v and best == best):
                    best = v
                    where = r * w + q + 1
                v = x[b, k, r + 1, q]
                if v > best or (v != v and best == best):
                    best = v
                    where = (r + 1) * w + q
                v = x[b, k, r + 1, q + 1]
                if v > best or (v != v and best == best):
                    best = v
                    where = (r + 1) * w + q + 1
                out[b, k, oi, oj] = best
                argmax[b, k, oi, oj] = where


def max_pool2d(x, kernel, stride, padding, dilation, out_hw):
    n, c = x.shape[:2]
    out = np.empty((n, c, *out_hw), dtype=x.dtype)
    argmax = np.empty((n, c, *out_hw), dtype=np.int64)
    h, w = x.shape[2:]
    tiled = kernel == (2, 2) and stride == (2, 2) and padding == (0, 0) and dilation == (1, 1)
    if tiled and 2 * out_hw[0] <= h and 2 * out_hw[1] <= w:
        # The common MaxPool2d(2): about ten times faster than the general loop's bounds checks.
        _max_pool2d_2x2(np.ascontiguousarray(x), out, argmax)
        return out, argmax
    _max_pool2d(np.ascontiguousarray(x), *kernel, *stride, *padding, *dilation, out, argmax)
    return out, argmax


@njit(parallel=True, **_opts)
def _max_pool2d_backward(grad, argmax, result):
    n, c = grad.shape[0], grad.shape[1]
    m = grad.shape[2] * grad.shape[3]
    hw = result.shape[2] * result.shape[3]
    g = grad.reshape(n * c, m)
    a = argmax.reshape(n * c, m)
    r = result.reshape(n * c, hw)
    for plane in prange(n * c):
        for p in range(hw):
            r[plane, p] = 0
        for p in range(m):
            r[plane, a[plane, p]] += g[plane, p]


def max_pool2d_backward(grad, argmax, x_shape):
    result = np.empty(x_shape, dtype=grad.dtype)
    _max_pool2d_backward(np.ascontiguousarray(grad), np.ascontiguousarray(argmax), result)
    return result


def threads(n):
    """Use ``n`` threads in the parallel loops."""
    numba.set_num_threads(min(int(n), numba.config.NUMBA_NUM_THREADS))
