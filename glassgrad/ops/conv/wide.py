"""The stride-1 "wide rows" forward pass: columns copied from the padded NCHW image in long runs.

A stride-1 forward pass may take the "wide rows" layout instead (``columns``):
columns (K, b*H_out*Wp) copied from the padded NCHW image in one long run per channel and
kernel offset, at the price of Wp - W_out thrown-away columns per output row. It pays on
large images and few channels, where the NHWC copy moves short channel vectors: on ResNet-20's
first stage and its 3-channel stem (figures: benchmarks/README.md).
"""

import numpy as np

from glassgrad.backend import workspace
from glassgrad.ops.conv import im2col
from glassgrad.ops.conv.geometry import copy_inside, strided_view


def forward(geo, x, weight, bias):
    """(N, C_out, H_out, W_out): im2col's forward pass (``im2col.forward_by_columns``) on the wide
    rows' columns, whose output rows are Wp wide; stride 1 only. The gradients stay with im2col."""
    return im2col.forward_by_columns(geo, x, weight, bias, lambda xs: columns(geo, xs), geo.padded_hw[1])


def columns(geo, x):
    """(b, C, H, W) -> columns (groups, K, b*H_out*Wp) of a stride-1 convolution, K in (kh, kw, c) order.

    With stride 1, kernel offset (i, j) of the padded NCHW image flattened to Hp*Wp reads one
    contiguous run per channel: output pixel (h, w) sits at h*Wp + w, the input it needs at
    (h + i*dh)*Wp + w + j*dw. So each row of the columns is a single long copy, where the NHWC
    columns copy short channel vectors. The price is the Wp - W_out columns past each output
    row, which wrap into the next row's padding: they are computed and thrown away."""
    (kh, kw), (dh, dw) = geo.kernel, geo.dilation
    hp, wp = geo.padded_hw
    b, plane, run = x.shape[0], hp * wp, geo.out_hw[0] * wp
    # One image more than the chunk: the last image's last offsets read up to (kw-1)*dw
    # past its plane (into thrown-away columns only), and this keeps those reads in bounds.
    padded = workspace.bordered(("nchw", geo.padding), b + 1, (geo.c_in, hp, wp), x.dtype, x.shape[1:])
    copy_inside(x, padded[:b], geo.padding)
    flat = padded.reshape(-1)
    item = flat.itemsize
    shape = (geo.groups, kh, kw, geo.cg, b, run)
    strides = (geo.cg * plane * item, dh * wp * item, dw * item, plane * item, geo.c_in * plane * item, item)
    cols = workspace.workspace("cols", shape, x.dtype)
    np.copyto(cols, strided_view(flat, shape, strides))
    return cols.reshape(geo.groups, geo.k, b * run)
