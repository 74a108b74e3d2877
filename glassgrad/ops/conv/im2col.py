"""im2col + GEMM: the columns of each chunk of images through a strided view, then matrix products.

Layout: a chunk of images is copied into a zero-padded NHWC buffer. Its sliding windows,
seen through a strided view as (b, H_out, W_out, groups, kh, kw, C/groups), copy into
the column matrix ``cols`` (M, K) with M = b*H_out*W_out and K = kh*kw*C_in in (kh, kw, c)
order: whole channel vectors stay contiguous, several times faster than gathering NCHW
windows. The chunk's images are folded into M, so each pass is one float32 product per
chunk (and group):

forward       out (C_out, M)       = weight (C_out, K) @ cols.T
    grad_weight   (C_out, K)          += grad (C_out, M) @ cols
    grad_input    grad_cols (K, M)     = weight.T @ grad (C_out, M), then col2im

Output channels go in the rows because (C_out, b, H_out, W_out) becomes NCHW by moving
whole H_out*W_out planes, far cheaper than transposing NHWC. For the same reason grad_cols
is (kh, kw, C_in, b, H_out, W_out): col2im (glassgrad.backend.col2im) adds each kernel
offset's contiguous block onto the image, row by row in a compiled loop, or with NumPy as one
strided addition per offset into a padded buffer.
Backward rebuilds each chunk's columns from the saved input rather than keeping them: they
are kh*kw times the size of the input, and a deep network would hold one such matrix per layer.
"""

import numpy as np

from glassgrad import backend
from glassgrad.backend import memory, workspace
from glassgrad.ops.conv.geometry import copy_inside, strided_view

# -- the passes ------------------------------------------------------------------------------------


def forward(geo, x, weight, bias):
    """(N, C_out, H_out, W_out): the convolution of x (N, C, H, W) by weight (C_out, C/groups, kh, kw),
    plus bias (C_out,) or None; per chunk of images, their columns and one product."""
    return forward_by_columns(geo, x, weight, bias, lambda xs: columns(geo, xs).transpose(0, 2, 1), geo.out_hw[1])


def forward_by_columns(geo, x, weight, bias, columns_of, width):
    """``forward`` with the columns (groups, K, b*H_out*width) of a chunk given by ``columns_of``:
    output rows ``width`` wide, of which the first W_out are kept (wide.py's layout has Wp)."""
    n, groups = x.shape[0], geo.groups
    out = memory.empty((n, geo.c_out, *geo.out_hw), x.dtype)
    wmat = np.ascontiguousarray(weight_matrix(weight, groups))  # (groups, og, K), copied once, not per chunk
    bias4 = None if bias is None else bias.reshape(1, -1, 1, 1)

    def chunk(index, lo, hi):
        cols = columns_of(x[lo:hi])
        # Output channels as rows, (groups, og, b*H_out*width): its (C_out, b, H_out, width) order
        # turns into NCHW by moving whole rows, much cheaper than transposing NHWC.
        rows = gemm(wmat, cols, out=workspace.workspace("rows", (groups, geo.og, cols.shape[2]), x.dtype))
        planes = rows.reshape(geo.c_out, hi - lo, geo.out_hw[0], width)[..., : geo.out_hw[1]]
        planes = planes.transpose(1, 0, 2, 3)
        if bias4 is None:
            np.copyto(out[lo:hi], planes)
        else:
            np.add(planes, bias4, out=out[lo:hi])

    per_image = geo.out_hw[0] * width * groups * geo.k  # columns per image
    workspace.each_chunk(workspace.chunks(n, per_image * x.itemsize), n * per_image * geo.og, chunk)
    return out


def input_grad(geo, weight, grad, chunks):
    """The job (``workspace.Job``) whose result is the input gradient (N, C, H, W) for the output
    gradient ``grad`` (N, C_out, H_out, W_out): per chunk, weight.T times its rows, then col2im."""
    out = memory.empty((grad.shape[0], geo.c_in, *geo.hw), grad.dtype)
    wmat_t = np.ascontiguousarray(weight_matrix(weight, geo.groups)).transpose(0, 2, 1)  # (groups, K, og)

    def chunk(index, lo, hi, shared):
        rows = _grad_rows(geo, grad, lo, hi, shared)
        scratch = workspace.workspace("grad_cols", (geo.groups, geo.k, rows.shape[2]), grad.dtype)
        col2im(geo, gemm(wmat_t, rows, out=scratch), out[lo:hi])

    return workspace.Job(chunk, lambda: out)


