"""Convolution: im2col through a strided view, then matrix products, a few images at a time.

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

A stride-1 forward pass may take the "wide rows" layout instead (``_Geometry.wide_columns``):
columns (K, b*H_out*Wp) copied from the padded NCHW image in one long run per channel and
kernel offset, at the price of Wp - W_out thrown-away columns per output row. It pays on
large images and few channels, where the NHWC copy moves short channel vectors: on ResNet-20's
first stage it takes 0.76-0.81x the time, on its 3-channel stem 0.4-0.7x.

Where it can (float32, one group, little thrown away: ``_Geometry.direct``), the forward pass
skips the columns altogether: the compiled kernel of glassgrad.backend.direct_conv reads the
same wide rows straight from the padded image, or from its phases when strided. A stride-1
backward pass computes the input gradient the same way (``_Geometry.input_gradient``), and
rows of 32 pixels or more their weight gradient (``_Geometry.direct_weight_grad``); the rest
stays with the columns.
"""

from typing import NamedTuple

import numpy as np

from glassgrad import backend
from glassgrad.autograd.function import Function
from glassgrad.backend import direct_conv, memory, workspace
from glassgrad.backend.workspace import clear_workspaces  # noqa: F401  (the public name it always had)
from glassgrad.backends import conv as backends_conv
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


def _strided_view(base, shape, strides):
    """A read-only view of the contiguous array ``base`` with the given shape and byte strides.
    Built by np.ndarray, which also checks that it stays inside ``base``; numpy's as_strided
    takes ten times as long (5 us, through __array_interface__), and it is paid per chunk."""
    view = np.ndarray(shape, base.dtype, base, 0, strides)
    view.flags.writeable = False
    return view


def _windows(xp, kernel, stride, dilation, out_hw, groups):
    """The sliding windows of a padded NHWC array as a read-only view
    (N, H_out, W_out, groups, kh, kw, C/groups); nothing is copied."""
    n, _, _, c = xp.shape
    s_n, s_h, s_w, s_c = xp.strides
    cg = c // groups
    shape = (n, out_hw[0], out_hw[1], groups, kernel[0], kernel[1], cg)
    strides = (s_n, stride[0] * s_h, stride[1] * s_w, cg * s_c, dilation[0] * s_h, dilation[1] * s_w, s_c)
    return _strided_view(xp, shape, strides)


