"""The one table of which convolution algorithm runs each pass, and the measured rules it reads.

``select`` returns a ``Plan`` (one algorithm name per pass); ``module(name)`` is the module that
runs it, whose ``forward``, ``input_grad`` and ``weight_grad`` the Convolution calls.
"""

from typing import NamedTuple

import numpy as np

from glassgrad.backend import direct_conv, winograd_tiles
from glassgrad.backends import conv as backends_conv
from glassgrad.ops.conv import depthwise, direct, im2col, pointwise, wide, winograd

# The algorithm of each name: a module with ``forward(geo, x, weight, bias)`` and, for the passes
# it offers, ``input_grad(geo, weight, grad, chunks)`` and ``weight_grad(geo, x, grad, chunks)``.
MODULES = {
    "im2col": im2col,
    "wide": wide,
    "direct": direct,
    "depthwise": depthwise,
    "pointwise": pointwise,
    "winograd": winograd,
}


class Plan(NamedTuple):
    """The algorithm of each pass of one convolution: "direct", "wide" (forward only), "depthwise"
    (all three passes), "pointwise" (all three), "winograd" (all three) or "im2col"; None for a
    gradient no input needs."""

    forward: str
    input_grad: str | None
    weight_grad: str | None


def module(name):
    """The module running the algorithm ``name`` (a name of a ``Plan``)."""
    return MODULES[name]


def select(geo, dtype, needs=(True, True)) -> Plan:
    """The one table of which algorithm runs each pass of the convolution ``geo`` in ``dtype``;
    ``needs``: whether the input and the weight need their gradients (``Function.needs_input_grad``).

    Read top to bottom: the forced algorithm or the measured "auto" rules (each a function below
    whose docstring says where it was measured to pay), then the passes nobody needs. A pass the
    forced algorithm cannot run takes the "auto" choice.
    """
    forced = backends_conv.current()
    f32 = np.dtype(dtype) == np.float32
    transposed = geo.input_gradient() if f32 else None  # the input gradient as a forward convolution

    # "auto": Winograd where it pays, else the direct kernel where it pays, else the wide rows
    # where they pay (forward only), else im2col; the weight gradient takes Winograd wherever
    # the forward pass does.
    winograd_runs = f32 and winograd_pays(geo)
    if winograd_runs:
        forward = "winograd"
    else:
        forward = "direct" if f32 and direct_pays(geo) else "wide" if wide_pays(geo) else "im2col"
    if transposed is not None and winograd_pays(transposed):
        input_grad = "winograd"
    else:
        input_grad = "direct" if transposed is not None and direct_pays(transposed) else "im2col"
    if winograd_runs:
        weight_grad = "winograd"
    else:
        weight_grad = "direct" if f32 and direct_weight_grad_pays(geo) else "im2col"

    if forced == "im2col":
        forward, input_grad, weight_grad = "im2col", "im2col", "im2col"
    elif forced in ("auto", "depthwise") and depthwise.runs(geo):
        # Per channel, a handful of multiply-adds per pixel: always faster than a product per
        # group (figures in benchmarks/README.md, "Depthwise convolution").
        forward, input_grad, weight_grad = "depthwise", "depthwise", "depthwise"
    elif forced == "wide":
        forward, input_grad, weight_grad = "wide" if geo.stride == (1, 1) else forward, "im2col", "im2col"
    elif forced == "direct":
        if f32 and direct.runs(geo):
            forward = "direct"
        if transposed is not None and direct.runs(transposed):
            input_grad = "direct"
        if f32 and direct.weight_grad_runs(geo):
            weight_grad = "direct"
    elif forced == "winograd" and winograd.runs(geo):  # any float dtype
        forward, weight_grad = "winograd", "winograd"
        if geo.input_gradient() is not None:  # a padding within the kernel's reach
            input_grad = "winograd"
    elif forced in ("auto", "pointwise") and pointwise.runs(geo):
        # One product per image on the NCHW data: forward 0.3-0.9x the time of the wide columns'
        # copy and product; both gradients too, but not on 4x4 maps, where each image's
        # product has 16 columns (the weight gradient's 0.67-0.94x from 8x8 up, 1.5-1.7x on 4x4:
        # figures in benchmarks/README.md, "1x1 convolutions" and "MobileNetV2 training step").
        pays = forced == "pointwise" or geo.out_hw[0] * geo.out_hw[1] >= pointwise.MIN_PIXELS
        forward = "pointwise"
        input_grad = weight_grad = "pointwise" if pays else "im2col"

    # A gradient nobody needs runs nothing; with neither, backward returns the bias's alone.
    need_x, need_w = needs
    return Plan(forward, input_grad if need_x else None, weight_grad if need_w else None)


