"""Spatial transformers: ``affine_grid`` builds sampling points from affine matrices and
``grid_sample`` reads an image at them (bilinear or nearest), 2-D, as PyTorch's.

Coordinates are normalised: -1 and 1 are the image's edges (``align_corners=False``: the outer
edges of the corner pixels; ``True``: the corner pixels' centres).
"""

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.ops.linalg import matmul
from glassgrad.ops.registry import Arg, OpInfo, Sample, register
from glassgrad.tensor import Tensor

_MODES = ("bilinear", "nearest")
_PADDING = ("zeros", "border")


def _unnormalize(coord, size, align_corners):
    """Normalised [-1, 1] -> pixel index, and d(index)/d(coord)."""
    if align_corners:
        return (coord + 1) * ((size - 1) / 2), (size - 1) / 2
    return ((coord + 1) * size - 1) / 2, size / 2


class GridSample(Function):
    def forward(self, image, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
        n, c, h, w = image.shape
        ix, sx = _unnormalize(grid[..., 0], w, align_corners)  # (N, Ho, Wo)
        iy, sy = _unnormalize(grid[..., 1], h, align_corners)
        if padding_mode == "border":
            # The gradient to the grid stops where the point was clamped to the border.
            sx = sx * ((ix > 0) & (ix < w - 1))
            sy = sy * ((iy > 0) & (iy < h - 1))
            ix, iy = np.clip(ix, 0, w - 1), np.clip(iy, 0, h - 1)
        self.shape, self.mode = image.shape, mode
        batch = np.arange(n)[:, None, None]
        if mode == "nearest":
            x, y = np.rint(ix).astype(np.int64), np.rint(iy).astype(np.int64)
            self.corners = [(x, y, np.ones_like(ix))]
        else:
            x0, y0 = np.floor(ix).astype(np.int64), np.floor(iy).astype(np.int64)
            fx, fy = ix - x0, iy - y0
            self.fx, self.fy, self.sx, self.sy = fx, fy, sx, sy
            self.corners = [
                (x0, y0, (1 - fx) * (1 - fy)),
                (x0 + 1, y0, fx * (1 - fy)),
                (x0, y0 + 1, (1 - fx) * fy),
                (x0 + 1, y0 + 1, fx * fy),
            ]
        out = np.zeros((n, c) + ix.shape[1:], dtype=image.dtype)
        self.values = []
        for x, y, weight in self.corners:
            inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            xc, yc = np.clip(x, 0, w - 1), np.clip(y, 0, h - 1)
            value = image[batch, :, yc, xc] * inside[..., None]  # (N, Ho, Wo, C)
            value = np.moveaxis(value, -1, 1)  # (N, C, Ho, Wo)
            self.values.append((xc, yc, inside, value))
            out += weight[:, None] * value
        return out

    def backward(self, grad):
        n, c, h, w = self.shape
        batch = np.arange(n)[:, None, None]
        grad_image = None
        if self.needs_input_grad[0]:
            grad_image = np.zeros(self.shape, dtype=grad.dtype)
            for (_, _, weight), (xc, yc, inside, _) in zip(self.corners, self.values):
                contribution = np.moveaxis(grad * (weight * inside)[:, None], 1, -1)  # (N, Ho, Wo, C)
                np.add.at(grad_image, (batch, slice(None), yc, xc), contribution)
        grad_grid = None
        if self.needs_input_grad[1]:
            grad_grid = np.zeros(grad.shape[:1] + grad.shape[2:] + (2,), dtype=grad.dtype)
            if self.mode == "bilinear":
                v00, v10, v01, v11 = (value for *_, value in self.values)
                fx, fy = self.fx[:, None], self.fy[:, None]
                d_x = (v10 - v00) * (1 - fy) + (v11 - v01) * fy
                d_y = (v01 - v00) * (1 - fx) + (v11 - v10) * fx
                grad_grid[..., 0] = (grad * d_x).sum(axis=1) * self.sx
                grad_grid[..., 1] = (grad * d_y).sum(axis=1) * self.sy
        return grad_image, grad_grid


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample input (N, C, H, W) at grid (N, Ho, Wo, 2) of normalised (x, y) -> (N, C, Ho, Wo).

    Points outside read 0 (``padding_mode='zeros'``) or the nearest edge pixel ('border').
    """
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise RuntimeError(
            f"grid_sample: expected input (N, C, H, W) and grid (N, H_out, W_out, 2), but got shapes "
            f"{tuple(input.shape)} and {tuple(grid.shape)} (only the 2-D form is supported)"
        )
    if mode not in _MODES:
        raise ValueError(f"grid_sample: mode={mode!r} is not supported; use one of {_MODES}")
    if padding_mode not in _PADDING:
        raise ValueError(f"grid_sample: padding_mode={padding_mode!r} is not supported; use one of {_PADDING}")
    if grid.array.dtype != input.array.dtype:
        raise RuntimeError(f"grid_sample: input is {input.dtype} but grid is {grid.dtype}; they must match")
    return GridSample.apply(input, grid, mode=mode, padding_mode=padding_mode, align_corners=bool(align_corners))


def affine_grid(theta, size, align_corners=None):
    """Sampling points of the affine maps theta (N, 2, 3) over an image of size (N, C, H, W): (N, H, W, 2)."""
    size = tuple(size)
    if len(size) != 4 or theta.ndim != 3 or tuple(theta.shape[1:]) != (2, 3) or theta.shape[0] != size[0]:
        raise ValueError(
            f"affine_grid: expected theta (N, 2, 3) and size (N, C, H, W), but got theta of shape "
            f"{tuple(theta.shape)} and size {size} (only the 2-D form is supported)"
        )
    h, w = size[2], size[3]

    def line(k):
        if align_corners:
            return np.linspace(-1.0, 1.0, k) if k > 1 else np.zeros(1)
        return (np.arange(k) * 2 + 1) / k - 1

    xs, ys = np.meshgrid(line(w), line(h))  # (H, W) each
    base = np.stack([xs, ys, np.ones_like(xs)], axis=-1).reshape(1, h * w, 3).astype(theta.array.dtype)
    points = matmul(Tensor._wrap(base), theta.transpose(1, 2))  # (N, H*W, 2)
    return points.reshape(size[0], h, w, 2)


_GRID = np.random.default_rng(7).uniform(-1.15, 1.15, (2, 3, 4, 2))

register(
    OpInfo(
        "grid_sample",
        grid_sample,
        [
            Sample((2, 3, 5, 4), _GRID, align_corners=False),
            Sample((2, 3, 5, 4), _GRID, align_corners=True),
            Sample((2, 1, 4, 6), _GRID, padding_mode="border", align_corners=False),
            Sample((2, 2, 5, 4), _GRID, mode="nearest", align_corners=False).skip_torch_backward(
                "nearest: no gradient to the grid"
            ),
        ],
        methods=(),
        aliases=(),
        torch="nn.functional.grid_sample",
        float32_tolerance=(1e-5, 1e-5),
    ),
    OpInfo(
        "affine_grid",
        affine_grid,
        [
            Sample((2, 2, 3), Arg((2, 3, 4, 5)), align_corners=False),
            Sample((1, 2, 3), Arg((1, 1, 3, 3)), align_corners=True),
        ],
        methods=(),
        aliases=(),
        torch="nn.functional.affine_grid",
    ),
)