class _Geometry:
    """The shapes of one convolution and the layout steps that work on a slice of its batch."""

    def __init__(self, x_shape, weight_shape, stride, padding, dilation, groups):
        n, c, h, w = x_shape
        c_out, cg, kh, kw = weight_shape
        (pt, pb), (pl, pr) = padding
        self.hw, self.padded_hw = (h, w), (h + pt + pb, w + pl + pr)
        self.kernel, self.stride, self.padding, self.dilation, self.groups = (kh, kw), stride, padding, dilation, groups
        self.out_hw = (
            (h + pt + pb - dilation[0] * (kh - 1) - 1) // stride[0] + 1,
            (w + pl + pr - dilation[1] * (kw - 1) - 1) // stride[1] + 1,
        )
        self.c_in, self.c_out, self.cg, self.og = c, c_out, cg, c_out // groups
        self.k = kh * kw * cg  # the columns of one group
        self._layout = None  # the direct kernel's, made when first asked for

    def padded(self, x):
        """(b, C, H, W) -> a zero-padded NHWC workspace (b, Hp, Wp, C): the one layout change on the way in."""
        xp = workspace.bordered(("nhwc", self.padding), x.shape[0], (*self.padded_hw, self.c_in), x.dtype)
        _copy_inside(x, xp.transpose(0, 3, 1, 2), self.padding)
        return xp

    def columns(self, x):
        """(b, C, H, W) -> the columns (groups, b*H_out*W_out, K) with K in (kh, kw, c) order."""
        xp = self.padded(x)
        windows = _windows(xp, self.kernel, self.stride, self.dilation, self.out_hw, self.groups)
        if windows.flags.c_contiguous:
            cols = windows  # a 1x1 kernel with stride 1: the NHWC input already is the column matrix
        else:
            cols = workspace.workspace("cols", windows.shape, xp.dtype)
            np.copyto(cols, windows)
        return cols.reshape(-1, self.groups, self.k).transpose(1, 0, 2)

    @property
    def wide(self):
        """Whether the forward pass takes the stride-1 "wide rows" layout (see ``wide_columns``).

        It multiplies Wp/W_out times the columns, and saves the NHWC copy's short runs of kw*C
        floats. Measured at batch 128: it wins with 10% more columns (32x32 images), and with
        12.5% (16x16) only while the runs are short (16 channels: 0.89x the time; 32: 1.05x)."""
        extra = self.padded_hw[1] / self.out_hw[1]
        short_runs = self.kernel[1] * self.cg <= 48
        return self.stride == (1, 1) and (extra <= 1.1 or (short_runs and extra <= 1.2))

    def wide_columns(self, x):
        """(b, C, H, W) -> columns (groups, K, b*H_out*Wp) of a stride-1 convolution, K in (kh, kw, c) order.

        With stride 1, kernel offset (i, j) of the padded NCHW image flattened to Hp*Wp reads one
        contiguous run per channel: output pixel (h, w) sits at h*Wp + w, the input it needs at
        (h + i*dh)*Wp + w + j*dw. So each row of the columns is a single long copy, where the NHWC
        columns copy short channel vectors. The price is the Wp - W_out columns past each output
        row, which wrap into the next row's padding: they are computed and thrown away."""
        (kh, kw), (dh, dw) = self.kernel, self.dilation
        hp, wp = self.padded_hw
        b, plane, run = x.shape[0], hp * wp, self.out_hw[0] * wp
        # One image more than the chunk: the last image's last offsets read up to (kw-1)*dw
        # past its plane (into thrown-away columns only), and this keeps those reads in bounds.
        padded = workspace.bordered(("nchw", self.padding), b + 1, (self.c_in, hp, wp), x.dtype)
        _copy_inside(x, padded[:b], self.padding)
        flat = padded.reshape(-1)
        item = flat.itemsize
        shape = (self.groups, kh, kw, self.cg, b, run)
        strides = (self.cg * plane * item, dh * wp * item, dw * item, plane * item, self.c_in * plane * item, item)
        cols = workspace.workspace("cols", shape, x.dtype)
        np.copyto(cols, _strided_view(flat, shape, strides))
        return cols.reshape(self.groups, self.k, b * run)

    @property
    def direct(self):
        """Whether a float32 forward pass may run ``backend.direct_conv`` instead of im2col + GEMM:
        one group, a window of 2 to 49 offsets (a 1x1 kernel's NHWC input already is its column
        matrix; the offsets are unrolled in the compiled code), at most 20% of the kernel's
        pixels thrown away (rows that are not whole tiles of 16 are computed in full width),
        and outputs of 16x16 or more with up to 600 columns (C_in*kh*kw), or of 32x32 or more.

        Measured at batch 128, 2 threads, against im2col + GEMM: 0.6-0.8x the time on 3, 16 and
        32 input channels from 16x16 outputs up (3x3), 0.86-0.97x on 64 channels at 32x32; but
        1.1-1.3x on 8x8 outputs and 0.9-1.0x on 128 channels at 16x16, where the columns are
        cheap to build and the product with 576 or more of them runs at 80-90 GFLOP/s. A strided
        convolution takes it only with rows of whole tiles (``_direct_rows``): 0.75-0.9x on 16x16
        outputs, 0.64x on an ImageNet stem (7x7, stride 2, 112 wide), but 1.05-1.3x on 64->128
        channels with 28-wide outputs, computed in full width."""
        if not self.direct_runs:
            return False
        taps = self.kernel[0] * self.kernel[1]
        kept = self.out_hw[0] * self.out_hw[1]
        if kept < 256 or (taps * self.c_in > 600 and kept < 1024):
            return False
        if self.stride != (1, 1) and not self._direct_rows:
            return False
        computed = kept if self._direct_rows else direct_conv.tiles(self.out_hw[0] * self._direct_width) * 16
        return computed <= 1.2 * kept

    @property
    def direct_runs(self):
        """Whether the direct kernel can run this forward pass at all (in float32): one group, a
        window of 2 to ``direct_conv.MAX_TAPS`` offsets, and the kernel compiled for this machine."""
        taps = self.kernel[0] * self.kernel[1]
        return self.groups == 1 and 1 < taps <= direct_conv.MAX_TAPS and direct_conv.available()

    @property
    def direct_weight_grad_runs(self):
        """Whether ``direct_weight_grad`` can run: the direct kernel runs, with rows of whole tiles
        and output channels a multiple of 4."""
        return self.direct_runs and self._direct_rows and self.c_out % 4 == 0

    @property
    def _direct_rows(self):
        """Whether the kernel computes the kept pixels only, row by row (``direct_conv.conv2d``'s
        ``rows``): rows of whole tiles of 16."""
        return self.out_hw[1] % direct_conv.PIXELS == 0

    @property
    def _direct_width(self):
        """The direct kernel's row width: Wp, or a phase's ceil(Wp / stride) (see ``direct_into``)."""
        return -(-self.padded_hw[1] // self.stride[1])

    def direct_into(self, x, packed, out, bias=None):
        """out (b, C_out, H_out, W_out) = the convolution of x (b, C, H, W) by the direct kernel
        with ``direct_conv.pack_weight``'s weights, plus ``bias`` (1, C_out, 1, 1) if given.

        Stride 1: the kernel reads the zero-padded NCHW planes (the wide rows). Stride s: the
        padded image is first split into its s_h*s_w phases, the rows a, a+s_h, ... and columns
        b, b+s_w, ..., each a plane ceil(Hp/s_h) x ceil(Wp/s_w); kernel offset (i, j) reads phase
        (i*dh mod s_h, j*dw mod s_w) shifted by (i*dh // s_h, j*dw // s_w), so output pixel
        (h, w) at h*Wq + w reads contiguous runs there too, as with stride 1."""
        b, (h_out, w_out), width = x.shape[0], self.out_hw, self._direct_width
        offsets, channel_stride, image_stride = self._direct_layout()
        padded, rows, pixels = self._direct_input(x)
        c_out4 = packed.shape[0] * direct_conv.CHANNELS
        in_place = rows is not None and c_out4 == self.c_out and out.flags.c_contiguous
        if in_place:  # the kept pixels only, straight into ``out``
            target = out.reshape(b, self.c_out, h_out * w_out)
        elif rows is not None:
            target = workspace.workspace("rows", (b, c_out4, h_out * w_out), x.dtype)
        else:  # the wide rows: output pixel (h, w) at h*width + w
            target = workspace.workspace("rows", (b, c_out4, direct_conv.tiles(pixels) * direct_conv.PIXELS), x.dtype)
        direct_conv.conv2d(padded, packed, target, b, offsets, channel_stride, image_stride, rows)
        kept_width = w_out if rows is not None else width
        planes = target[:, : self.c_out, : h_out * kept_width].reshape(b, self.c_out, h_out, kept_width)[..., :w_out]
        if bias is not None:
            np.add(planes, bias, out=out)
        elif not in_place:
            np.copyto(out, planes)

    def _direct_input(self, x):
        """The direct kernel's input for x (b, C, H, W): (the padded images or their phases, as a
        flat array with room for the reads past the last image, ``rows`` for
        ``direct_conv.conv2d`` or None for the wide rows, the pixels computed per plane)."""
        b = x.shape[0]
        (hp, wp), (sh, sw), (h_out, w_out) = self.padded_hw, self.stride, self.out_hw
        width = self._direct_width
        offsets, channel_stride, image_stride = self._direct_layout()
        rows = (width, w_out) if self._direct_rows else None  # the kept pixels only, row by row
        pixels = h_out * (w_out if rows else width)
        reach = direct_conv.reach(offsets, self.c_in, channel_stride, pixels, rows)
        images = b + max(1, -(-(reach - image_stride) // image_stride))  # room for reads past the last image
        if self.stride == (1, 1):
            padded = workspace.bordered(("nchw", self.padding), images, (self.c_in, hp, wp), x.dtype)
            _copy_inside(x, padded[:b], self.padding)
        else:
            # Straight from x into the phases: the places that hold padding are the same in
            # every chunk, and keep the zeros the buffer was made with.
            per_image = (sh * sw, self.c_in, -(-hp // sh), width)
            padded = workspace.bordered(("phases", self.padding, self.stride), images, per_image, x.dtype)
            (pt, _), (pl, _) = self.padding
            for row_phase in range(sh):
                top = -(-(pt - row_phase) // sh) if pt > row_phase else 0  # its first row of image data
                first_row = top * sh + row_phase - pt
                height = len(range(first_row, self.hw[0], sh))
                for col_phase in range(sw):
                    left = -(-(pl - col_phase) // sw) if pl > col_phase else 0
                    first_col = left * sw + col_phase - pl
                    length = len(range(first_col, self.hw[1], sw))
                    phase = padded[:b, row_phase * sw + col_phase]
                    destination = phase[:, :, top : top + height, left : left + length]
                    np.copyto(destination, x[:, :, first_row::sh, first_col::sw])
        return padded.reshape(-1), rows, pixels

    def direct_weight_grad(self, x, grad, out):
        """out (C_out/4, C, kh*kw, 4, 8) += the weight gradient of x (b, C, H, W) and the output
        gradient (b, C_out, H_out, W_out) by ``direct_conv.weight_grad``; the caller sums the
        last axis (eight partial sums, one per vector lane)."""
        images, rows, _ = self._direct_input(x)
        offsets, channel_stride, image_stride = self._direct_layout()
        grads = np.ascontiguousarray(grad).reshape(grad.shape[0], self.c_out, -1)
        direct_conv.weight_grad(images, grads, out, grad.shape[0], offsets, channel_stride, image_stride, rows)

    @property
    def direct_weight_grad_pays(self):
        """Whether the weight gradient takes ``direct_weight_grad``: where the forward pass may
        take the direct kernel, with rows of 32 pixels or more and output channels a multiple of
        4. Measured on single chunks against the columns' product: 0.4-0.5x the time on 16
        channels at 32x32, 0.25x on the 3-channel stems, but 1.0-1.7x on 16x16 rows, whose
        short rows leave too little work per pass."""
        return self.direct and self.direct_weight_grad_runs and self.out_hw[1] >= 32

    def _direct_layout(self):
        """(offsets, channel stride, image stride) of the direct kernel's input, in floats."""
        if self._layout is None:
            (kh, kw), (dh, dw), (sh, sw) = self.kernel, self.dilation, self.stride
            hp, wp = self.padded_hw
            if self.stride == (1, 1):
                plane = hp * wp
                offsets = [i * dh * wp + j * dw for i in range(kh) for j in range(kw)]
            else:
                width = self._direct_width
                plane = -(-hp // sh) * width
                offsets = [
                    ((i * dh % sh) * sw + j * dw % sw) * self.c_in * plane + (i * dh // sh) * width + j * dw // sw
                    for i in range(kh)
                    for j in range(kw)
                ]
            image = plane * self.c_in * sh * sw
            self._layout = (np.array(offsets, dtype=np.int64), plane, image)
        return self._layout

    def input_gradient(self):
        """The geometry whose forward pass gives this convolution's input gradient, or None.

        With stride 1 and one group, grad_x is a stride-1 convolution of the output gradient
        (b, C_out, H_out, W_out), zero-padded by the kernel's reach less this padding, with the
        weight flipped in both spatial axes and its channel axes swapped; its output is
        (b, C, H, W). None when a side is padded beyond the kernel's reach."""
        if self.stride != (1, 1) or self.groups != 1:
            return None
        (kh, kw), (dh, dw), ((pt, pb), (pl, pr)) = self.kernel, self.dilation, self.padding
        reach_h, reach_w = (kh - 1) * dh, (kw - 1) * dw
        pads = ((reach_h - pt, reach_h - pb), (reach_w - pl, reach_w - pr))
        if min(pads[0] + pads[1]) < 0:
            return None
        return _Geometry((0, self.c_out, *self.out_hw), (self.c_in, self.c_out, kh, kw), (1, 1), pads, self.dilation, 1)

    def rows(self, grad, tag):
        """(b, C_out, H_out, W_out) -> (groups, og, b*H_out*W_out) in a workspace: channels as rows."""
        b = grad.shape[0]
        rows = workspace.workspace(tag, (self.c_out, b, *self.out_hw), grad.dtype)
        np.copyto(rows, grad.transpose(1, 0, 2, 3))
        return rows.reshape(self.groups, self.og, -1)

    def col2im(self, grad_cols, out):
        """Add the columns' gradients (groups, K, b*H_out*W_out) back onto ``out`` (b, C, H, W).

        With K in (kh, kw, cg) order each kernel offset's gradient is one contiguous
        (cg, b, H_out, W_out) block; glassgrad.backend adds them up (compiled, or with NumPy
        in a zero-padded buffer, one strided addition per kernel offset)."""
        (kh, kw), (pt, _), (pl, _) = self.kernel, *self.padding
        grad_cols = grad_cols.reshape(self.groups, kh, kw, self.cg, out.shape[0], *self.out_hw)
        backend.col2im(grad_cols, out, self.stride, (pt, pl), self.dilation, _col2im_scratch)


def _col2im_scratch(shape, dtype):
    return workspace.workspace("col2im", shape, dtype)


def _gemm(a, b, out=None):
    """Batched over groups, with the single-group case as one plain 2-D product (one BLAS call)."""
    if a.shape[0] == 1:
        if out is None:
            return np.matmul(a[0], b[0])[None]
        np.matmul(a[0], b[0], out=out[0])
        return out
    return np.matmul(a, b, out=out)


class Plan(NamedTuple):
    """The algorithm of each pass of one convolution: "direct", "wide" (forward only) or "im2col"."""

    forward: str
    input_grad: str
    weight_grad: str


def select(geo, dtype) -> Plan:
    """The one table of which algorithm runs each pass of the convolution ``geo`` in ``dtype``.

    ``glassgrad.backends.conv.algorithm`` forces one (see there); a pass the forced algorithm
    cannot run takes the "auto" choice. The "auto" rules are the measured ones: each is a
    ``_Geometry`` property whose docstring says where it was measured to pay.
    """
    forced = backends_conv.current()
    f32 = np.dtype(dtype) == np.float32
    transposed = geo.input_gradient() if f32 else None  # the input gradient as a forward convolution

    # "auto": the direct kernel where it pays, else the wide rows where they pay, else im2col.
    forward = "direct" if f32 and geo.direct else "wide" if geo.wide else "im2col"
    input_grad = "direct" if transposed is not None and transposed.direct else "im2col"
    weight_grad = "direct" if f32 and geo.direct_weight_grad_pays else "im2col"

    if forced == "im2col":
        return Plan("im2col", "im2col", "im2col")
    if forced == "wide":
        return Plan("wide" if geo.stride == (1, 1) else forward, "im2col", "im2col")
    if forced == "direct":
        if f32 and geo.direct_runs:
            forward = "direct"
        if transposed is not None and transposed.direct_runs:
            input_grad = "direct"
        if f32 and geo.direct_weight_grad_runs:
            weight_grad = "direct"
    return Plan(forward, input_grad, weight_grad)


class Convolution(Function):
    """2-D convolution (cross-correlation, as in PyTorch).

    Shapes: input (N, C_in, H, W), weight (C_out, C_in/groups, kh, kw), bias (C_out,) or None
    -> output (N, C_out, H_out, W_out) with H_out = (H + pad_top + pad_bottom - dilation*(kh-1) - 1) // stride + 1.
    ``padding`` is ((top, bottom), (left, right)) of zeros.
    """

    def forward(self, x, weight, bias, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
        geo = _Geometry(x.shape, weight.shape, stride, padding, dilation, groups)
        plan = select(geo, x.dtype)
        n, wide, direct = x.shape[0], plan.forward == "wide", plan.forward == "direct"
        result = memory.empty((n, geo.c_out, *geo.out_hw), x.dtype)
        wmat = np.ascontiguousarray(_weight_matrix(weight, groups))  # (groups, og, K), copied once, not per chunk
        bias4 = None if bias is None else bias.reshape(1, -1, 1, 1)

        # The product's output rows are W_out wide, or Wp wide in the wide layout, whose
        # Wp - W_out extra columns per row are dropped on the way into the result.
        width = geo.padded_hw[1] if wide else geo.out_hw[1]

        if direct:
            packed = direct_conv.pack_weight(weight)
            width = geo.padded_hw[1]  # for the chunk sizes below

        def chunk(index, lo, hi):
            if direct:
                geo.direct_into(x[lo:hi], packed, result[lo:hi], bias4)
                return
            if wide:
                cols = geo.wide_columns(x[lo:hi])  # (groups, K, b*H_out*Wp)
            else:
                cols = geo.columns(x[lo:hi]).transpose(0, 2, 1)  # (groups, K, b*H_out*W_out), a view
            # Output channels as rows, (groups, og, b*H_out*width): its (C_out, b, H_out, width) order
            # turns into NCHW by moving whole rows, much cheaper than transposing NHWC.
            rows = _gemm(wmat, cols, out=workspace.workspace("rows", (groups, geo.og, cols.shape[2]), x.dtype))
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

        chunks = workspace.chunks(n, hw * geo.groups * geo.k * grad.itemsize)
        direct_w = need_w and self.plan.weight_grad == "direct"
        if direct_w:  # in the direct kernel's weight layout, with its eight lanes apart
            taps = geo.kernel[0] * geo.kernel[1]
            partials = np.zeros((len(chunks), geo.c_out // 4, geo.c_in, taps, 4, 8), dtype=grad.dtype)
        elif need_w:
            partials = np.empty((len(chunks), geo.groups, geo.og, geo.k), dtype=grad.dtype)
        direct = False
        if need_x:
            grad_x = memory.empty((n, geo.c_in, *geo.hw), grad.dtype)
            direct = self.plan.input_grad == "direct"
            if direct:
                transposed = geo.input_gradient()
                packed = direct_conv.pack_weight(weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
            else:
                wmat_t = np.ascontiguousarray(_weight_matrix(weight, geo.groups)).transpose(0, 2, 1)  # (groups, K, og)

        def chunk(index, lo, hi):
            if need_x and direct:
                transposed.direct_into(grad[lo:hi], packed, grad_x[lo:hi])
            if direct_w:
                geo.direct_weight_grad(x[lo:hi], grad[lo:hi], partials[index])
            if not (need_w and not direct_w or need_x and not direct):
                return
            rows = geo.rows(grad[lo:hi], "grad_rows")  # (groups, og, b*hw): serves both products
            if need_w and not direct_w:
                _gemm(rows, geo.columns(x[lo:hi]), out=partials[index])
            if need_x and not direct:
                grad_cols = _gemm(
                    wmat_t, rows, out=workspace.workspace("grad_cols", (geo.groups, geo.k, rows.shape[2]), grad.dtype)
                )
                geo.col2im(grad_cols, grad_x[lo:hi])

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


def _weight_matrix(weight, groups):
    """(C_out, cg, kh, kw) -> (groups, og, kh*kw*cg), columns in the im2col (kh, kw, c) order."""
    c_out, cg, kh, kw = weight.shape
    return (
        weight.reshape(groups, c_out // groups, cg, kh, kw)
        .transpose(0, 1, 3, 4, 2)
        .reshape(groups, c_out // groups, -1)
    )


def _copy_inside(x, xp, padding):
    """Write ``x`` (b, C, H, W) inside the border of ``xp`` (b, C, Hp, Wp), any view of a
    buffer whose border already holds zeros (see ``glassgrad.backend.workspace.bordered``)."""
    (pt, _), (pl, _) = padding
    h, w = x.shape[2], x.shape[3]
    xp[:, :, pt : pt + h, pl : pl + w] = x


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


def _conv_arguments(input, weight, stride, padding, dilation, dims, op):
    """Batched input, stride, ((lo, hi), ...) padding and dilation of a ``dims``-D convolution, checked."""
    x, unbatched = _batched(input, dims + 2, op, "input")
    if not isinstance(weight, Tensor) or weight.ndim != dims + 2:
        kernel = ", ".join(("kh", "kw") if dims == 2 else ("k",))
        raise RuntimeError(
            f"{op}: weight must be a {dims + 2}-D tensor (C_out, C_in/groups, {kernel}), got shape "
            f"{tuple(getattr(weight, 'shape', ()))}"
        )
    stride = _ntuple(stride, dims, "stride", op)
    dilation = _ntuple(dilation, dims, "dilation", op)
    pads = _conv_padding(padding, tuple(weight.shape[2:]), stride, dilation, op)
    return x, unbatched, stride, pads, dilation


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution over (N, C_in, H, W) or unbatched (C_in, H, W) input, as ``torch.nn.functional.conv2d``.

    weight: (C_out, C_in/groups, kh, kw); bias: (C_out,) or None. padding: int, (ph, pw),
    'valid' or 'same' (zeros). Output: (N, C_out, H_out, W_out).
    """
    x, unbatched, stride, pads, dilation = _conv_arguments(input, weight, stride, padding, dilation, 2, "conv2d")
    groups = int(groups)
    _check_conv(x, weight, bias, stride, pads, dilation, groups, "conv2d")
    out = Convolution.apply(x, weight, bias, stride=stride, padding=pads, dilation=dilation, groups=groups)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C_in, L) or unbatched (C_in, L), as ``torch.nn.functional.conv1d``:
    a 2-D convolution with a height of one. weight: (C_out, C_in/groups, k)."""
    x, unbatched, stride, pads, dilation = _conv_arguments(input, weight, stride, padding, dilation, 1, "conv1d")
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
