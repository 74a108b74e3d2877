"""Convolution: im2col through a strided view, then one matrix product per pass.

Layout: the input is copied once into a zero-padded NHWC buffer. Its sliding windows,
seen through ``as_strided`` as (N, H_out, W_out, groups, kh, kw, C/groups), copy into
the column matrix ``cols`` (M, K) with M = N*H_out*W_out and K = kh*kw*C_in in (kh, kw, c)
order: whole channel vectors stay contiguous, several times faster than gathering NCHW
windows. The batch is folded into M, so each pass is one float32 product (one per group):

    forward       out (C_out, M)       = weight (C_out, K) @ cols.T
    grad_weight   (C_out, K)           = grad (C_out, M) @ cols
    grad_input    grad_cols (K, M)     = weight.T @ grad (C_out, M), then col2im

Output channels go in the rows because (C_out, N, H_out, W_out) becomes NCHW by moving
whole H_out*W_out planes, far cheaper than transposing NHWC. For the same reason grad_cols
is (kh, kw, C_in, N, H_out, W_out): col2im adds each kernel offset's contiguous block into a
padded (C_in, N, H, W) buffer, a loop over the kh*kw offsets only, never over pixels.
Backward recomputes the columns from the saved padded input (one fast copy) rather than
keeping them: they are kh*kw times the size of the input, and a deep network would hold
one such matrix per layer.
"""

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.lib.stride_tricks import as_strided

from glassgrad.autograd.function import Function
from glassgrad.tensor import Tensor


def _ntuple(value, n, name, op):
    if isinstance(value, Tensor):
        value = value.tolist()
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value}")
    return value


_scratch = threading.local()


def _workspace(tag, shape, dtype):
    """A scratch array reused from call to call (one per tag, dtype and thread).

    The big temporaries (columns, their gradient, the col2im buffer) are tens of MB;
    fresh memory costs a page fault per 4 KiB on first touch, which takes longer than
    the copy itself. A workspace never leaves the op that asked for it.
    """
    pool = _scratch.__dict__.setdefault("pool", {})
    size = math.prod(shape)
    key = (tag, np.dtype(dtype))
    buffer = pool.get(key)
    if buffer is None or buffer.size < size:
        pool[key] = buffer = np.empty(size, dtype=dtype)
    return buffer[:size].reshape(shape)


def clear_workspaces():
    """Free this thread's convolution workspaces (they are kept at the largest size used so far)."""
    _scratch.__dict__.pop("pool", None)


def _windows(xp, kernel, stride, dilation, out_hw, groups):
    """The sliding windows of a padded NHWC array as a read-only view
    (N, H_out, W_out, groups, kh, kw, C/groups); nothing is copied."""
    n, _, _, c = xp.shape
    s_n, s_h, s_w, s_c = xp.strides
    cg = c // groups
    shape = (n, out_hw[0], out_hw[1], groups, kernel[0], kernel[1], cg)
    strides = (s_n, stride[0] * s_h, stride[1] * s_w, cg * s_c, dilation[0] * s_h, dilation[1] * s_w, s_c)
    return as_strided(xp, shape, strides, writeable=False)