def weight_grad(geo, x, grad, chunks):
    """The job whose result is the weight gradient (C_out, C/groups, kh, kw): per chunk, the
    output gradient's rows times the input's columns, summed chunk by chunk in order."""
    partials = np.empty((len(chunks), geo.groups, geo.og, geo.k), dtype=grad.dtype)

    def chunk(index, lo, hi, shared):
        gemm(_grad_rows(geo, grad, lo, hi, shared), columns(geo, x[lo:hi]), out=partials[index])

    def result():
        gw = partials[0] if len(chunks) == 1 else partials.sum(axis=0)
        kh, kw = geo.kernel
        gw = np.ascontiguousarray(gw.reshape(geo.groups, geo.og, kh, kw, geo.cg).transpose(0, 1, 4, 2, 3))
        return gw.reshape(geo.c_out, geo.cg, kh, kw)

    return workspace.Job(chunk, result)


def _grad_rows(geo, grad, lo, hi, shared):
    """The chunk's output gradient as rows (groups, og, b*H_out*W_out), made once for both gradients."""
    rows_ = shared.get("im2col rows")
    if rows_ is None:
        rows_ = shared["im2col rows"] = rows(geo, grad[lo:hi], "grad_rows")
    return rows_


# -- the layout steps ------------------------------------------------------------------------------


def sliding_windows(xp, kernel, stride, dilation, out_hw, groups):
    """The sliding windows of a padded NHWC array as a read-only view
    (N, H_out, W_out, groups, kh, kw, C/groups); nothing is copied."""
    n, _, _, c = xp.shape
    s_n, s_h, s_w, s_c = xp.strides
    cg = c // groups
    shape = (n, out_hw[0], out_hw[1], groups, kernel[0], kernel[1], cg)
    strides = (s_n, stride[0] * s_h, stride[1] * s_w, cg * s_c, dilation[0] * s_h, dilation[1] * s_w, s_c)
    return strided_view(xp, shape, strides)


def padded(geo, x):
    """(b, C, H, W) -> a zero-padded NHWC workspace (b, Hp, Wp, C): the one layout change on the way in."""
    xp = workspace.bordered(("nhwc", geo.padding), x.shape[0], (*geo.padded_hw, geo.c_in), x.dtype, x.shape[1:])
    copy_inside(x, xp.transpose(0, 3, 1, 2), geo.padding)
    return xp


def columns(geo, x):
    """(b, C, H, W) -> the columns (groups, b*H_out*W_out, K) with K in (kh, kw, c) order."""
    xp = padded(geo, x)
    windows = sliding_windows(xp, geo.kernel, geo.stride, geo.dilation, geo.out_hw, geo.groups)
    if windows.flags.c_contiguous:
        cols = windows  # a 1x1 kernel with stride 1: the NHWC input already is the column matrix
    else:
        cols = workspace.workspace("cols", windows.shape, xp.dtype)
        np.copyto(cols, windows)
    return cols.reshape(-1, geo.groups, geo.k).transpose(1, 0, 2)


def rows(geo, grad, tag):
    """(b, C_out, H_out, W_out) -> (groups, og, b*H_out*W_out) in a workspace: channels as rows."""
    b = grad.shape[0]
    rows = workspace.workspace(tag, (geo.c_out, b, *geo.out_hw), grad.dtype)
    np.copyto(rows, grad.transpose(1, 0, 2, 3))
    return rows.reshape(geo.groups, geo.og, -1)


def col2im(geo, grad_cols, out):
    """Add the columns' gradients (groups, K, b*H_out*W_out) back onto ``out`` (b, C, H, W).

    With K in (kh, kw, cg) order each kernel offset's gradient is one contiguous
    (cg, b, H_out, W_out) block; glassgrad.backend adds them up (compiled, or with NumPy
    in a zero-padded buffer, one strided addition per kernel offset)."""
    (kh, kw), ((pt, _), (pl, _)) = geo.kernel, geo.padding
    grad_cols = grad_cols.reshape(geo.groups, kh, kw, geo.cg, out.shape[0], *geo.out_hw)
    backend.col2im(grad_cols, out, geo.stride, (pt, pl), geo.dilation, _col2im_scratch)


def _col2im_scratch(shape, dtype):
    return workspace.workspace("col2im", shape, dtype)


def gemm(a, b, out=None):
    """Batched over groups, with the single-group case as one plain 2-D product (one BLAS call)."""
    if a.shape[0] == 1:
        if out is None:
            return np.matmul(a[0], b[0])[None]
        np.matmul(a[0], b[0], out=out[0])
        return out
    return np.matmul(a, b, out=out)


def weight_matrix(weight, groups):
    """(C_out, cg, kh, kw) -> (groups, og, kh*kw*cg), columns in the im2col (kh, kw, c) order."""
    c_out, cg, kh, kw = weight.shape
    return (
        weight.reshape(groups, c_out // groups, cg, kh, kw)
        .transpose(0, 1, 3, 4, 2)
        .reshape(groups, c_out // groups, -1)
    )
