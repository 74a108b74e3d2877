"""The direct convolution: the compiled kernel of ``glassgrad.backend.direct_conv``, no columns.

Where it can (float32, one group, little thrown away: ``select.direct_pays``), the forward pass
skips the columns altogether: the compiled kernel of glassgrad.backend.direct_conv reads the
same wide rows straight from the padded image, or from its phases when strided. A stride-1
backward pass computes the input gradient the same way (``Geometry.input_gradient``), and
rows of 32 pixels or more their weight gradient (``weight_grad``); the rest
stays with the columns.
"""

import numpy as np

from glassgrad.backend import direct_conv, memory, workspace
from glassgrad.ops.conv import prepared
from glassgrad.ops.conv.geometry import copy_inside

# -- the passes ------------------------------------------------------------------------------------


def forward(geo, x, weight, bias):
    """(N, C_out, H_out, W_out): the convolution of x (N, C, H, W) by weight (C_out, C, kh, kw),
    plus bias (C_out,) or None, by the compiled kernel, chunk by chunk (float32, ``runs(geo)``)."""
    return forward_prepared(geo, x, prepare_weight(weight), bias)


def forward_inference(geo, x, weight, bias):
    """``forward`` where no gradient is wanted: the packed weight kept between calls (its layout
    depends on the kernel's tile, hence the key)."""
    return forward_prepared(geo, x, prepared.prepared(("direct", direct_conv.tile()), weight, prepare_weight), bias)


def prepare_weight(weight):
    """The packed weight ``forward_prepared`` takes (``direct_conv.pack_weight``)."""
    return direct_conv.pack_weight(weight)


def forward_prepared(geo, x, packed, bias):
    """``forward`` with the weight already packed (``prepare_weight``)."""
    n = x.shape[0]
    out = memory.empty((n, geo.c_out, *geo.out_hw), x.dtype)
    bias4 = None if bias is None else bias.reshape(1, -1, 1, 1)

    def chunk(index, lo, hi):
        _convolve(geo, x[lo:hi], packed, out[lo:hi], bias4)

    per_image = geo.out_hw[0] * geo.padded_hw[1] * geo.groups * geo.k  # the kernel's multiply-adds / C_out
    workspace.each_chunk(workspace.chunks(n, per_image * x.itemsize), n * per_image * geo.og, chunk)
    return out


def input_grad(geo, weight, grad, chunks):
    """The job (``workspace.Job``) whose result is the input gradient (N, C, H, W): the forward
    pass of ``geo.input_gradient()`` on the output gradient, with the weight flipped in both
    spatial axes and its channel axes swapped (``runs(geo.input_gradient())``)."""
    out = memory.empty((grad.shape[0], geo.c_in, *geo.hw), grad.dtype)
    transposed = geo.input_gradient()
    packed = direct_conv.pack_weight(weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])

    def chunk(index, lo, hi, shared):
        _convolve(transposed, grad[lo:hi], packed, out[lo:hi])

    return workspace.Job(chunk, lambda: out)


