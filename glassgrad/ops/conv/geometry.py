"""A convolution's shapes and the checks of its arguments."""

import numpy as np

from glassgrad.ops.utils import batched, ntuple
from glassgrad.tensor import Tensor


def strided_view(base, shape, strides):
    """A read-only view of the contiguous array ``base`` with the given shape and byte strides.
    Built by np.ndarray, which also checks that it stays inside ``base``; numpy's as_strided
    takes much longer (through __array_interface__), and it is paid per chunk."""
    view = np.ndarray(shape, base.dtype, base, 0, strides)
    view.flags.writeable = False
    return view


class Geometry:
    """The shapes of one convolution (the algorithms' layout steps take it as their first argument)."""

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
        return Geometry((0, self.c_out, *self.out_hw), (self.c_in, self.c_out, kh, kw), (1, 1), pads, self.dilation, 1)


def copy_inside(x, xp, padding):
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
    pads = ntuple(padding, len(kernel), "padding", op)
    if any(p < 0 for p in pads):
        raise ValueError(f"{op}: padding must be non-negative, got {pads}")
    return tuple((p, p) for p in pads)


def check_conv(x, weight, bias, stride, padding, dilation, groups, op):
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


def conv_arguments(input, weight, stride, padding, dilation, dims, op):
    """Batched input, stride, ((lo, hi), ...) padding and dilation of a ``dims``-D convolution, checked."""
    x, unbatched = batched(input, dims + 2, op, "input")
    if not isinstance(weight, Tensor) or weight.ndim != dims + 2:
        kernel = ", ".join(("kh", "kw") if dims == 2 else ("k",))
        raise RuntimeError(
            f"{op}: weight must be a {dims + 2}-D tensor (C_out, C_in/groups, {kernel}), got shape "
            f"{tuple(getattr(weight, 'shape', ()))}"
        )
    stride = ntuple(stride, dims, "stride", op)
    dilation = ntuple(dilation, dims, "dilation", op)
    pads = _conv_padding(padding, tuple(weight.shape[2:]), stride, dilation, op)
    return x, unbatched, stride, pads, dilation
