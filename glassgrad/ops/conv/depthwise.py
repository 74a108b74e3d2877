"""The depthwise convolution (groups = input channels = output channels): ``backend.depthwise_conv``.

A depthwise layer (MobileNet's 3x3 filters, one per channel) does 2*kh*kw multiply-adds per output
pixel: im2col would copy kh*kw columns per pixel and run one thin product per channel. Here the
compiled loops of ``glassgrad.backend.depthwise_conv`` run the forward pass and both gradients on
parts of the batch shared among threads. With stride 1 they pad each channel's planes themselves,
into one flat run per channel over a block of images (``forward_stride1``,
``weight_grad_stride1``; blocks of images and channels: ``_blocks``), and the input gradient is
itself such a forward pass, of the output gradient by the flipped filters (``flipped_padding``).
With other strides each chunk of images is zero-padded once (NCHW, the border written once per
buffer: ``workspace.bordered``) and the loops read it where it lies.
"""

import numpy as np

from glassgrad.backend import depthwise_conv, memory, workspace
from glassgrad.ops.conv.geometry import copy_inside


def runs(geo):
    """Whether this is a depthwise convolution: one input and one output channel per group, more than one group."""
    return geo.groups > 1 and geo.groups == geo.c_in == geo.c_out


def _padded(geo, x, tag):
    hp, wp = geo.padded_hw
    xp = workspace.bordered((tag, geo.padding), x.shape[0], (geo.c_in, hp, wp), x.dtype, x.shape[1:])
    copy_inside(x, xp, geo.padding)
    return xp


def _top_left(geo):
    (pt, _), (pl, _) = geo.padding
    return pt, pl


def _chunks(geo, n, itemsize):
    hp, wp = geo.padded_hw
    return workspace.chunks(n, geo.c_in * hp * wp * itemsize)


def _work(geo, n):
    return n * geo.c_in * geo.out_hw[0] * geo.out_hw[1] * geo.kernel[0] * geo.kernel[1]


# Bytes of one channel's padded planes per stride-1 block, 2 images at least: the images of a
# block make one run. Per call, at batch 32, the best number of images was 32 on 8x8 maps,
# 2-3 on 16x16, 1-2 on 32x32 (benchmarks/README.md, "Round 2, seventh session").
RUN_BYTES = 4 << 10


