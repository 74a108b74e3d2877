"""The fast kernels compiled with numba: the same values as ``numpy_kernels``, in one
pass (shared among threads for large arrays) where NumPy needs several.

fastmath stays off, so the elementwise kernels and pooling compute each element with the
same float operations, in the same order, as the NumPy reference: bit for bit equal (float64
sigmoid calls NumPy's own exp for that). Two exceptions: float32 sigmoid computes its own exp,
within 3 ulp of the reference, because NumPy's is slow there; batch norm sums its statistics in
float64, so it agrees to float32 rounding rather than bit for bit.
Constants are passed in the array's dtype (``one``), since a Python literal would promote
float32 arithmetic to float64. Kernels compile on first use and are cached on disk
(``cache=True``). Arrays under ``COMPILED_MIN`` elements, float16 and mixed dtypes go to the
NumPy reference; arrays under ``PARALLEL_MIN`` run on the calling thread alone. Importing this
module raises ImportError when numba is missing.
"""

import os
import types

import numba
import numpy as np
from numba import njit, prange

from glassgrad.backend import memory, numpy_kernels, pool

if "NUMBA_THREADING_LAYER" not in os.environ:
    # workqueue: less CPU per training step than OpenMP's spinning threads beside OpenBLAS's
    # (benchmarks/README.md, "Backend"), and fork-safe (DataLoader workers fork). It is not thread-safe, so
    # glassgrad.backend runs one kernel at a time.
    numba.config.THREADING_LAYER = "workqueue"

# Below this many elements the NumPy reference beats calling a compiled kernel.
COMPILED_MIN = 1 << 15
# From this many elements on, a kernel's loop is shared among numba's threads. Starting them
# costs the wake-up of an idle core per call, worth millions of elements of a plain loop; inside
# a network, with convolutions between the calls, 4M beat 1M (figures: benchmarks/README.md,
# "Backend").
PARALLEL_MIN = 1 << 22

# error_model="numpy": a division by zero gives inf or nan, as in NumPy, instead of raising; the
# check Python's model adds keeps LLVM from vectorising a loop that divides.
_opts = {"cache": True, "nogil": True, "error_model": "numpy"}


class _Kernel:
    """A kernel compiled twice: with its prange loops shared among numba's threads, and as plain
    loops; a call picks one by the size of its first argument. Both compute every element with
    the same operations in the same order, so they give the same bits."""

    def __init__(self, fn, parallel_min=None):
        self.parallel_min = parallel_min
        self.parallel = njit(parallel=True, **_opts)(fn)
        serial = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__)
        serial.__qualname__ = fn.__qualname__ + "_serial"  # its own on-disk cache entry
        self.serial = njit(**_opts)(serial)

    def __call__(self, *args):
        threshold = PARALLEL_MIN if self.parallel_min is None else self.parallel_min
        kernel = self.parallel if args[0].size >= threshold else self.serial
        return kernel(*args)


def _kernel(fn=None, *, parallel_min=None):
    if fn is None:
        return lambda fn: _Kernel(fn, parallel_min)
    return _Kernel(fn)


# float32 sigmoid in one pass, with its own exp: NumPy's float32 exp runs about 1.5 ns per element
# on AVX2 machines (its vectorised version needs AVX-512), longer than the rest of the pass.
# exp(v) for v = -|x| <= 0 is 2^k * exp(r) with k = round(v / ln 2) and |r| <= ln(2)/2: r by
# Cody and Waite's two-part ln 2, exp(r) by Cephes' degree-7 polynomial, 2^k built from its bits.
# The loop vectorises; its results lie within 3 ulp of the NumPy reference's.
_LOG2E = np.float32(1.4426950408889634)
_LN2_HI, _LN2_LO = np.float32(0.693359375), np.float32(-2.12194440e-4)
_EXP_P0, _EXP_P1, _EXP_P2 = np.float32(1.9875691500e-4), np.float32(1.3981999507e-3), np.float32(8.3334519073e-3)
_EXP_P3, _EXP_P4, _EXP_P5 = np.float32(4.1665795894e-2), np.float32(1.6666665459e-1), np.float32(5.0000001201e-1)
# 2^k is built as 2^(k + 64) * 2^-64, so that k down to -150 (results in the subnormals) stays a
# normal float; below v = -104 exp(v) rounds to 0 anyway.
_EXP_FLOOR, _TWO_TO_MINUS_64 = np.float32(-104.0), np.float32(2.0**-64)


