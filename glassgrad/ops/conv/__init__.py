"""2-D convolution: the Function, and the functional forms' entry.

The passes run one of the algorithms beside this file (im2col.py: the columns and a matrix product;
wide.py: the stride-1 wide rows; direct.py: the compiled direct kernel), as ``select.select`` says (the one table of which runs where),
on chunks of a few images shared out among threads (``glassgrad.backend.workspace``).
"""

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.backend import direct_conv, memory, workspace
from glassgrad.backend.workspace import clear_workspaces  # noqa: F401  (the public name it always had)
from glassgrad.ops.conv import depthwise, direct, im2col, pointwise, select, wide
from glassgrad.ops.conv.geometry import (  # noqa: F401  (_batched and _ntuple serve pooling and nn too)
    Geometry,
    _batched,
    _check_conv,
    _conv_arguments,
    _ntuple,
)


class Convolution(Function):
    """2-D convolution (cross-correlation, as in PyTorch).

    Shapes: input (N, C_in, H, W), weight (C_out, C_in/groups, kh, kw), bias (C_out,) or None
    -> output (N, C_out, H_out, W_out) with H_out = (H + pad_top + pad_bottom - dilation*(kh-1) - 1) // stride + 1.
    ``padding`` is ((top, bottom), (left, right)) of zeros.
    """

    def forward(self, x, weight, bias, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
        geo = Geometry(x.shape, weight.shape, stride, padding, dilation, groups)
        plan = select.select(geo, x.dtype)
        if plan.forward == "depthwise":
            self.geo, self.plan = geo, plan
            if any(self.needs_input_grad):
                self.save_for_backward(
                    x if self.needs_input_grad[1] else None, weight if self.needs_input_grad[0] else None
                )
            return depthwise.forward(geo, x, weight, bias)
        if plan.forward == "pointwise":
            self.geo, self.plan = geo, plan
            if any(self.needs_input_grad):
                self.save_for_backward(
                    x if self.needs_input_grad[1] else None, weight if self.needs_input_grad[0] else None
                )
            return pointwise.forward(geo, x, weight, bias)
        n, use_wide, use_direct = x.shape[0], plan.forward == "wide", plan.forward == "direct"
        result = memory.empty((n, geo.c_out, *geo.out_hw), x.dtype)
        wmat = np.ascontiguousarray(im2col.weight_matrix(weight, groups))  # (groups, og, K), copied once, not per chunk
        bias4 = None if bias is None else bias.reshape(1, -1, 1, 1)

        # The product's output rows are W_out wide, or Wp wide in the wide layout, whose
        # Wp - W_out extra columns per row are dropped on the way into the result.
        width = geo.padded_hw[1] if use_wide else geo.out_hw[1]

        if use_direct:
            packed = direct_conv.pack_weight(weight)
            width = geo.padded_hw[1]  # for the chunk sizes below

        def chunk(index, lo, hi):
            if use_direct:
                direct.forward(geo, x[lo:hi], packed, result[lo:hi], bias4)
                return
            if use_wide:
                cols = wide.columns(geo, x[lo:hi])  # (groups, K, b*H_out*Wp)
            else:
                cols = im2col.columns(geo, x[lo:hi]).transpose(0, 2, 1)  # (groups, K, b*H_out*W_out), a view
            # Output channels as rows, (groups, og, b*H_out*width): its (C_out, b, H_out, width) order
            # turns into NCHW by moving whole rows, much cheaper than transposing NHWC.
            rows = im2col.gemm(wmat, cols, out=workspace.workspace("rows", (groups, geo.og, cols.shape[2]), x.dtype))
            planes = rows.reshape(geo.c_out, hi - lo, geo.out_hw[0], width)[..., : geo.out_hw[1]]
            planes = planes.transpose(1, 0, 2, 3)
            if bias4 is None:
                np.copyto(result[lo:hi], planes)
            else:
                np.add(planes, bias4, out=result[lo:hi])

        per_image = geo.out_hw[0] * width * groups * geo.k  # columns, or the direct kernel's multiply-adds / C_out
        chunks = workspace.chunks(n, per_image * x.itemsize)
        workspace.each_chunk(chunks, n * per_image * geo.og, chunk)

        self.geo, self.plan = geo, plan
        if any(self.needs_input_grad):  # under no_grad, or for constants, keep nothing alive
            # The input itself, not its padded copy: backward pads each chunk again (a cache-hot
            # copy), and a deep network does not hold a second copy of every activation.
            self.save_for_backward(
                x if self.needs_input_grad[1] else None,
                weight if self.needs_input_grad[0] else None,
            )
        return result

    def backward(self, grad):
        x, weight = self.saved_tensors
        geo = self.geo
        n, hw = grad.shape[0], geo.out_hw[0] * geo.out_hw[1]
        need_x, need_w, need_b = self.needs_input_grad[:3]
        grad_x = grad_w = grad_b = None

        if need_b:
            # Pairwise sums along the contiguous pixel axis first: more accurate than a long column sum.
            grad_b = grad.reshape(n, geo.c_out, hw).sum(axis=2).sum(axis=0)
        if not (need_x or need_w):
            return grad_x, grad_w, grad_b
        if need_x and self.plan.input_grad == "pointwise":
            grad_x, need_x = pointwise.input_grad(geo, weight, grad), False  # the weight gradient: below
            if not need_w:
                return grad_x, grad_w, grad_b
        if self.plan.input_grad == "depthwise":
            grad_x, grad_w = depthwise.backward(geo, x, weight, grad, need_x, need_w)
            return grad_x, grad_w, grad_b

        chunks = workspace.chunks(n, hw * geo.groups * geo.k * grad.itemsize)
        direct_w = need_w and self.plan.weight_grad == "direct"
        if direct_w:  # in the direct kernel's weight layout, with its eight lanes apart
            taps = geo.kernel[0] * geo.kernel[1]
            partials = np.zeros((len(chunks), geo.c_out // 4, geo.c_in, taps, 4, 8), dtype=grad.dtype)
        elif need_w:
            partials = np.empty((len(chunks), geo.groups, geo.og, geo.k), dtype=grad.dtype)
        direct_x = False
        if need_x:
            grad_x = memory.empty((n, geo.c_in, *geo.hw), grad.dtype)
            direct_x = self.plan.input_grad == "direct"
            if direct_x:
                transposed = geo.input_gradient()
                packed = direct_conv.pack_weight(weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
            else:
                wmat_t = np.ascontiguousarray(im2col.weight_matrix(weight, geo.groups)).transpose(
                    0, 2, 1
                )  # (groups, K, og)

        def chunk(index, lo, hi):
            if need_x and direct_x:
                direct.forward(transposed, grad[lo:hi], packed, grad_x[lo:hi])
            if direct_w:
                direct.weight_grad(geo, x[lo:hi], grad[lo:hi], partials[index])
            if not (need_w and not direct_w or need_x and not direct_x):
                return
            rows = im2col.rows(geo, grad[lo:hi], "grad_rows")  # (groups, og, b*hw): serves both products
            if need_w and not direct_w:
                im2col.gemm(rows, im2col.columns(geo, x[lo:hi]), out=partials[index])
            if need_x and not direct_x:
                grad_cols = im2col.gemm(
                    wmat_t, rows, out=workspace.workspace("grad_cols", (geo.groups, geo.k, rows.shape[2]), grad.dtype)
                )
                im2col.col2im(geo, grad_cols, grad_x[lo:hi])

        workspace.each_chunk(chunks, n * hw * geo.c_out * geo.k * (need_x + need_w), chunk)
        if direct_w:
            gw = partials.sum(axis=0).sum(axis=-1)  # chunk by chunk, in order, then the lanes
            grad_w = np.ascontiguousarray(gw.transpose(0, 3, 1, 2)).reshape(geo.c_out, geo.c_in, *geo.kernel)
        elif need_w:
            gw = partials[0] if len(chunks) == 1 else partials.sum(axis=0)  # chunk by chunk, in order
            kh, kw = geo.kernel
            grad_w = np.ascontiguousarray(gw.reshape(geo.groups, geo.og, kh, kw, geo.cg).transpose(0, 1, 4, 2, 3))
            grad_w = grad_w.reshape(geo.c_out, geo.cg, kh, kw)
        return grad_x, grad_w, grad_b