def _blocks(geo, n, itemsize, work):
    """Blocks ((lo, hi) images, (first, last) channels) for the stride-1 passes, and the number
    of channel ranges: as many images as make ``RUN_BYTES`` of one channel's planes (a longer
    run per channel), and, where threads share the ``work``, the channels split so that there
    are ``workspace.MIN_CHUNKS`` blocks or more. Only the image ranges decide how the weight
    gradient is summed: the same bits at any thread count."""
    hp, wp = geo.padded_hw
    per = max(1, min(n, max(2, RUN_BYTES // (hp * wp * itemsize))))
    images = [(lo, min(lo + per, n)) for lo in range(0, n, per)]
    parts = 1
    if workspace.threads_for(work) > 1:  # on one thread, a block per call costs more (batch 1: 1.07x)
        parts = max(1, min(geo.c_in, -(-workspace.MIN_CHUNKS // max(1, len(images)))))
    width = -(-geo.c_in // parts)
    channels = [(first, min(first + width, geo.c_in)) for first in range(0, geo.c_in, width)]
    return [(i, c) for i in images for c in channels], len(channels)


def _weights(geo, weight, flipped=False):
    w = weight.reshape(geo.c_out, *geo.kernel)
    return np.ascontiguousarray(w[:, ::-1, ::-1] if flipped else w)


def forward(geo, x, weight, bias):
    """(n, C, H, W) by weight (C, 1, kh, kw) and bias (C,) or None -> (n, C, H_out, W_out)."""
    n = x.shape[0]
    out = memory.empty((n, geo.c_out, *geo.out_hw), x.dtype)
    w = _weights(geo, weight)
    if geo.stride == (1, 1):

        def block(index, images, channels):
            (lo, hi), (first, last) = images, channels
            depthwise_conv.forward_stride1(
                x[lo:hi], w, out[lo:hi], geo.padded_hw, _top_left(geo), geo.dilation, channels
            )
            if bias is not None:
                out[lo:hi, first:last] += bias[first:last].reshape(1, -1, 1, 1)

        workspace.each_chunk(_blocks(geo, n, x.itemsize, _work(geo, n))[0], _work(geo, n), block)
        return out

    def images(index, lo, hi):
        depthwise_conv.forward(_padded(geo, x[lo:hi], "depthwise"), w, out[lo:hi], geo.stride, geo.dilation)
        if bias is not None:
            out[lo:hi] += bias.reshape(1, -1, 1, 1)

    workspace.each_chunk(_chunks(geo, n, x.itemsize), _work(geo, n), images)
    return out


def flipped_padding(geo):
    """With stride 1, the input gradient is the depthwise forward pass of the output gradient
    zero-padded by the kernel's reach less this padding, by the filters flipped in both axes:
    that padding ((top, bottom), (left, right)), or None (a stride, or a side padded beyond
    the kernel's reach). It runs the forward pass's register sums instead of scattering into a
    padded gradient that is then cropped: 0.47-0.62x the time of the scatter at MobileNetV2's
    shapes (benchmarks/README.md, "MobileNetV2 training step")."""
    if geo.stride != (1, 1):
        return None
    (kh, kw), (dh, dw), ((pt, pb), (pl, pr)) = geo.kernel, geo.dilation, geo.padding
    pads = (((kh - 1) * dh - pt, (kh - 1) * dh - pb), ((kw - 1) * dw - pl, (kw - 1) * dw - pr))
    return pads if min(*pads[0], *pads[1]) >= 0 else None


def backward(geo, x, weight, grad, need_x, need_w):
    """(grad_x (n, C, H, W) or None, grad_w (C, 1, kh, kw) or None) from the output gradient."""
    n = grad.shape[0]
    grad = np.ascontiguousarray(grad)
    grad_x = memory.empty((n, geo.c_in, *geo.hw), grad.dtype) if need_x else None
    flipped = flipped_padding(geo)
    if geo.stride == (1, 1) and (flipped is not None or not need_x):
        work = _work(geo, n) * (need_x + need_w)
        blocks, per_range = _blocks(geo, n, grad.itemsize, work)
        # One partial weight gradient per range of images, summed after in order: the same bits
        # at any thread count.
        partials = np.empty((len(blocks) // per_range, geo.c_out, *geo.kernel), grad.dtype) if need_w else None
        if need_x:
            w = _weights(geo, weight, flipped=True)
            (ft, fb), (fl, fr) = flipped
            padded_grad = (geo.out_hw[0] + ft + fb, geo.out_hw[1] + fl + fr)

        def block(index, images, channels):
            lo, hi = images
            if need_x:
                depthwise_conv.forward_stride1(
                    grad[lo:hi], w, grad_x[lo:hi], padded_grad, (ft, fl), geo.dilation, channels
                )
            if need_w:
                depthwise_conv.weight_grad_stride1(
                    x[lo:hi],
                    grad[lo:hi],
                    partials[index // per_range],
                    geo.padded_hw,
                    _top_left(geo),
                    geo.dilation,
                    channels,
                )

        workspace.each_chunk(blocks, work, block)
        grad_w = None
        if need_w:
            grad_w = partials[0] if len(partials) == 1 else partials.sum(axis=0)
            grad_w = grad_w.reshape(geo.c_out, 1, *geo.kernel)
        return grad_x, grad_w
    return _backward_by_images(geo, x, weight, grad, grad_x, need_w)


def _backward_by_images(geo, x, weight, grad, grad_x, need_w):
    # Strides, and stride 1 padded beyond the kernel's reach: the input gradient scattered into a
    # padded gradient and cropped, the weight gradient summed over the chunks of images.
    n, (h, w_in) = grad.shape[0], geo.hw
    (pt, _), (pl, _) = geo.padding
    chunks = _chunks(geo, n, grad.itemsize)
    partials = np.empty((len(chunks), geo.c_out, *geo.kernel), grad.dtype) if need_w else None
    w = _weights(geo, weight) if grad_x is not None else None

    def images(index, lo, hi):
        if grad_x is not None:
            gxp = workspace.workspace("depthwise_grad", (hi - lo, geo.c_in, *geo.padded_hw), grad.dtype)
            depthwise_conv.input_grad(grad[lo:hi], w, gxp, geo.stride, geo.dilation)
            np.copyto(grad_x[lo:hi], gxp[:, :, pt : pt + h, pl : pl + w_in])
        if need_w:
            xp = _padded(geo, x[lo:hi], "depthwise")
            partials[index] = depthwise_conv.weight_grad(xp, grad[lo:hi], geo.kernel, geo.stride, geo.dilation)

    workspace.each_chunk(chunks, _work(geo, n) * ((grad_x is not None) + need_w), images)
    grad_w = None
    if need_w:
        grad_w = partials[0] if len(chunks) == 1 else partials.sum(axis=0)  # chunk by chunk, in order
        grad_w = grad_w.reshape(geo.c_out, 1, *geo.kernel)
    return grad_x, grad_w


def input_grad(geo, weight, grad, chunks):
    """The input gradient as a pass of ``Convolution.backward`` (its chunks are of padded images)."""
    return workspace.whole_batch(lambda: backward(geo, None, weight, grad, True, False)[0])


def weight_grad(geo, x, grad, chunks):
    """The weight gradient as a pass of ``Convolution.backward``."""
    return workspace.whole_batch(lambda: backward(geo, x, None, grad, False, True)[1])