@_kernel
def _sigmoid_float32(x, result):
    one, half = np.float32(1.0), np.float32(0.5)
    for i in prange(result.size):
        xi = x[i]
        v = max(-abs(xi), _EXP_FLOOR)
        k = np.floor(v * _LOG2E + half)
        r = v - k * _LN2_HI
        r = r - k * _LN2_LO
        p = _EXP_P0
        p = p * r + _EXP_P1
        p = p * r + _EXP_P2
        p = p * r + _EXP_P3
        p = p * r + _EXP_P4
        p = p * r + _EXP_P5
        y = p * (r * r) + r + one
        scale = np.int32((np.int32(k) + np.int32(127 + 64)) << np.int32(23)).view(np.float32)
        e = y * scale * _TWO_TO_MINUS_64
        s = (one if xi >= 0 else e) / (one + e)
        result[i] = s if xi == xi else xi  # NaN stays NaN


@_kernel
def _negative_abs(x, result):
    for i in prange(result.size):
        result[i] = -abs(x[i])


@_kernel
def _sigmoid_finish(x, e, result, one):
    for i in prange(result.size):
        v = e[i]
        result[i] = (one if x[i] >= 0 else v) / (one + v)


# Below this, handing half of an exp to another thread costs more than it saves.
EXP_SPLIT_MIN = 1 << 19


def _parallel_exp(a):
    """np.exp in place, one slice per thread: NumPy's vectorised exp is faster than numba's
    scalar one and releases the GIL, so the slices run at once."""
    parts = numba.get_num_threads()
    if parts < 2 or a.size < EXP_SPLIT_MIN:
        np.exp(a, out=a)
        return
    edges = np.linspace(0, a.size, parts + 1).astype(int)
    slices = [a[lo:hi] for lo, hi in zip(edges[:-1], edges[1:])]
    pool.run([lambda part=part: np.exp(part, out=part) for part in slices])


@_kernel
def _sigmoid_backward(grad, out, result, one):
    for i in prange(result.size):
        s = out[i]
        result[i] = (one - s) * s * grad[i]


@_kernel
def _relu(x, result):
    for i in prange(result.size):
        v = x[i]
        result[i] = 0 if v <= 0 else v


@_kernel
def _relu_backward(grad, out, result):
    for i in prange(result.size):
        result[i] = grad[i] if out[i] > 0 else 0


@_kernel
def _hardtanh_backward(grad, out, low, high, result):
    for i in prange(result.size):
        v = out[i]
        result[i] = grad[i] if v > low and v < high else 0


@_kernel
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
        and first.size >= COMPILED_MIN
        and all(a.shape == first.shape and a.dtype == first.dtype for a in arrays)
    )


def sigmoid(x):
    if not _fits(x):
        return numpy_kernels.sigmoid(x)
    flat = _flat(x)
    if x.dtype == np.float32:
        result = memory.empty(x.shape, x.dtype)
        _sigmoid_float32(flat, result.reshape(-1))
        return result
    # float64: the reference's formula in three passes, -|x| (compiled), exp (NumPy's, threaded),
    # then (1 or e) / (1 + e) (compiled): bit for bit the reference's values.
    e = memory.empty(flat.shape, x.dtype)
    _negative_abs(flat, e)
    with np.errstate(under="ignore"):
        _parallel_exp(e)
    result = memory.empty(x.shape, x.dtype)
    _sigmoid_finish(flat, e, result.reshape(-1), x.dtype.type(1))
    return result


def sigmoid_backward(grad, out):
    if not _fits(grad, out):
        return numpy_kernels.sigmoid_backward(grad, out)
    result = memory.empty(out.shape, out.dtype)
    _sigmoid_backward(_flat(grad), _flat(out), result.reshape(-1), out.dtype.type(1))
    return result


def relu(x, out=None):
    if not _fits(x) or (out is not None and not out.flags.c_contiguous):
        return numpy_kernels.relu(x, out)
    result = memory.empty(x.shape, x.dtype) if out is None else out
    _relu(_flat(x), result.reshape(-1))
    return result


