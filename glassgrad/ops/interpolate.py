"""Resizing (``F.interpolate``) as products with small interpolation matrices.

Every mode PyTorch offers is separable: along each spatial axis, output position ``o``
is a fixed weighted sum of a few input positions. Writing those weights as a matrix
A (out x in) per axis, resizing is ``x @ A^T`` along each axis and its gradient is
``g @ A`` along each axis: exact, vectorised, and the same code for every mode.
The source coordinates follow ATen's formulas (``area_pixel_compute_source_index``).
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


def interpolation_matrix(in_size, out_size, mode, align_corners, scale_factor, dtype):
    """The (out_size, in_size) matrix of one axis; coordinates in ``dtype`` as ATen computes them."""
    ft = np.float32 if mode in ("nearest", "nearest-exact") else np.dtype(dtype).type
    dst = np.arange(out_size, dtype=ft)
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.arange(out_size)
    if mode in ("nearest", "nearest-exact"):
        scale = ft(1.0 / scale_factor if scale_factor else in_size / out_size)
        offset = ft(0.5) if mode == "nearest-exact" else ft(0.0)
        src = np.minimum(np.floor((dst + offset) * scale).astype(np.int64), in_size - 1)
        matrix[rows, src] = 1.0
    elif mode == "area":
        start = (rows * in_size) // out_size
        end = -((-(rows + 1) * in_size) // out_size)
        cols = np.arange(in_size)
        inside = (cols[None, :] >= start[:, None]) & (cols[None, :] < end[:, None])
        matrix = inside / (end - start)[:, None]
    else:
        scale = ft(_source_scale(in_size, out_size, align_corners, scale_factor))
        src = dst * scale if align_corners else scale * (dst + ft(0.5)) - ft(0.5)
        if mode == "bicubic":
            base = np.floor(src)
            t = (src - base).astype(np.float64)
            base = base.astype(np.int64)
            for k, weight in enumerate(_cubic_weights(t)):
                np.add.at(matrix, (rows, np.clip(base - 1 + k, 0, in_size - 1)), weight)
        else:
            src = np.maximum(src, 0) if not align_corners else src
            low = src.astype(np.int64)
            lam = (src - low).astype(np.float64)
            high = np.where(low < in_size - 1, low + 1, low)
            np.add.at(matrix, (rows, low), 1 - lam)
            np.add.at(matrix, (rows, high), lam)
    return matrix.astype(dtype)


class Resize(Function):
    """input: (N, C, *spatial). ``matrices``: one (out_d, in_d) matrix per spatial axis.
    Output: (N, C, *out)."""

    def forward(self, x, matrices=()):
        self.matrices = matrices
        out = x
        for axis, a in enumerate(matrices, start=2):
            out = np.moveaxis(np.moveaxis(out, axis, -1) @ np.ascontiguousarray(a.T), -1, axis)
        return np.ascontiguousarray(out)

    def backward(self, grad):
        for axis, a in enumerate(self.matrices, start=2):
            grad = np.moveaxis(np.moveaxis(grad, axis, -1) @ a, -1, axis)
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