def wide_pays(geo):
    """Whether the forward pass takes the stride-1 "wide rows" layout (see ``wide.columns``).

    It multiplies Wp/W_out times the columns, and saves the NHWC copy's short runs of kw*C
    floats: it won with 10% more columns, and with 20% only while the runs are short (kw*C
    up to 48 floats); figures in benchmarks/README.md, "Convolution"."""
    extra = geo.padded_hw[1] / geo.out_hw[1]
    short_runs = geo.kernel[1] * geo.cg <= 48
    return geo.stride == (1, 1) and (extra <= 1.1 or (short_runs and extra <= 1.2))


def direct_pays(geo):
    """Whether a float32 forward pass may run ``backend.direct_conv`` instead of im2col + GEMM:
    one group, a window of 2 to 49 offsets (a 1x1 kernel's NHWC input already is its column
    matrix; the offsets are unrolled in the compiled code), at most 20% of the kernel's
    pixels thrown away (rows that are not whole tiles of 16 are computed in full width),
    and outputs of 16x16 or more with up to 600 columns (C_in*kh*kw), or of 32x32 or more.

    Against im2col + GEMM it was faster on few channels from 16x16 outputs up, and slower on
    8x8 outputs and on many channels at 16x16, where the columns are cheap to build and their
    product runs near BLAS's peak. A strided convolution takes it only with rows of whole tiles
    (``direct.whole_rows``): with rows computed in full width it was slower. Figures in
    benchmarks/README.md, "Convolution"."""
    if not direct.runs(geo):
        return False
    taps = geo.kernel[0] * geo.kernel[1]
    kept = geo.out_hw[0] * geo.out_hw[1]
    if kept < 256 or (taps * geo.c_in > 600 and kept < 1024):
        return False
    if geo.stride != (1, 1) and not direct.whole_rows(geo):
        return False
    computed = (
        kept
        if direct.whole_rows(geo)
        else direct_conv.tiles(geo.out_hw[0] * direct.row_width(geo)) * direct_conv.PIXELS
    )
    return computed <= 1.2 * kept


# Channels (the harmonic mean of C_in and C_out) from which Winograd pays: the tile transforms cost
# C_in + C_out per tile, the products C_in * C_out, so their ratio is half this mean.
WINOGRAD_MIN_CHANNELS = 48


def winograd_pays(geo):
    """Whether a float32 pass takes Winograd's F(2x2, 3x3) (``winograd.runs``): with the harmonic
    mean of C_in and C_out at least ``WINOGRAD_MIN_CHANNELS`` (64 -> 64, 128 -> 32 and 32 -> 128,
    but not 64 -> 32 or 32 -> 32), and the tile transforms compiled.

    Against the direct kernel and im2col at batch 32 it took 0.57-0.87x the time on 64 to 512
    channels from 32x32 down to 2x2 images, and 1.25-1.9x on 16 and 32, where the products are
    small beside the transforms. With few output channels im2col's products run far from BLAS's
    peak: DenseNet's 128 -> 32 layers (forward and both gradients, batch 64) took 0.63-0.86x the
    time of the other algorithms from 32x32 down to 4x4, 256 -> 32 0.51-0.75x; 64 -> 32 (a mean of
    43) took what the direct kernel took. Its weight gradient took 0.65-0.96x im2col's time at
    batch 32 and 64 on 1 and 2 threads. Figures in benchmarks/README.md, "Winograd"."""
    if not winograd.runs(geo) or not winograd_tiles.compiled():
        return False
    return 2 * geo.c_in * geo.c_out >= WINOGRAD_MIN_CHANNELS * (geo.c_in + geo.c_out)


def direct_weight_grad_pays(geo):
    """Whether the weight gradient takes ``direct.weight_grad``: where the forward pass may
    take the direct kernel, with rows of 32 pixels or more, output channels a multiple of 4 and
    up to 288 columns (32 channels of a 3x3 kernel). Shorter rows leave too little work per
    pass, and were slower than the columns' product; so were 64 channels (576 columns) at
    32x32, 2x the time (figures in benchmarks/README.md, "Convolution" and "Winograd")."""
    return direct_pays(geo) and direct.weight_grad_runs(geo) and geo.out_hw[1] >= 32 and geo.k <= 288