def relu_backward(grad, out):
    if not _fits(grad, out):
        return numpy_kernels.relu_backward(grad, out)
    result = memory.empty(out.shape, out.dtype)
    _relu_backward(_flat(grad), _flat(out), result.reshape(-1))
    return result


def hardtanh_backward(grad, out, low, high):
    # One pass instead of NumPy's three (two comparisons, their and, the select): ReLU6's backward.
    if not _fits(grad, out):
        return numpy_kernels.hardtanh_backward(grad, out, low, high)
    result = memory.empty(out.shape, out.dtype)
    t = out.dtype.type
    _hardtanh_backward(_flat(grad), _flat(out), t(low), t(high), result.reshape(-1))
    return result


def tanh_backward(grad, out):
    if not _fits(grad, out):
        return numpy_kernels.tanh_backward(grad, out)
    result = memory.empty(out.shape, out.dtype)
    _tanh_backward(_flat(grad), _flat(out), result.reshape(-1), out.dtype.type(1))
    return result


# -- max pooling with a 2x2 window and stride 2 ------------------------------------------------


@_kernel
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
    out = memory.empty((n, c, h // 2, w // 2), x.dtype)
    offsets = np.empty(out.shape, dtype=np.int8)
    _max_pool2d_2x2(np.ascontiguousarray(x), out, offsets)
    return out, offsets


@_kernel
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
    result = memory.empty(x_shape, grad.dtype)
    _max_pool2d_2x2_backward(np.ascontiguousarray(grad), np.ascontiguousarray(offsets), result)
    return result


# -- max pooling with any window: one pass per plane --------------------------------------------
#
# The NumPy reference takes kh*kw passes over strided views, two more for the offsets, and a
# padded copy of the input; here each window is scanned once, skipping what lies in the padding.
# ImageNet ResNets' 3x3/2 pooling of 64x112x112 maps took 12% of a training step the NumPy way
# (benchmarks/README.md, "Max pooling").


@_kernel
def _max_pool2d(x, out, offsets, kh, kw, sh, sw, ph, pw, dh, dw):
    planes, h, w = x.shape
    h_out, w_out = out.shape[1], out.shape[2]
    for plane in prange(planes):
        src = x[plane]
        for oi in range(h_out):
            top = oi * sh - ph
            for oj in range(w_out):
                left = oj * sw - pw
                # PyTorch's rule in row-major order: the first element inside the input, then
                # any greater or NaN value replaces it. (Branch-free selects, or the row's
                # windows one offset at a time, measured slower: 1.2-2.6x the time.)
                best = src[0, 0]
                where = -1
                for i in range(kh):
                    r = top + i * dh
                    if r < 0 or r >= h:
                        continue
                    for j in range(kw):
                        q = left + j * dw
                        if q < 0 or q >= w:
                            continue
                        v = src[r, q]
                        if where < 0 or v > best or v != v:
                            best = v
                            where = i * kw + j
                out[plane, oi, oj] = best
                offsets[plane, oi, oj] = where


@_kernel
def _max_pool2d_backward(grad, offsets, result, kw, sh, sw, ph, pw, dh, dw):
    planes, h_out, w_out = grad.shape
    for plane in prange(planes):
        dst = result[plane]
        dst[:, :] = 0
        for oi in range(h_out):
            for oj in range(w_out):
                where = offsets[plane, oi, oj]
                dst[oi * sh - ph + (where // kw) * dh, oj * sw - pw + (where % kw) * dw] += grad[plane, oi, oj]


def max_pool2d(x, out_hw, kernel, stride, padding, dilation, offsets=True):
    if x.dtype not in _COMPILED or x.size == 0:
        return numpy_kernels.max_pool2d(x, out_hw, kernel, stride, padding, dilation, offsets)
    h, w = x.shape[-2:]
    planes = np.ascontiguousarray(x).reshape(-1, h, w)
    out = memory.empty((planes.shape[0], *out_hw), x.dtype)
    where = np.empty(out.shape, dtype=numpy_kernels.pool_offset_dtype(kernel))
    _max_pool2d(planes, out, where, *kernel, *stride, *padding, *dilation)
    shape = x.shape[:-2] + tuple(out_hw)
    return out.reshape(shape), where.reshape(shape)


def max_pool2d_backward(grad, offsets, x_shape, kernel, stride, padding, dilation):
    if grad.dtype not in _COMPILED or grad.size == 0:
        return numpy_kernels.max_pool2d_backward(grad, offsets, x_shape, kernel, stride, padding, dilation)
    h_out, w_out = grad.shape[-2:]
    result = memory.empty(x_shape, grad.dtype)
    _max_pool2d_backward(
        np.ascontiguousarray(grad).reshape(-1, h_out, w_out),
        np.ascontiguousarray(offsets).reshape(-1, h_out, w_out),
        result.reshape(-1, *x_shape[-2:]),
        kernel[1],
        *stride,
        *padding,
        *dilation,
    )
    return result


# -- the SGD step: one pass instead of NumPy's four, and no temporaries ---------------------------


@_kernel
def _sgd_momentum(param, buf, grad, neg_lr, momentum, keep, weight_decay, nesterov):
    for i in prange(param.size):
        g = grad[i]
        if weight_decay != 0:
            g = g + weight_decay * param[i]
        b = buf[i] * momentum
        b = b + keep * g
        buf[i] = b
        step = g + momentum * b if nesterov else b
        param[i] = param[i] + neg_lr * step


def sgd_momentum(param, buf, grad, lr, momentum, dampening, weight_decay, nesterov):
    arrays = (param, buf, grad)
    if not (_fits(*arrays) and all(a.flags.c_contiguous for a in arrays)):
        return numpy_kernels.sgd_momentum(param, buf, grad, lr, momentum, dampening, weight_decay, nesterov)
    t = param.dtype.type  # each scalar rounded to the dtype first, as NumPy does with them
    _sgd_momentum(
        param.reshape(-1),
        buf.reshape(-1),
        grad.reshape(-1),
        t(-lr),
        t(momentum),
        t(1 - dampening),
        t(weight_decay),
        nesterov,
    )


# -- batch norm in training mode: two passes over the data each way ------------------------------


# The statistics are float64 sums. Without fastmath LLVM keeps a sum's additions in order: one
# running sum is a chain of dependent scalar additions. With "reassoc" alone (NaN and infinity
# keep their meaning) it may split a row's sum into vector lanes: 0.26-0.53x the time of four
# interleaved scalar chains at MobileNetV2's shapes (benchmarks/README.md, "MobileNetV2 training
# step"). The lanes depend on the row's length and the machine, not on the thread count: each
# row is summed by this one helper, whichever thread runs it.
@njit(fastmath={"reassoc"}, **_opts)
def _row_shifted_sums(row, shift):
    """float64 sums of (row - shift) and of (row - shift)^2 over a contiguous row."""
    total = 0.0
    squares = 0.0
    for p in range(row.size):
        d = row[p] - shift
        total += d
        squares += d * d
    return total, squares


@njit(fastmath={"reassoc"}, **_opts)
def _row_sum_and_dot(g, x, mu, s):
    """float64 sums of g and of g * x_hat over two contiguous rows of equal size, with x_hat =
    (x - mu) * s recomputed from the input."""
    total = 0.0
    dot = 0.0
    for p in range(g.size):
        v = g[p]
        total += v
        dot += v * ((x[p] - mu) * s)
    return total, dot


# Batch norm's training passes read the data two or three times per call: worth the threads at any size.
@_kernel(parallel_min=COMPILED_MIN)
def _bn_forward(x3, weight, bias, eps, out3, mean, var, invstd):
    n, c, m = x3.shape
    count = n * m
    for k in prange(c):
        # Mean and variance in one pass over the data instead of two, as the sums of d = x - shift
        # and of d^2 in float64: var = mean(d^2) - mean(d)^2. With shift a value of the channel
        # itself, mean(d) is a few standard deviations at most, so the subtraction loses
        # nothing float32 can see (and a few bits of float64's 53).
        shift = np.float64(x3[0, k, 0])
        total = 0.0
        squares = 0.0
        for b in range(n):
            row_total, row_squares = _row_shifted_sums(x3[b, k], shift)
            total += row_total
            squares += row_squares
        d = total / count
        mu = shift + d
        v = max(squares / count - d * d, 0.0)
        s = 1.0 / np.sqrt(v + eps)
        mean[k], var[k], invstd[k] = mu, v, s
        mu32, s32, w, bb = mean[k], invstd[k], weight[k], bias[k]
        for b in range(n):
            for p in range(m):
                # x_hat is not stored: backward recomputes it from x with the same two roundings,
                # and the store took a fifth of the pass's time (0.53-0.82x without it).
                out3[b, k, p] = (x3[b, k, p] - mu32) * s32 * w + bb


@_kernel(parallel_min=COMPILED_MIN)
def _bn_backward(g3, x3, mean, invstd, weight, gx3, grad_w, grad_b):
    n, c, m = g3.shape
    count = n * m
    for k in prange(c):
        sg = 0.0
        sgx = 0.0
        mu32, s32 = mean[k], invstd[k]
        for b in range(n):
            row_sum, row_dot = _row_sum_and_dot(g3[b, k], x3[b, k], mu32, s32)
            sg += row_sum
            sgx += row_dot
        grad_w[k], grad_b[k] = sgx, sg
        w = weight[k]
        # With g' = grad * w: mean(g') = w * mean(grad), mean(g' x_hat) = w * mean(grad x_hat).
        mg = sg / count
        mgx = sgx / count
        scale = invstd[k] * w
        for b in range(n):
            for p in range(m):
                gx3[b, k, p] = scale * (g3[b, k, p] - mg - (x3[b, k, p] - mu32) * s32 * mgx)


def batch_norm_train(x, weight, bias, eps):
    if x.dtype not in _COMPILED or x.ndim < 2 or x.size < COMPILED_MIN:
        return numpy_kernels.batch_norm_train(x, weight, bias, eps)
    n, c = x.shape[:2]
    x3 = np.ascontiguousarray(x).reshape(n, c, -1)
    t = x.dtype.type
    w = np.ones(c, x.dtype) if weight is None else np.ascontiguousarray(weight, dtype=x.dtype)
    b = np.zeros(c, x.dtype) if bias is None else np.ascontiguousarray(bias, dtype=x.dtype)
    out = memory.empty(x.shape, x.dtype)
    mean, var, invstd = np.empty(c, x.dtype), np.empty(c, x.dtype), np.empty(c, x.dtype)
    _bn_forward(x3, w, b, float(t(eps)), out.reshape(x3.shape), mean, var, invstd)
    return out, mean, var, invstd


def batch_norm_train_backward(grad, x, mean, invstd, weight):
    if (
        grad.dtype not in _COMPILED
        or grad.shape != x.shape
        or grad.dtype != x.dtype
        or mean.dtype != x.dtype
        or invstd.dtype != x.dtype
        or grad.size < COMPILED_MIN
    ):
        return numpy_kernels.batch_norm_train_backward(grad, x, mean, invstd, weight)
    n, c = grad.shape[:2]
    g3 = np.ascontiguousarray(grad).reshape(n, c, -1)
    w = np.ones(c, grad.dtype) if weight is None else np.ascontiguousarray(weight, dtype=grad.dtype)
    grad_x = memory.empty(grad.shape, grad.dtype)
    grad_w, grad_b = np.empty(c, np.float64), np.empty(c, np.float64)
    _bn_backward(
        g3,
        np.ascontiguousarray(x).reshape(g3.shape),
        np.ascontiguousarray(mean),
        np.ascontiguousarray(invstd),
        w,
        grad_x.reshape(g3.shape),
        grad_w,
        grad_b,
    )
    return grad_x, grad_w.astype(grad.dtype), grad_b.astype(grad.dtype)


@_kernel
def _bn_eval(x3, alpha, beta, out3):
    n, c, m = x3.shape
    for plane in prange(n * c):
        b, k = plane // c, plane % c
        a, s = alpha[k], beta[k]
        for p in range(m):
            out3[b, k, p] = x3[b, k, p] * a + s  # float32 x: in float64, rounded once on the store


@njit(**_opts)
def _bn_eval_terms(mean, var, weight, bias, eps, one, alpha, beta, rounded):
    # numpy_kernels.batch_norm_eval_terms's operations, in its order and dtypes (eps and one are
    # of the input's dtype, alpha and beta of the wide one; ``rounded`` rounds beta on its store).
    for k in range(var.size):
        a = one / np.sqrt(var[k] + eps) * weight[k]
        alpha[k] = a
        rounded[k] = bias[k] + -(mean[k] * alpha[k])
        beta[k] = rounded[k]


# Evaluation-mode batch norm is one pass with per-channel terms; the NumPy way takes float64
# temporaries and a dozen small operations for the terms: 1.5-4x the compiled time at a batch-1
# network's maps, 256 to 16384 elements (benchmarks/README.md, "Round 2, seventh session").
BN_EVAL_MIN = 256


def _eval_terms(running_mean, running_var, weight, bias, eps, dtype):
    arrays = (running_mean, running_var, weight, bias)
    if any(a is None or a.dtype != dtype or a.ndim != 1 for a in arrays):
        return numpy_kernels.batch_norm_eval_terms(running_mean, running_var, weight, bias, eps, dtype)
    c, t = running_var.size, dtype.type
    wide = np.float64 if dtype.itemsize < 8 else dtype
    alpha, beta = np.empty(c, wide), np.empty(c, wide)
    _bn_eval_terms(running_mean, running_var, weight, bias, t(eps), t(1), alpha, beta, np.empty(c, dtype))
    return alpha, beta


def batch_norm_eval(x, running_mean, running_var, weight, bias, eps):
    if x.dtype not in _COMPILED or x.ndim < 2 or x.size < BN_EVAL_MIN:
        return numpy_kernels.batch_norm_eval(x, running_mean, running_var, weight, bias, eps)
    n, c = x.shape[:2]
    alpha, beta = _eval_terms(running_mean, running_var, weight, bias, eps, x.dtype)
    x3 = np.ascontiguousarray(x).reshape(n, c, -1)
    out = memory.empty(x.shape, x.dtype)
    _bn_eval(x3, alpha, beta, out.reshape(x3.shape))
    return out


@njit(**_opts)
def _col2im(g, out, sh, sw, pt, pl, dh, dw):
    groups, kh, kw, cg, b, h_out, w_out = g.shape
    h, w = out.shape[2], out.shape[3]
    blocks = g.reshape(groups, kh, kw, cg, b, h_out * w_out)
    planes = out.reshape(b, groups * cg, h * w)
    for n in range(b):
        for group in range(groups):
            for c in range(cg):
                plane = planes[n, group * cg + c]
                for q in range(h * w):
                    plane[q] = 0
                # Offsets in (i, j) order, as the NumPy reference adds them: the same bits.
                for i in range(kh):
                    for j in range(kw):
                        block = blocks[group, i, j, c, n]
                        left = j * dw - pl
                        first = 0 if left >= 0 else (sw - 1 - left) // sw  # columns inside the image
                        last = min(w_out, (w - 1 - left) // sw + 1)
                        if last <= first:
                            continue
                        # Unsigned offsets: numba then skips its negative-index check, which kept
                        # the row loop from vectorising.
                        count = np.uintp(last - first)
                        for row in range(h_out):
                            y = row * sh - pt + i * dh
                            if y < 0 or y >= h:
                                continue
                            dst = np.uintp(y * w + first * sw + left)
                            src = np.uintp(row * w_out + first)
                            if sw == 1:
                                for k in range(count):
                                    plane[dst + k] += block[src + k]
                            else:
                                step = np.uintp(sw)
                                for k in range(count):
                                    plane[dst + k * step] += block[src + k]


def col2im(grad_cols, out, stride, top_left, dilation, scratch=None):
    if grad_cols.dtype not in _COMPILED or out.dtype != grad_cols.dtype or not out.flags.c_contiguous:
        return numpy_kernels.col2im(grad_cols, out, stride, top_left, dilation, scratch)
    (sh, sw), (pt, pl), (dh, dw) = stride, top_left, dilation
    _col2im(np.ascontiguousarray(grad_cols), out, sh, sw, pt, pl, dh, dw)


def threads(n):
    """Use ``n`` threads in the parallel loops (at most the pool numba started with)."""
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