def _im2col(xp, kernel, stride, dilation, out_hw, groups, split=True):
    """Columns as (groups, M, kh*kw*C/groups) with M = N*H_out*W_out, in a workspace.

    ``split=False`` copies on this thread only: a pool thread must not wait on the pool."""
    windows = _windows(xp, kernel, stride, dilation, out_hw, groups)
    if windows.flags.c_contiguous:
        cols = windows  # a 1x1 kernel with stride 1: the NHWC input already is the column matrix
    else:
        cols = _workspace("cols", windows.shape, xp.dtype)
        copy = lambda lo, hi: np.copyto(cols[lo:hi], windows[lo:hi])  # noqa: E731
        if split:
            _by_batch(xp.shape[0], cols.size, copy)
        else:
            copy(0, xp.shape[0])
    cols = cols.reshape(xp.shape[0] * out_hw[0] * out_hw[1], groups, kernel[0] * kernel[1] * (xp.shape[3] // groups))
    return cols.transpose(1, 0, 2)


def _gemm(a, b, out=None):
    """Batched over groups, with the single-group case as one plain 2-D product (one BLAS call)."""
    if a.shape[0] == 1:
        if out is None:
            return np.matmul(a[0], b[0])[None]
        np.matmul(a[0], b[0], out=out[0])
        return out
    return np.matmul(a, b, out=out)


# -- the products, shared out among threads ----------------------------------------------------
#
# OpenBLAS threads one product by having its threads meet at a barrier after every block of
# the shared dimension. On a machine whose cores are also busy with other work (DataLoader
# workers, other processes) a thread that is descheduled stalls the others at each barrier:
# the weight-gradient product, whose shared dimension is N*H_out*W_out, then runs 5 to 30
# times slower with two threads than with one. So each product is cut into one part per
# thread along N*H_out*W_out and every part runs single-threaded BLAS, with no barrier in
# between; on an idle machine this is as fast as OpenBLAS's own threading.

_pool = None
_pool_key = None
_blas_limiter = None


def _parts():
    from glassgrad import _threads

    return _threads.get_num_threads()


def _pool_map(jobs):
    """Run callables on the thread pool, the first in this thread; their results in order."""
    global _pool, _pool_key
    key = (os.getpid(), len(jobs))  # a forked child must not reuse its parent's (absent) threads
    if _pool_key != key:
        if _pool is not None and _pool_key[0] == key[0]:
            _pool.shutdown(wait=False)  # the thread count changed: let the old threads go
        _pool = ThreadPoolExecutor(max_workers=len(jobs) - 1, thread_name_prefix="glassgrad-gemm")
        _pool_key = key
    futures = [_pool.submit(job) for job in jobs[1:]]
    results = [jobs[0]()]
    results.extend(f.result() for f in futures)
    return results


def _run_parts(jobs):
    """Run callables on the thread pool with BLAS single-threaded."""
    global _blas_limiter
    if _blas_limiter is None:
        from threadpoolctl import ThreadpoolController

        _blas_limiter = ThreadpoolController()
    with _blas_limiter.limit(limits=1, user_api="blas"):
        return _pool_map(jobs)


# The layout copies around the products (padded NHWC input, columns, col2im, NCHW output) are
# plain memory traffic that NumPy runs with the GIL released, so they too are shared out, by
# batch ranges: every element is still written by the same operations in the same order, so
# the results are bit for bit those of one thread. Small arrays stay on one thread, where
# handing work to the pool would cost more than it saves.
_MIN_SPLIT_COPY = 1 << 16


def _by_batch(n, size, job):
    """job(lo, hi) over slices of the batch axis, one per thread when ``size`` elements are worth it."""
    parts = min(_parts(), n)
    if parts < 2 or size < _MIN_SPLIT_COPY:
        job(0, n)
        return
    edges = np.linspace(0, n, parts + 1).astype(int)
    _pool_map([lambda lo=lo, hi=hi: job(lo, hi) for lo, hi in zip(edges[:-1], edges[1:])])


def _can_split(length):
    if length < 4096 or _parts() < 2:
        return False
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return False
    return True


def _bounds(length):
    edges = np.linspace(0, length, _parts() + 1).astype(int)
    return list(zip(edges[:-1], edges[1:]))


def _matmul_columns(a, b, out):
    """out[..., :, j] = a @ b[..., :, j] for column slices j of M, one per thread."""
    if not _can_split(b.shape[-1]):
        return _gemm(a, b, out=out)
    _run_parts([lambda lo=lo, hi=hi: _gemm(a, b[..., lo:hi], out=out[..., lo:hi]) for lo, hi in _bounds(b.shape[-1])])
    return out


def _image_parts(n, hw):
    """The products' slices of M (``_bounds``) as image ranges; None when one would cut an image.

    With whole images per slice, each thread builds the columns of its own slice (its own
    workspace) and goes straight on to its product, with no wait for the other thread in
    between. The products see the same shapes, strides and values as with one shared column
    matrix, so they give the same bits."""
    bounds = _bounds(n * hw)
    if any(lo % hw or hi % hw for lo, hi in bounds):
        return None
    return [(lo // hw, hi // hw) for lo, hi in bounds]


def _matmul_inner(a, b):
    """a @ b summed over the shared dimension M in one slice per thread."""
    if not _can_split(a.shape[-1]):
        return _gemm(a, b)
    partials = _run_parts(
        [lambda lo=lo, hi=hi: _gemm(a[..., lo:hi], b[..., lo:hi, :]) for lo, hi in _bounds(a.shape[-1])]
    )
    total = partials[0]
    for partial in partials[1:]:
        total += partial
    return total


class Convolution(Function):
    """2-D convolution (cross-correlation, as in PyTorch).

    Shapes: input (N, C_in, H, W), weight (C_out, C_in/groups, kh, kw), bias (C_out,) or None
    -> output (N, C_out, H_out, W_out) with H_out = (H + pad_top + pad_bottom - dilation*(kh-1) - 1) // stride + 1.
    ``padding`` is ((top, bottom), (left, right)) of zeros.
    """

    def forward(self, x, weight, bias, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
        n, c, h, w = x.shape
        c_out, cg, kh, kw = weight.shape
        (pt, pb), (pl, pr) = padding
        hp, wp = h + pt + pb, w + pl + pr
        h_out = (hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        w_out = (wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        og = c_out // groups

        # Zero-padded NHWC copy of the input: the one layout change on the way in.
        xp = np.empty((n, hp, wp, c), dtype=x.dtype)
        _by_batch(n, xp.size, lambda lo, hi: _pad_nhwc(x[lo:hi], xp[lo:hi], padding))
        wmat = _weight_matrix(weight, groups)  # (groups, og, K)
        # Output channels as rows, (groups, og, M): its (C_out, N, H_out, W_out) order turns into
        # NCHW by moving whole H_out*W_out planes, much cheaper than transposing NHWC.
        m = n * h_out * w_out
        out = _workspace("rows", (groups, og, m), x.dtype)
        geometry = ((kh, kw), stride, dilation, (h_out, w_out), groups)
        images = _image_parts(n, h_out * w_out) if _can_split(m) else None
        if images is None:
            cols = _im2col(xp, *geometry)  # (groups, M, K)
            _matmul_columns(wmat, cols.transpose(0, 2, 1), out)
        else:
            hw = h_out * w_out

            def part(lo, hi):
                cols = _im2col(xp[lo:hi], *geometry, split=False)
                _gemm(wmat, cols.transpose(0, 2, 1), out=out[..., lo * hw : hi * hw])

            _run_parts([lambda lo=lo, hi=hi: part(lo, hi) for lo, hi in images])
        result = np.empty((n, c_out, h_out, w_out), dtype=x.dtype)
        planes = out.reshape(c_out, n, h_out, w_out).transpose(1, 0, 2, 3)
        if bias is None:
            _by_batch(n, result.size, lambda lo, hi: np.copyto(result[lo:hi], planes[lo:hi]))
        else:
            bias4 = bias.reshape(1, c_out, 1, 1)
            _by_batch(n, result.size, lambda lo, hi: np.add(planes[lo:hi], bias4, out=result[lo:hi]))

        self.geometry = (x.shape, weight.shape, stride, padding, dilation, groups, (h_out, w_out))
        if any(self.needs_input_grad):  # under no_grad, or for constants, keep nothing alive
            self.save_for_backward(
                xp if self.needs_input_grad[1] else None,
                weight if self.needs_input_grad[0] else None,
            )
        return result

    def backward(self, grad):
        xp, weight = self.saved_tensors
        (n, c, h, w), (c_out, cg, kh, kw), stride, padding, dilation, groups, (h_out, w_out) = self.geometry
        og = c_out // groups
        grad_x = grad_w = grad_b = None

        if self.needs_input_grad[2]:
            # Pairwise sums along the contiguous pixel axis first: more accurate than a long column sum.
            grad_b = grad.reshape(n, c_out, h_out * w_out).sum(axis=2).sum(axis=0)
        if not (self.needs_input_grad[0] or self.needs_input_grad[1]):
            return grad_x, grad_w, grad_b

        # The gradient with channels as rows, (groups, og, M): one plane-moving copy serves both products.
        g = _workspace("rows", (c_out, n, h_out, w_out), grad.dtype)
        _by_batch(n, g.size, lambda lo, hi: np.copyto(g[:, lo:hi], grad[lo:hi].transpose(1, 0, 2, 3)))
        g = g.reshape(groups, og, n * h_out * w_out)

        if self.needs_input_grad[1]:
            geometry = ((kh, kw), stride, dilation, (h_out, w_out), groups)
            images = _image_parts(n, h_out * w_out) if _can_split(g.shape[2]) else None
            if images is None:
                gw = _matmul_inner(g, _im2col(xp, *geometry))  # (groups, og, K)
            else:
                hw = h_out * w_out
                # The same slices and order of summing the partial products as _matmul_inner.
                partials = _run_parts(
                    [
                        lambda lo=lo, hi=hi: _gemm(
                            g[..., lo * hw : hi * hw], _im2col(xp[lo:hi], *geometry, split=False)
                        )
                        for lo, hi in images
                    ]
                )
                gw = partials[0]
                for partial in partials[1:]:
                    gw += partial
            grad_w = np.ascontiguousarray(gw.reshape(groups, og, kh, kw, cg).transpose(0, 1, 4, 2, 3))
            grad_w = grad_w.reshape(c_out, cg, kh, kw)

        if self.needs_input_grad[0]:
            # (groups, K, M) with K in (kh, kw, cg) order: each kernel offset's gradient is one
            # contiguous (C_in, N, H_out, W_out) block, which col2im adds with long inner runs.
            wmat_t = _weight_matrix(weight, groups).transpose(0, 2, 1)
            grad_cols = _matmul_columns(wmat_t, g, _workspace("cols", (groups, wmat_t.shape[1], g.shape[2]), g.dtype))
            grad_x = _col2im(grad_cols.reshape(groups, kh, kw, cg, n, h_out, w_out), (h, w), stride, padding, dilation)
        return grad_x, grad_w, grad_b


def _weight_matrix(weight, groups):
    """(C_out, cg, kh, kw) -> (groups, og, kh*kw*cg), columns in the im2col (kh, kw, c) order."""
    c_out, cg, kh, kw = weight.shape
    return (
        weight.reshape(groups, c_out // groups, cg, kh, kw)
        .transpose(0, 1, 3, 4, 2)
        .reshape(groups, c_out // groups, -1)
    )


def _col2im(grad_cols, hw, stride, padding, dilation):
    """Sum the columns' gradients back onto the input: (groups, kh, kw, cg, N, H_out, W_out) -> NCHW."""
    groups, kh, kw, cg, n, h_out, w_out = grad_cols.shape
    h, w = hw
    (pt, pb), (pl, pr) = padding
    # (C, N, Hp, Wp), so that each offset's block adds without a transpose.
    buffer = _workspace("col2im", (groups, cg, n, h + pt + pb, w + pl + pr), grad_cols.dtype)
    h_span = stride[0] * (h_out - 1) + 1
    w_span = stride[1] * (w_out - 1) + 1
    inner = buffer.reshape(groups * cg, n, h + pt + pb, w + pl + pr)[:, :, pt : pt + h, pl : pl + w]
    result = np.empty((n, groups * cg, h, w), dtype=grad_cols.dtype)

    def job(lo, hi):
        part = buffer[:, :, lo:hi]
        part.fill(0)
        for i in range(kh):
            top = i * dilation[0]
            for j in range(kw):
                left = j * dilation[1]
                part[:, :, :, top : top + h_span : stride[0], left : left + w_span : stride[1]] += grad_cols[
                    :, i, j, :, lo:hi
                ]
        # Copied out even when the transpose happens to be contiguous: the workspace must not escape.
        np.copyto(result[lo:hi], inner[:, lo:hi].transpose(1, 0, 2, 3))

    _by_batch(n, buffer.size, job)
    return result


def _pad_nhwc(x, xp, padding):
    """Write NCHW ``x`` into the NHWC buffer ``xp`` with zeros in its border only (the inside is overwritten)."""
    (pt, pb), (pl, pr) = padding
    h, w = x.shape[2], x.shape[3]
    xp[:, :pt] = 0
    xp[:, pt + h :] = 0
    xp[:, pt : pt + h, :pl] = 0
    xp[:, pt : pt + h, pl + w :] = 0
    xp[:, pt : pt + h, pl : pl + w] = x.transpose(0, 2, 3, 1)


def _conv_padding(padding, kernel, stride, dilation, op):
    """((top, bottom), (left, right)) from an int, a tuple, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(
                    f"{op}: padding='same' is not supported for strided convolutions (stride={stride}); "
                    "use stride=1 or give the padding as numbers"
                )
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                # As PyTorch: an odd total puts the extra zero on the bottom/right.
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"{op}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    pads = _ntuple(padding, len(kernel), "padding", op)
    if any(p < 0 for p in pads):
        raise ValueError(f"{op}: padding must be non-negative, got {pads}")
    return tuple((p, p) for p in pads)


def _check_conv(x, weight, bias, stride, padding, dilation, groups, op):
    xs, ws = tuple(x.shape), tuple(weight.shape)
    c_out, cg = ws[0], ws[1]
    kernel = ws[2:]
    c = xs[1]
    if any(s < 1 for s in stride):
        raise ValueError(f"{op}: stride must be positive, got {stride}")
    if any(d < 1 for d in dilation):
        raise ValueError(f"{op}: dilation must be positive, got {dilation}")
    if groups < 1 or c_out % groups:
        raise ValueError(
            f"{op}: out_channels ({c_out}, the weight's first dimension) must be divisible by groups ({groups})"
        )
    if c != cg * groups:
        raise RuntimeError(
            f"{op}: weight of shape {ws} (groups={groups}) expects an input with {cg * groups} channels, "
            f"but the input of shape {xs} has {c}. Make in_channels match the input "
            f"(e.g. Conv{len(kernel)}d({c}, {c_out}, ...)), or convert the input to {cg * groups} channels"
        )
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        dtypes = f"input {x.dtype}, weight {weight.dtype}" + ("" if bias is None else f", bias {bias.dtype}")
        raise TypeError(f"{op}: input and parameters must have the same dtype ({dtypes}); use .float() or .double()")
    if not x.is_floating_point():
        raise TypeError(f"{op}: the input must be a floating-point tensor, got {x.dtype}; use .float()")
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise RuntimeError(
            f"{op}: bias of shape {tuple(bias.shape)} does not match out_channels {c_out}; expected ({c_out},)"
        )
    spatial = xs[2:]
    for axis, (size, k, (lo, hi), d) in enumerate(zip(spatial, kernel, padding, dilation)):
        span = d * (k - 1) + 1
        if size + lo + hi < span:
            raise RuntimeError(
                f"{op}: kernel of size {tuple(kernel)} (dilation {tuple(dilation)}) spans {span} along spatial "
                f"axis {axis}, but the padded input is only {size + lo + hi} there (input {xs}, padding "
                f"{lo}+{hi}); use a smaller kernel, more padding or a larger input"
            )


def _batched(x, ndim, op, what):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {what} must be a Tensor, got {type(x).__name__}")
    if x.ndim == ndim - 1:
        return x.unsqueeze(0), True
    if x.ndim != ndim:
        raise RuntimeError(
            f"{op}: expected a {ndim}-D (batched) or {ndim - 1}-D (unbatched) input, got shape {tuple(x.shape)}"
        )
    return x, False


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution over (N, C_in, H, W) or unbatched (C_in, H, W) input, as ``torch.nn.functional.conv2d``.

    weight: (C_out, C_in/groups, kh, kw); bias: (C_out,) or None. padding: int, (ph, pw),
    'valid' or 'same' (zeros). Output: (N, C_out, H_out, W_out).
    """
    x, unbatched = _batched(input, 4, "conv2d", "input")
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        raise RuntimeError(
            f"conv2d: weight must be a 4-D tensor (C_out, C_in/groups, kh, kw), got shape "
            f"{tuple(getattr(weight, 'shape', ()))}"
        )
    stride = _ntuple(stride, 2, "stride", "conv2d")
    dilation = _ntuple(dilation, 2, "dilation", "conv2d")
    pads = _conv_padding(padding, tuple(weight.shape[2:]), stride, dilation, "conv2d")
    groups = int(groups)
    _check_conv(x, weight, bias, stride, pads, dilation, groups, "conv2d")
    out = Convolution.apply(x, weight, bias, stride=stride, padding=pads, dilation=dilation, groups=groups)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C_in, L) or unbatched (C_in, L), as ``torch.nn.functional.conv1d``:
    a 2-D convolution with a height of one. weight: (C_out, C_in/groups, k)."""
    x, unbatched = _batched(input, 3, "conv1d", "input")
    if not isinstance(weight, Tensor) or weight.ndim != 3:
        raise RuntimeError(
            f"conv1d: weight must be a 3-D tensor (C_out, C_in/groups, k), got shape "
            f"{tuple(getattr(weight, 'shape', ()))}"
        )
    stride = _ntuple(stride, 1, "stride", "conv1d")
    dilation = _ntuple(dilation, 1, "dilation", "conv1d")
    pads = _conv_padding(padding, tuple(weight.shape[2:]), stride, dilation, "conv1d")
    groups = int(groups)
    _check_conv(x, weight, bias, stride, pads, dilation, groups, "conv1d")
    out = Convolution.apply(
        x.unsqueeze(2),
        weight.unsqueeze(2),
        bias,
        stride=(1, stride[0]),
        padding=((0, 0), pads[0]),
        dilation=(1, dilation[0]),
        groups=groups,
    ).squeeze(2)
    return out.squeeze(0) if unbatched else out