def weight_grad(geo, x, grad, chunks):
    """The job whose result is the weight gradient (C_out, C, kh, kw), summed by the kernel in its
    own layout with its vector lanes apart, chunk by chunk in order (``weight_grad_runs(geo)``)."""
    taps, per_block, lanes = geo.kernel[0] * geo.kernel[1], direct_conv.CHANNELS, direct_conv.WEIGHT_GRAD_LANES
    partials = np.zeros((len(chunks), geo.c_out // per_block, geo.c_in, taps, per_block, lanes), dtype=grad.dtype)

    def chunk(index, lo, hi, shared):
        _weight_grad_chunk(geo, x[lo:hi], grad[lo:hi], partials[index])

    def result():
        gw = partials.sum(axis=0).sum(axis=-1)  # chunk by chunk, in order, then the lanes
        return np.ascontiguousarray(gw.transpose(0, 3, 1, 2)).reshape(geo.c_out, geo.c_in, *geo.kernel)

    return workspace.Job(chunk, result)


# -- where it runs, and the kernel's layout --------------------------------------------------------


def runs(geo):
    """Whether the direct kernel can run this forward pass at all (in float32): one group, a
    window of 2 to ``direct_conv.MAX_TAPS`` offsets, and the kernel compiled for this machine."""
    taps = geo.kernel[0] * geo.kernel[1]
    return geo.groups == 1 and 1 < taps <= direct_conv.MAX_TAPS and direct_conv.available()


def weight_grad_runs(geo):
    """Whether ``weight_grad`` can run: the direct kernel runs, with rows of whole tiles
    and output channels a multiple of 4."""
    return runs(geo) and whole_rows(geo) and geo.c_out % 4 == 0


def whole_rows(geo):
    """Whether the kernel computes the kept pixels only, row by row (``direct_conv.conv2d``'s
    ``rows``): rows of whole tiles of 16."""
    return geo.out_hw[1] % direct_conv.PIXELS == 0


def row_width(geo):
    """The direct kernel's row width: Wp, or a phase's ceil(Wp / stride) (see ``forward``)."""
    return -(-geo.padded_hw[1] // geo.stride[1])


def _convolve(geo, x, packed, out, bias=None):
    """out (b, C_out, H_out, W_out) = the convolution of x (b, C, H, W) by the direct kernel
    with ``direct_conv.pack_weight``'s weights, plus ``bias`` (1, C_out, 1, 1) if given.

    Stride 1: the kernel reads the zero-padded NCHW planes (the wide rows). Stride s: the
    padded image is first split into its s_h*s_w phases, the rows a, a+s_h, ... and columns
    b, b+s_w, ..., each a plane ceil(Hp/s_h) x ceil(Wp/s_w); kernel offset (i, j) reads phase
    (i*dh mod s_h, j*dw mod s_w) shifted by (i*dh // s_h, j*dw // s_w), so output pixel
    (h, w) at h*Wq + w reads contiguous runs there too, as with stride 1."""
    b, (h_out, w_out), width = x.shape[0], geo.out_hw, row_width(geo)
    offsets, channel_stride, image_stride = _layout(geo)
    padded, rows, pixels = _input(geo, x)
    c_out4 = packed.shape[0] * packed.shape[3]
    in_place = rows is not None and c_out4 == geo.c_out and out.flags.c_contiguous
    if in_place:  # the kept pixels only, straight into ``out``
        target = out.reshape(b, geo.c_out, h_out * w_out)
    elif rows is not None:
        target = workspace.workspace("rows", (b, c_out4, h_out * w_out), x.dtype)
    else:  # the wide rows: output pixel (h, w) at h*width + w
        target = workspace.workspace("rows", (b, c_out4, direct_conv.tiles(pixels) * direct_conv.PIXELS), x.dtype)
    direct_conv.conv2d(padded, packed, target, b, offsets, channel_stride, image_stride, rows)
    kept_width = w_out if rows is not None else width
    planes = target[:, : geo.c_out, : h_out * kept_width].reshape(b, geo.c_out, h_out, kept_width)[..., :w_out]
    if bias is not None:
        np.add(planes, bias, out=out)
    elif not in_place:
        np.copyto(out, planes)


def _input(geo, x):
    """The direct kernel's input for x (b, C, H, W): (the padded images or their phases, as a
    flat array with room for the reads past the last image, ``rows`` for
    ``direct_conv.conv2d`` or None for the wide rows, the pixels computed per plane)."""
    b = x.shape[0]
    (hp, wp), (sh, sw), (h_out, w_out) = geo.padded_hw, geo.stride, geo.out_hw
    width = row_width(geo)
    offsets, channel_stride, image_stride = _layout(geo)
    rows = (width, w_out) if whole_rows(geo) else None  # the kept pixels only, row by row
    pixels = h_out * (w_out if rows else width)
    reach = direct_conv.reach(offsets, geo.c_in, channel_stride, pixels, rows)
    images = b + max(1, -(-(reach - image_stride) // image_stride))  # room for reads past the last image
    if geo.stride == (1, 1):
        padded = workspace.bordered(("nchw", geo.padding), images, (geo.c_in, hp, wp), x.dtype, x.shape[1:])
        copy_inside(x, padded[:b], geo.padding)
    else:
        # Straight from x into the phases: the places that hold padding are the same in
        # every chunk, and keep the zeros the buffer was made with.
        per_image = (sh * sw, geo.c_in, -(-hp // sh), width)
        padded = workspace.bordered(("phases", geo.padding, geo.stride), images, per_image, x.dtype, x.shape[1:])
        (pt, _), (pl, _) = geo.padding
        for row_phase in range(sh):
            top = -(-(pt - row_phase) // sh) if pt > row_phase else 0  # its first row of image data
            first_row = top * sh + row_phase - pt
            height = len(range(first_row, geo.hw[0], sh))
            for col_phase in range(sw):
                left = -(-(pl - col_phase) // sw) if pl > col_phase else 0
                first_col = left * sw + col_phase - pl
                length = len(range(first_col, geo.hw[1], sw))
                phase = padded[:b, row_phase * sw + col_phase]
                destination = phase[:, :, top : top + height, left : left + length]
                np.copyto(destination, x[:, :, first_row::sh, first_col::sw])
    return padded.reshape(-1), rows, pixels


def _weight_grad_chunk(geo, x, grad, out):
    """out (C_out/4, C, kh*kw, 4, lanes) += the weight gradient of x (b, C, H, W) and the output
    gradient (b, C_out, H_out, W_out) by ``direct_conv.weight_grad``; the caller sums the
    last axis (one partial sum per vector lane)."""
    images, rows, _ = _input(geo, x)
    offsets, channel_stride, image_stride = _layout(geo)
    grads = np.ascontiguousarray(grad).reshape(grad.shape[0], geo.c_out, -1)
    direct_conv.weight_grad(images, grads, out, grad.shape[0], offsets, channel_stride, image_stride, rows)


def _layout(geo):
    """(offsets, channel stride, image stride) of the direct kernel's input, in floats."""
    if geo._layout is None:
        (kh, kw), (dh, dw), (sh, sw) = geo.kernel, geo.dilation, geo.stride
        hp, wp = geo.padded_hw
        if geo.stride == (1, 1):
            plane = hp * wp
            offsets = [i * dh * wp + j * dw for i in range(kh) for j in range(kw)]
        else:
            width = row_width(geo)
            plane = -(-hp // sh) * width
            offsets = [
                ((i * dh % sh) * sw + j * dw % sw) * geo.c_in * plane + (i * dh // sh) * width + j * dw // sw
                for i in range(kh)
                for j in range(kw)
            ]
        image = plane * geo.c_in * sh * sw
        geo._layout = (np.array(offsets, dtype=np.int64), plane, image)
    return geo._layout
