"""Resizing (``F.interpolate``), one spatial axis at a time.

Every mode PyTorch offers is separable: along each spatial axis, output position ``o``
is a fixed weighted sum of a few input positions (1 for nearest, 2 for linear, 4 for
bicubic, a window for area). Those "taps" are computed once from the sizes, with the
source coordinates of ATen's formulas (``area_pixel_compute_source_index``); the
forward pass gathers and weighs, the backward pass sums the same weights back.
"""

import math

import numpy as np

from glassgrad.autograd.function import Function

CUBIC_A = -0.75


def _source_scale(in_size, out_size, align_corners, scale_factor):
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    return 1.0 / scale_factor if scale_factor else in_size / out_size


def _cubic_weights(t):
    """Keys' cubic convolution weights (a = -0.75) of the 4 taps around a fractional offset t."""
    a = CUBIC_A

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return (far(t + 1), near(t), near(1 - t), far(2 - t))


def interpolation_taps(in_size, out_size, mode, align_corners, scale_factor, dtype):
    """One axis as taps: a list of (source index (out,), weight (out,) or None) whose weighted
    sum gives each output position; coordinates computed in the dtype ATen uses."""
    ft = np.float32 if mode in ("nearest", "nearest-exact") else np.dtype(dtype).type
    dst = np.arange(out_size, dtype=ft)
    if mode in ("nearest", "nearest-exact"):
        scale = ft(1.0 / scale_factor if scale_factor else in_size / out_size)
        offset = ft(0.5) if mode == "nearest-exact" else ft(0.0)
        return [(np.minimum(np.floor((dst + offset) * scale).astype(np.int64), in_size - 1), None)]
    scale = ft(_source_scale(in_size, out_size, align_corners, scale_factor))
    src = dst * scale if align_corners else scale * (dst + ft(0.5)) - ft(0.5)
    if mode == "bicubic":
        base = np.floor(src)
        t = src - base
        base = base.astype(np.int64)
        return [(np.clip(base - 1 + k, 0, in_size - 1), w.astype(dtype)) for k, w in enumerate(_cubic_weights(t))]
    src = np.maximum(src, 0) if not align_corners else src
    low = src.astype(np.int64)
    lam = (src - low).astype(dtype)
    high = np.where(low < in_size - 1, low + 1, low)
    return [(low, 1 - lam), (high, lam)]


def area_matrix(in_size, out_size, dtype):
    """Adaptive average pooling of one axis as an (out_size, in_size) matrix."""
    rows = np.arange(out_size)
    start = (rows * in_size) // out_size
    end = -((-(rows + 1) * in_size) // out_size)
    cols = np.arange(in_size)
    inside = (cols[None, :] >= start[:, None]) & (cols[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def interpolation_matrix(in_size, out_size, mode, align_corners, scale_factor, dtype):
    """The (out_size, in_size) matrix of one axis (taps written densely), for inspection and tests."""
    if mode == "area":
        return area_matrix(in_size, out_size, dtype)
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.arange(out_size)
    for index, weight in interpolation_taps(in_size, out_size, mode, align_corners, scale_factor, dtype):
        np.add.at(matrix, (rows, index), 1.0 if weight is None else weight)
    return matrix.astype(dtype)


def padding_taps(size, before, after, mode):
    """Taps of one axis padded by ``before``/``after`` with 'reflect', 'replicate' or 'circular'."""
    src = np.arange(-before, size + after)
    if mode == "reflect":
        src = np.abs(src)
        src = np.where(src > size - 1, 2 * (size - 1) - src, src)
    elif mode == "replicate":
        src = np.clip(src, 0, size - 1)
    else:
        src = src % size
    return [(src.astype(np.int64), None)]


def _along(values, axis, ndim):
    shape = [1] * ndim
    shape[axis] = -1
    return values.reshape(shape)


class Resize(Function):
    """input: (*, *spatial); ``plans``: for each of the last len(plans) axes, ("taps", taps)
    or ("matrix", A). Output: (*, *out).

    Taps gather the few source positions of each output (``np.take``); their gradient
    sums each tap's contributions back with ``np.add.reduceat`` over the positions
    sorted by source. Area mode is a matrix. Padding modes (reflect, replicate,
    circular) are taps too: one source per output position.
    """

    def forward(self, x, plans=()):
        self.plans, self.in_shapes = plans, []
        self.first_axis = x.ndim - len(plans)
        out = x
        for axis, (kind, plan) in enumerate(plans, start=self.first_axis):
            self.in_shapes.append(out.shape)
            if kind == "matrix":
                out = np.moveaxis(np.moveaxis(out, axis, -1) @ np.ascontiguousarray(plan.T), -1, axis)
                continue
            total = None
            for index, weight in plan:
                picked = np.take(out, index, axis=axis)
                if weight is not None:
                    picked = picked * _along(weight, axis, out.ndim)
                total = picked if total is None else total + picked
            out = total
        return np.ascontiguousarray(out)

    def backward(self, grad):
        axes = range(self.first_axis, self.first_axis + len(self.plans))
        for axis, (kind, plan), in_shape in reversed(list(zip(axes, self.plans, self.in_shapes))):
            if kind == "matrix":
                grad = np.moveaxis(np.moveaxis(grad, axis, -1) @ plan, -1, axis)
                continue
            result = np.zeros(in_shape, dtype=grad.dtype)
            for index, weight in plan:
                g = grad if weight is None else grad * _along(weight, axis, grad.ndim)
                if np.any(index[1:] < index[:-1]):
                    order = np.argsort(index, kind="stable")
                    index, g = index[order], np.take(g, order, axis=axis)
                targets, starts = np.unique(index, return_index=True)
                sums = np.add.reduceat(g, starts, axis=axis)
                where = [slice(None)] * grad.ndim
                where[axis] = targets
                result[tuple(where)] += sums
            grad = result
        return np.ascontiguousarray(grad)


def output_size(in_sizes, size, scale_factor):
    """The spatial output size from ``size`` or ``scale_factor`` (floor of in * factor)."""
    n = len(in_sizes)
    if size is not None:
        sizes = (size,) * n if isinstance(size, int) else tuple(size)
        if len(sizes) != n:
            raise ValueError(f"interpolate: size {size} must give one size per spatial dimension ({n})")
        return tuple(int(s) for s in sizes), (None,) * n
    factors = (scale_factor,) * n if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    if len(factors) != n:
        raise ValueError(f"interpolate: scale_factor {scale_factor} must give one factor per spatial dimension ({n})")
    return tuple(int(math.floor(s * f)) for s, f in zip(in_sizes, factors)), tuple(float(f) for f in factors)
