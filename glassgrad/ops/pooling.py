"""Pooling: max and average over windows, fixed and adaptive.

Max pooling runs in glassgrad.backend (one compiled pass per plane, or the NumPy reference),
which keeps, per output element, the offset of the first maximum in row-major window order,
as PyTorch's kernel does (a NaN wins, the last one when several); backward sends each
gradient to that element only. Average pooling loops over the kh*kw offsets inside a window,
never over windows or pixels: offset (i, j) of all windows is one strided view of the (padded)
input, ``x[..., i*d :: s, j*d :: s]`` (``numpy_kernels.window_views``)."""

import numpy as np

from glassgrad import backend
from glassgrad.autograd.function import Function
from glassgrad.backend import numpy_kernels
from glassgrad.ops.utils import batched, ntuple
from glassgrad.tensor import Tensor


def _out_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output length, including the ceil_mode rule that the last window
    must start inside the input or its left padding."""
    numerator = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = numerator // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _geometry(x_shape, kernel, stride, padding, dilation, ceil_mode, op, max_pad):
    h, w = x_shape[-2:]
    for name, value in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        if any(v < 1 for v in value):
            raise ValueError(f"{op}: {name} must be positive, got {value}")
    for p, k, d in zip(padding, kernel, dilation):
        limit = max_pad(k, d)
        if p < 0 or p > limit:
            raise ValueError(
                f"{op}: padding {tuple(padding)} must be between 0 and half the kernel "
                f"(at most {limit} for kernel {tuple(kernel)}, dilation {tuple(dilation)}); use a larger kernel or less padding"
            )
    out = tuple(_out_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip((h, w), kernel, stride, padding, dilation))
    if min(out) < 1:
        raise RuntimeError(
            f"{op}: input of shape {tuple(x_shape)} is too small for kernel {tuple(kernel)} "
            f"(stride {tuple(stride)}, padding {tuple(padding)}, dilation {tuple(dilation)}): the output "
            f"would be {out[0]}x{out[1]}; use a smaller kernel, padding, or ceil_mode=True"
        )
    return out


class MaxPool2DWithIndices(Function):
    """Max pooling. Input (N, C, H, W) -> output (N, C, H_out, W_out); ``self.offsets`` holds,
    per output element, the row-major offset i*kw + j of the chosen element in its window."""

    def forward(self, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=False, indices=False):
        out_hw = _geometry(x.shape, kernel, stride, padding, dilation, ceil_mode, "max_pool2d", _max_pad)
        if kernel == stride == (2, 2) and padding == (0, 0) and dilation == (1, 1) and x.dtype.kind == "f":
            if out_hw == (x.shape[-2] // 2, x.shape[-1] // 2):
                # MaxPool2d(2), the common case: values and offsets in one compiled pass, same
                # offsets and NaN rule as below (glassgrad.backend; figures in benchmarks/README.md).
                out, offsets = backend.max_pool2d_2x2(x)
                self.geometry = (x.shape, out_hw, kernel, stride, padding, dilation)
                if self.needs_input_grad[0] or indices:
                    self.offsets, self.tiled_2x2 = offsets, True
                return out
        self.geometry = (x.shape, out_hw, kernel, stride, padding, dilation)
        keep = self.needs_input_grad[0] or indices
        out, offsets = backend.max_pool2d(x, out_hw, kernel, stride, padding, dilation, offsets=keep)
        if keep:
            self.offsets = offsets
        return out

    def backward(self, grad):
        x_shape, out_hw, kernel, stride, padding, dilation = self.geometry
        if getattr(self, "tiled_2x2", False):
            return backend.max_pool2d_2x2_backward(grad, self.offsets, x_shape)
        return backend.max_pool2d_backward(grad, self.offsets, x_shape, kernel, stride, padding, dilation)

    def flat_indices(self):
        """PyTorch's indices: the position of each chosen element in its flattened H*W plane."""
        x_shape, (ho, wo), (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.geometry
        offsets = self.offsets.astype(np.int64)
        rows = np.arange(ho)[:, None] * sh - ph + (offsets // kw) * dh
        cols = np.arange(wo)[None, :] * sw - pw + (offsets % kw) * dw
        return rows * x_shape[-1] + cols


def _max_pad(k, d):
    return (d * (k - 1) + 1) // 2


def _avg_pad(k, d):
    return k // 2


class AvgPool2D(Function):
    """Average pooling with zero padding. Input (N, C, H, W) -> output (N, C, H_out, W_out).
    The divisor per output element follows PyTorch: the window clipped to the padded input
    (count_include_pad=True) or to the input itself (False), unless divisor_override is given."""

    def forward(
        self,
        x,
        kernel=(2, 2),
        stride=(2, 2),
        padding=(0, 0),
        ceil_mode=False,
        count_include_pad=True,
        divisor_override=None,
    ):
        h, w = x.shape[-2:]
        ones = (1, 1)
        out_hw = _geometry(x.shape, kernel, stride, padding, ones, ceil_mode, "avg_pool2d", _avg_pad)
        xp = numpy_kernels.padded_to_windows(x, out_hw, kernel, stride, padding, ones, 0)
        views = numpy_kernels.window_views(xp, out_hw, kernel, stride, ones)
        # Summed in row-major window order, as PyTorch's kernel does, so float32 rounding agrees.
        out = views[0].copy()
        for view in views[1:]:
            out += view
        if divisor_override is not None:
            divisor = np.asarray(divisor_override, dtype=x.dtype)
        else:
            divisor = _divisor(out_hw, (h, w), kernel, stride, padding, count_include_pad).astype(x.dtype)
        out /= divisor
        self.geometry = (x.shape, xp.shape, out_hw, kernel, stride, padding)
        self.divisor = divisor
        return out

    def backward(self, grad):
        x_shape, xp_shape, out_hw, kernel, stride, padding = self.geometry
        share = grad / self.divisor
        grad_xp = np.zeros(xp_shape, dtype=grad.dtype)
        views = numpy_kernels.window_views(grad_xp, out_hw, kernel, stride, (1, 1))
        add = numpy_kernels.windows_overlap(kernel, stride, (1, 1))
        for view in views:
            if add:
                view += share
            else:
                view[...] = share
        return numpy_kernels.unpad_windows(grad_xp, x_shape, padding)


def _divisor(out_hw, hw, kernel, stride, padding, count_include_pad):
    """(H_out, W_out) window sizes: each axis' length, multiplied (windows are rectangles)."""
    lengths = []
    for o, n, k, s, p in zip(out_hw, hw, kernel, stride, padding):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if count_include_pad:
            lengths.append(end - start)
        else:
            lengths.append(np.minimum(end, n) - np.maximum(start, 0))
    return lengths[0][:, None] * lengths[1][None, :]


def _adaptive_bounds(size, out):
    """PyTorch's adaptive windows along one axis: [floor(o*size/out), ceil((o+1)*size/out))."""
    o = np.arange(out)
    start = (o * size) // out
    end = -((-(o + 1) * size) // out)
    return start, end


def _averaging_matrix(size, out, dtype):
    """(out, size) matrix whose row o averages window o; adaptive average pooling is
    P_h @ x @ P_w.T because each window is a rectangle."""
    start, end = _adaptive_bounds(size, out)
    positions = np.arange(size)
    inside = (positions[None, :] >= start[:, None]) & (positions[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class AdaptiveAvgPool2D(Function):
    """Adaptive average pooling for windows that do not tile the input (the tiling case goes
    through AvgPool2D). Input (N, C, H, W) -> (N, C, H_out, W_out)."""

    def forward(self, x, output_size=(1, 1)):
        ph = _averaging_matrix(x.shape[-2], output_size[0], x.dtype)
        pw = _averaging_matrix(x.shape[-1], output_size[1], x.dtype)
        self.matrices = (ph, pw)
        return np.matmul(ph, np.matmul(x, pw.T))

    def backward(self, grad):
        ph, pw = self.matrices
        return np.matmul(ph.T, np.matmul(grad, pw))


class AdaptiveMaxPool2D(Function):
    """Adaptive max pooling for windows that do not tile the input. Each offset of the largest
    window gathers one element per window (offsets past a shorter window repeat its last
    element, which can never beat the first occurrence of the maximum)."""

    def forward(self, x, output_size=(1, 1)):
        h, w = x.shape[-2:]
        (sh, eh), (sw, ew) = _adaptive_bounds(h, output_size[0]), _adaptive_bounds(w, output_size[1])
        out = best = None
        for i in range(int((eh - sh).max())):
            rows = np.minimum(sh + i, eh - 1)
            for j in range(int((ew - sw).max())):
                cols = np.minimum(sw + j, ew - 1)
                view = x[..., rows[:, None], cols[None, :]]
                flat = np.broadcast_to(rows[:, None] * w + cols[None, :], view.shape)
                if out is None:
                    out, best = view.copy(), flat.copy()
                    continue
                better = (view > out) | np.isnan(view) if x.dtype.kind == "f" else view > out
                np.copyto(out, view, where=better)
                np.copyto(best, flat, where=better)
        self.x_shape = x.shape
        self.indices = best
        return out

    def backward(self, grad):
        h, w = self.x_shape[-2:]
        planes = int(np.prod(self.x_shape[:-2]))
        grad_x = np.zeros((planes, h * w), dtype=grad.dtype)
        rows = np.arange(planes)[:, None]
        # Windows may overlap (and repeat when upsampling): add.at sums repeated targets.
        per_plane = self.indices.shape[-2] * self.indices.shape[-1]
        np.add.at(grad_x, (rows, self.indices.reshape(planes, per_plane)), grad.reshape(planes, per_plane))
        return grad_x.reshape(self.x_shape)

    def flat_indices(self):
        return self.indices.astype(np.int64)


def _pool_args(kernel_size, stride, padding, dilation, op):
    kernel = ntuple(kernel_size, 2, "kernel_size", op)
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        stride = kernel
    return (
        kernel,
        ntuple(stride, 2, "stride", op),
        ntuple(padding, 2, "padding", op),
        ntuple(dilation, 2, "dilation", op),
    )


def _pool_input(input, op, floating=True):
    x, unbatched = batched(input, 4, op, "input")
    if floating and not x.is_floating_point():
        raise TypeError(f"{op}: the input must be a floating-point tensor, got {x.dtype}; use .float()")
    return x, unbatched


def _indices_tensor(node, unbatched):
    indices = Tensor._wrap(node.flat_indices())
    return indices.squeeze(0) if unbatched else indices


def _adaptive_size(output_size, x, op):
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size, output_size)
    output_size = tuple(output_size)
    if len(output_size) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size}")
    size = tuple(int(n) if o is None else int(o) for o, n in zip(output_size, x.shape[-2:]))
    if min(size) < 1:
        raise ValueError(f"{op}: output_size must be positive, got {output_size}")
    if min(x.shape[-2:]) < 1:
        raise RuntimeError(f"{op}: input of shape {tuple(x.shape)} has an empty spatial dimension")
    return size
