"""The fast kernels compiled with numba: the same values as ``numpy_kernels``, in one
multi-threaded pass where NumPy needs several single-threaded ones.

fastmath stays off, so each element is computed with the same float operations, in the same
order, as the NumPy reference: results are bit for bit equal, except sigmoid's exp, which
may differ from NumPy's vectorised exp in the last bit. Constants are passed in the array's
dtype (``one``), since a Python literal would promote float32 arithmetic to float64. Kernels
compile on first use and are cached on disk (``cache=True``); small arrays take a serial
loop, since waking threads costs more than the work. Importing this module raises
ImportError when numba is missing.
"""

import os

import numba
import numpy as np
from numba import njit, prange

from glassgrad.backend import numpy_kernels

if "NUMBA_THREADING_LAYER" not in os.environ:
    # workqueue: measured 10-20% less CPU per training step than OpenMP's spinning threads
    # beside OpenBLAS's, and fork-safe (DataLoader workers fork). It is not thread-safe, so
    # glassgrad.backend runs one kernel at a time.
    numba.config.THREADING_LAYER = "workqueue"

# Below this many elements a serial loop beats waking the thread pool.
PARALLEL_MIN = 1 << 15

_opts = {"cache": True, "nogil": True}


@njit(parallel=True, **_opts)
def _sigmoid(x, result, one):
    for i in prange(result.size):
        v = x[i]
        e = np.exp(-abs(v))
        result[i] = (one if v >= 0 else e) / (one + e)


@njit(parallel=True, **_opts)
def _sigmoid_backward(grad, out, result, one):
    for i in prange(result.size):
        s = out[i]
        result[i] = (one - s) * s * grad[i]


@njit(parallel=True, **_opts)
def _relu(x, result):
    for i in prange(result.size):
        v = x[i]
        result[i] = 0 if v <= 0 else v


@njit(parallel=True, **_opts)
def _relu_backward(grad, out, result):
    for i in prange(result.size):
        result[i] = grad[i] if out[i] > 0 else 0


@njit(parallel=True, **_opts)
def _tanh_backward(grad, out, result, one):
    for i in prange(result.size):
        t = out[i]
        result[i] = (one - t * t) * grad[i]


def _flat(a):
    return a.reshape(-1) if a.flags.c_contiguous else np.ascontiguousarray(a).reshape(-1)


# float16 and the rest take the NumPy path (numba has no half-precision arithmetic).
_COMPILED = (np.dtype(np.float32), np.dtype(np.float64))


def _fits(*arrays):
    """float32/float64 arrays of one shape and dtype, large enough to be worth the threads."""
    first = arrays[0]
    return (
        first.dtype in _COMPILED
        and first.size >= PARALLEL_MIN
        and all(a.shape == first.shape and a.dtype == first.dtype for a in arrays)
    )


def sigmoid(x):
    if not _fits(x):
        return numpy_kernels.sigmoid(x)
    result = np.empty(x.shape, dtype=x.dtype)
    _sigmoid(_flat(x), result.reshape(-1), x.dtype.type(1))
    return result


def sigmoid_backward(grad, out):
    if not _fits(grad, out):
        return numpy_kernels.sigmoid_backward(grad, out)
    result = np.empty(out.shape, dtype=out.dtype)
    _sigmoid_backward(_flat(grad), _flat(out), result.reshape(-1), out.dtype.type(1))
    return result


def relu(x):
    if not _fits(x):
        return numpy_kernels.relu(x)
    result = np.empty(x.shape, dtype=x.dtype)
    _relu(_flat(x), result.reshape(-1))
    return result


def relu_backward(grad, out):
    if not _fits(grad, out):
        return numpy_kernels.relu_backward(grad, out)
    result = np.empty(out.shape, dtype=out.dtype)
    _relu_backward(_flat(grad), _flat(out), result.reshape(-1))
    return result


def tanh_backward(grad, out):
    if not _fits(grad, out):
        return numpy_kernels.tanh_backward(grad, out)
    result = np.empty(out.shape, dtype=out.dtype)
    _tanh_backward(_flat(grad), _flat(out), result.reshape(-1), out.dtype.type(1))
    return result


# -- max pooling with a 2x2 window and stride 2 ------------------------------------------------


@njit(parallel=True, **_opts)
def _max_pool2d_2x2(x, out, offsets):
    n, c = x.shape[0], x.shape[1]
    h_out, w_out = out.shape[2], out.shape[3]
    for plane in prange(n * c):
        b, k = plane // c, plane % c
        src = x[b, k]
        for oi in range(h_out):
            r = 2 * oi
            for oj in range(w_out):
                q = 2 * oj
                # The window unrolled in row-major order, with PyTorch's rule (greater or NaN wins).
                best = src[r, q]
                where = 0
                v = src[r, q + 1]
                if v > best or v != v:
                    best = v
                    where = 1
                v = src[r + 1, q]
                if v > best or v != v:
                    best = v
                    where = 2
                v = src[r + 1, q + 1]
                if v > best or v != v:
                    best = v
                    where = 3
                out[b, k, oi, oj] = best
                offsets[b, k, oi, oj] = where


def max_pool2d_2x2(x):
    if x.dtype not in _COMPILED:
        return numpy_kernels.max_pool2d_2x2(x)
    n, c, h, w = x.shape
    out = np.empty((n, c, h // 2, w // 2), dtype=x.dtype)
    offsets = np.empty(out.shape, dtype=np.int8)
    _max_pool2d_2x2(np.ascontiguousarray(x), out, offsets)
    return out, offsets


@njit(parallel=True, **_opts)
def _max_pool2d_2x2_backward(grad, offsets, result):
    n, c = grad.shape[0], grad.shape[1]
    h_out, w_out = grad.shape[2], grad.shape[3]
    h, w = result.shape[2], result.shape[3]
    for plane in prange(n * c):
        b, k = plane // c, plane % c
        dst = result[b, k]
        for r in range(h):
            for q in range(w):
                dst[r, q] = 0
        for oi in range(h_out):
            for oj in range(w_out):
                where = offsets[b, k, oi, oj]
                dst[2 * oi + where // 2, 2 * oj + where % 2] = grad[b, k, oi, oj]


def max_pool2d_2x2_backward(grad, offsets, x_shape):
    if grad.dtype not in _COMPILED:
        return numpy_kernels.max_pool2d_2x2_backward(grad, offsets, x_shape)
    result = np.empty(x_shape, dtype=grad.dtype)
    _max_pool2d_2x2_backward(np.ascontiguousarray(grad), np.ascontiguousarray(offsets), result)
    return result


def threads(n):
    """Use ``n`` threads in the parallel loops (at most the pool numba started with)."""
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
