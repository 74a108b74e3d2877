"""Depthwise convolution kernels (groups = input channels = output channels): each channel
convolved with its own kh x kw filter, no columns and no matrix product.

Why: im2col runs a depthwise layer as C products of one row by kh*kw columns each, after copying
the columns (kh*kw times the input); the work is 2*kh*kw multiply-adds per output pixel, far too
little for a matrix product to pay. Here each (image, channel) plane is one loop nest over the
zero-padded input plane: for every output row and kernel offset, a contiguous (stride 1) run of
the input row times one weight, added to the output row; that innermost loop vectorises.

Three passes, on a padded input ``xp`` (n, C, Hp, Wp) and weights ``w`` (C, kh, kw):

- ``forward``:     out[n, c, h, w] = sum_ij w[c, i, j] * xp[n, c, h*sh + i*dh, w*sw + j*dw]
- ``input_grad``:  gxp[n, c, h*sh + i*dh, w*sw + j*dw] += w[c, i, j] * g[n, c, h, w] (then cropped)
- ``weight_grad``: gw[c, i, j] = sum over n, h, w of g[n, c, h, w] * xp[n, c, h*sh + i*dh, w*sw + j*dw]

With numba (``glassgrad.backend.BACKEND == "numba"``) they are compiled loops on the calling
thread (3x3 filters with their nine offsets written out, see ``_name``), the GIL released, so
that the caller's threads each run one chunk of images; the weight gradient sums its products in
float64. Stride 1 has passes of its own, ``forward_stride1`` and ``weight_grad_stride1``, which
take the unpadded input: they copy each channel's planes into one zero-bordered flat buffer and
run over all of them at once, a loop long enough to vectorise where an output row (4-16 pixels
in MobileNetV2's later layers) is not. Padding included, that took 0.4-0.65x the row loops' time
for the forward pass and 0.4-0.9x for both gradients (benchmarks/README.md, "Round 2, seventh
session"). Without numba the NumPy reference computes the same sums, one whole-array operation
per kernel offset (kh*kw of them, never a loop over pixels).
"""

import numpy as np

from glassgrad import backend

_compiled: dict = {}


def _numba():
    """The compiled kernels, or None where glassgrad runs without numba (they compile on first use)."""
    if "kernels" not in _compiled:
        _compiled["kernels"] = _build() if (backend._impl or backend._load()) is not backend.numpy_kernels else None
    return _compiled["kernels"]


def _build():
    from glassgrad.backend import depthwise_numba

    return depthwise_numba.KERNELS


def _taps(kernel, stride, dilation, out_hw):
    """Per kernel offset (i, j): the slices of the padded input that output pixel (h, w) reads."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
            yield i, j, (slice(None), slice(None), rows, cols)


def _call(name, *args):
    _numba()[name](*args)


def _name(name, kernel):
    # 3x3 filters (MobileNet's) take loops with the nine offsets written out, their sums in
    # registers: forward 0.34-0.49x the general loops' time, weight gradient 0.46-0.77x, input
    # gradient 0.6-0.7x (benchmarks/README.md, "MobileNetV2 training step").
    return name + "3x3" if tuple(kernel) == (3, 3) else name


def _compiled_fits(*arrays):
    return _numba() is not None and all(a.dtype in (np.float32, np.float64) for a in arrays)


def forward(xp, w, out, stride, dilation):
    """out (n, C, H_out, W_out) = the depthwise convolution of the padded input xp (n, C, Hp, Wp)
    by w (C, kh, kw); all C-contiguous, of one dtype."""
    if _compiled_fits(xp, w):
        _call(_name("forward", w.shape[1:]), xp, w, out, *stride, *dilation)
        return
    out[...] = 0
    for i, j, window in _taps(w.shape[1:], stride, dilation, out.shape[2:]):
        out += xp[window] * w[:, i, j].reshape(1, -1, 1, 1)


def input_grad(g, w, gxp, stride, dilation):
    """gxp (n, C, Hp, Wp) = the gradient of the padded input, from the output gradient g
    (n, C, H_out, W_out) and w (C, kh, kw); gxp is overwritten."""
    if _compiled_fits(g, w):
        _call(_name("input_grad", w.shape[1:]), gxp, g, w, *stride, *dilation)
        return
    gxp[...] = 0
    for i, j, window in _taps(w.shape[1:], stride, dilation, g.shape[2:]):
        gxp[window] += g * w[:, i, j].reshape(1, -1, 1, 1)


def weight_grad(xp, g, kernel, stride, dilation):
    """The weight gradient (C, kh, kw) from the padded input xp (n, C, Hp, Wp) and the output
    gradient g (n, C, H_out, W_out)."""
    gw = np.empty((g.shape[1], *kernel), dtype=g.dtype)
    if _compiled_fits(xp, g):
        _call(_name("weight_grad", kernel), xp, g, gw, *stride, *dilation)
        return gw
    for i, j, window in _taps(kernel, stride, dilation, g.shape[2:]):
        # Pixels first, then images: pairwise sums along the long contiguous axes.
        products = xp[window] * g
        gw[:, i, j] = products.reshape(*products.shape[:2], -1).sum(axis=2).sum(axis=0)
    return gw


def _padded_copy(x, padded_hw, top_left):
    hp, wp = padded_hw
    (top, left), (h, w) = top_left, x.shape[2:]
    xp = np.zeros((*x.shape[:2], hp, wp), dtype=x.dtype)
    xp[:, :, top : top + h, left : left + w] = x
    return xp


def forward_stride1(x, w, out, padded_hw, top_left, dilation, channels=None):
    """out (n, C, H_out, W_out) = the stride-1 depthwise convolution of x (n, C, H, W), placed at
    ``top_left`` (rows, columns) in zero planes of ``padded_hw``, by w (C, kh, kw); only the
    channels in the range ``channels`` (first, last), all by default.

    Compiled, each channel's planes are padded into one flat buffer and its outputs computed in
    one vectorised run over all images (see ``depthwise_numba``); x need not be padded by the
    caller nor be contiguous."""
    first, last = channels or (0, x.shape[1])
    if _compiled_fits(x, w):
        _call("forward_stride1", x, w, out, *padded_hw, *top_left, *dilation, first, last)
        return
    part = slice(first, last)
    forward(_padded_copy(x[:, part], padded_hw, top_left), w[part], out[:, part], (1, 1), dilation)


def weight_grad_stride1(x, g, gw, padded_hw, top_left, dilation, channels=None):
    """gw (C, kh, kw) = the stride-1 weight gradient from x (n, C, H, W), placed as in
    ``forward_stride1``, and the output gradient g (n, C, H_out, W_out), for the channels in
    ``channels`` (first, last), all by default; products summed in float64."""
    first, last = channels or (0, x.shape[1])
    if _compiled_fits(x, g):
        _call("weight_grad_stride1", x, g, gw, *padded_hw, *top_left, *dilation, first, last)
        return
    part = slice(first, last)
    xp = _padded_copy(x[:, part], padded_hw, top_left)
    gw[part] = weight_grad(xp, g[:, part], gw.shape[1:], (1, 1), dilation)
