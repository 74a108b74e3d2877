"""Warps of ``transforms.functional``: rotate, affine, perspective; and the five/ten crops.

PIL images are warped by Pillow (``Image.transform``/``Image.rotate``), as torchvision does.
Tensors and NumPy arrays are resampled like torchvision's tensors: a sampling grid in float32
(pixel centres, normalised to [-1, 1] by the input size), read with nearest or bilinear
interpolation where outside the image is 0 (``grid_sample`` with ``align_corners=False``), then
an optional fill colour blended in through a sampled mask of ones; integer images are rounded.
"""

import math
import numbers

import numpy as np
from PIL import Image

from glassgrad.vision.transforms._color import _is_pil, as_chw


def _mode_name(interpolation):
    name = getattr(interpolation, "value", interpolation)
    if isinstance(name, int):
        name = {0: "nearest", 2: "bilinear", 3: "bicubic"}.get(name, name)
    return name


_PIL_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}


def _pil_resample(interpolation, op):
    name = _mode_name(interpolation)
    if name not in _PIL_RESAMPLE:
        raise ValueError(f"{op}: interpolation {interpolation!r} is not supported; use NEAREST, BILINEAR or BICUBIC")
    return _PIL_RESAMPLE[name]


def _array_mode(interpolation, op):
    name = _mode_name(interpolation)
    if name not in ("nearest", "bilinear"):
        raise ValueError(f"{op}: tensor images support NEAREST and BILINEAR interpolation, got {interpolation!r}")
    return name


def _pil_fill(fill, img):
    bands = len(img.getbands())
    fill = 0 if fill is None else fill
    if isinstance(fill, numbers.Number):
        fill = tuple([fill] * bands) if bands > 1 else fill
    else:
        fill = tuple(fill)
        if len(fill) == 1:
            fill = fill * bands
        if len(fill) != bands:
            raise ValueError(f"fill has {len(fill)} values but the image has {bands} channels")
        if bands == 1:
            fill = fill[0]
    if img.mode != "F":
        fill = tuple(int(x) for x in fill) if isinstance(fill, tuple) else int(fill)
    return fill


def inverse_affine_matrix(center, angle, translate, scale, shear):
    """The 2x3 matrix (flat, 6 floats) mapping output pixels back to input pixels.

    The forward map is T(translate) C(center) R(angle) S(scale) Shear C^-1 with shear ``(sx, sy)``
    in degrees; rotation and shear together have determinant 1, so the inverse is written out.
    """
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    # Rotation times the two shears, without the scale.
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = [v / scale for v in (d, -b, 0.0, -c, a, 0.0)]
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy
    return m


def _linspace32(start, stop, steps):
    return np.linspace(start, stop, steps, dtype=np.float64).astype(np.float32)


def _fma32(a, b, c):
    """float32 ``a * b + c`` rounded once, as the fused multiply-adds of torch's CPU matrix products."""
    return (np.asarray(a, np.float64) * np.asarray(b, np.float64) + np.asarray(c, np.float64)).astype(np.float32)


def _grid_dot(x, y, t0, t1, t2):
    """``x t0 + y t1 + t2`` over the grid in torch's (fused) order, so nearest sampling picks the same pixels."""
    x, y = np.broadcast_arrays(x, y)
    return _fma32(1.0, t2, _fma32(y, t1, x * np.float32(t0)))


def _affine_grid(theta, w, h, ow, oh):
    """(oh, ow, 2) normalised input coordinates of each output pixel centre, for the 2x3 ``theta``."""
    x = _linspace32(-ow * 0.5 + 0.5, ow * 0.5 - 0.5, ow)[None, :]
    y = _linspace32(-oh * 0.5 + 0.5, oh * 0.5 - 0.5, oh)[:, None]
    t = theta.astype(np.float32).T / np.array([0.5 * w, 0.5 * h], np.float32)  # (3, 2)
    return np.stack([_grid_dot(x, y, *t[:, k]) for k in (0, 1)], axis=-1)


def _perspective_grid(coeffs, ow, oh):
    x = _linspace32(0.5, ow - 0.5, ow)[None, :]
    y = _linspace32(0.5, oh - 0.5, oh)[:, None]
    c = np.asarray(coeffs, np.float32)
    t = np.array([[c[0], c[3]], [c[1], c[4]], [c[2], c[5]]], np.float32) / np.array([0.5 * ow, 0.5 * oh], np.float32)
    den = _grid_dot(x, y, c[6], c[7], 1.0)
    return np.stack([_grid_dot(x, y, *t[:, k]) / den - np.float32(1.0) for k in (0, 1)], axis=-1)


def grid_sample(a, grid, mode):
    """Sample the planes of ``a`` (..., C, H, W) at ``grid`` (oh, ow, 2) in [-1, 1]; outside is 0.

    Float32 throughout, with torch's CPU kernel's fused multiply-adds, so that uint8 results
    rounded afterwards agree with torch to the last level.
    """
    h, w = a.shape[-2:]
    one = np.float32(1.0)
    ix = _fma32(grid[..., 0] + one, np.float32(w / 2), -0.5)
    iy = _fma32(grid[..., 1] + one, np.float32(h / 2), -0.5)
    if mode == "nearest":
        xi, yi = np.rint(ix).astype(np.int64), np.rint(iy).astype(np.int64)
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        out = a[..., np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
        return np.where(inside, out, a.dtype.type(0))
    x0, y0 = np.floor(ix), np.floor(iy)
    east, south = ix - x0, iy - y0
    west, north = one - east, one - south
    corners = ((x0, y0, north * west), (x0 + one, y0, north * east), (x0, y0 + one, south * west), (x0 + one, y0 + one, south * east))  # fmt: skip
    out = None
    for cx, cy, weight in corners:
        xi, yi = cx.astype(np.int64), cy.astype(np.int64)
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        values = np.where(inside, a[..., np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)], a.dtype.type(0))
        out = (values * weight).astype(a.dtype) if out is None else _fma32(values, weight, out).astype(a.dtype)
    return out


def _apply_grid(a, grid, mode, fill):
    out_dtype = a.dtype
    f = a.astype(np.float32) if a.dtype.kind != "f" else a
    if fill is not None:
        f = np.concatenate([f, np.ones(f.shape[:-3] + (1,) + f.shape[-2:], f.dtype)], axis=-3)
    out = grid_sample(f, grid, mode)
    if fill is not None:
        mask, out = out[..., -1:, :, :], out[..., :-1, :, :]
        fill_list = list(fill) if isinstance(fill, (list, tuple)) else [float(fill)]
        colour = np.asarray(fill_list, out.dtype).reshape(-1, 1, 1)
        if mode == "nearest":
            out = np.where(mask < 0.5, colour, out)
        else:
            out = out * mask + (np.float32(1.0) - mask) * colour
    if out_dtype.kind != "f":
        out = np.round(out)
    return out.astype(out_dtype)


def _tensor_fill(fill, channels):
    if fill is None:
        return None
    if isinstance(fill, numbers.Number):
        return [float(fill)] * channels
    fill = [float(f) for f in fill]
    if len(fill) not in (1, channels):
        raise ValueError(f"fill has {len(fill)} values but the image has {channels} channels")
    return fill


def affine(img, angle, translate, scale, shear, interpolation="nearest", fill=None, center=None):
    """Rotate by ``angle`` degrees (counter-clockwise), shift by ``translate`` (dx, dy), scale, shear (degrees).

    ``center`` (x, y) in pixels defaults to the image centre. Output size = input size.
    """
    if scale <= 0:
        raise ValueError(f"affine: scale must be positive, got {scale}")
    if len(translate) != 2:
        raise ValueError(f"affine: translate must be (dx, dy), got {translate}")
    shear = [float(shear), 0.0] if isinstance(shear, numbers.Number) else [float(s) for s in shear]
    if len(shear) == 1:
        shear = shear * 2
    if len(shear) != 2:
        raise ValueError(f"affine: shear must be a number or (sx, sy), got {shear}")
    angle = float(angle)
    if _is_pil(img):
        w, h = img.size
        c = [w * 0.5, h * 0.5] if center is None else list(center)
        m = inverse_affine_matrix(c, angle, list(translate), scale, shear)
        resample = _pil_resample(interpolation, "affine")
        return img.transform(img.size, Image.Transform.AFFINE, m, resample, fillcolor=_pil_fill(fill, img))
    a, back = as_chw(img, "affine")
    h, w = a.shape[-2:]
    c = [0.0, 0.0] if center is None else [cc - s * 0.5 for cc, s in zip(center, (w, h))]
    m = inverse_affine_matrix(c, angle, [float(t) for t in translate], scale, shear)
    theta = np.asarray(m, _theta_dtype(a)).reshape(2, 3)
    grid = _affine_grid(theta, w, h, w, h)
    return back(_apply_grid(a, grid, _array_mode(interpolation, "affine"), _tensor_fill(fill, a.shape[-3])))


def _theta_dtype(a):
    return a.dtype if a.dtype.kind == "f" else np.float32


def _expanded_size(m, w, h):
    corners = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0], [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], np.float32)  # fmt: skip
    moved = corners @ np.asarray(m, np.float32).reshape(2, 3).T
    low = moved.min(axis=0) + np.array([w * 0.5, h * 0.5], np.float32)
    high = moved.max(axis=0) + np.array([w * 0.5, h * 0.5], np.float32)
    # Truncated to 1e-4 first, so that a corner at 32.0000001 does not round up to 33 pixels.
    tol = np.float32(1e-4)
    size = np.ceil(np.trunc(high / tol) * tol) - np.floor(np.trunc(low / tol) * tol)
    return int(size[0]), int(size[1])


def rotate(img, angle, interpolation="nearest", expand=False, center=None, fill=None):
    """Rotate by ``angle`` degrees counter-clockwise around ``center`` (x, y; default the centre).

    ``expand=True`` enlarges the output to hold the whole rotated image.
    """
    if not isinstance(angle, numbers.Number):
        raise TypeError(f"rotate: angle must be a number, got {type(angle).__name__}")
    if _is_pil(img):
        resample = _pil_resample(interpolation, "rotate")
        return img.rotate(angle, resample, expand, center, fillcolor=_pil_fill(fill, img))
    a, back = as_chw(img, "rotate")
    h, w = a.shape[-2:]
    c = [0.0, 0.0] if center is None else [cc - s * 0.5 for cc, s in zip(center, (w, h))]
    m = inverse_affine_matrix(c, -float(angle), [0.0, 0.0], 1.0, [0.0, 0.0])
    ow, oh = _expanded_size(m, w, h) if expand else (w, h)
    grid = _affine_grid(np.asarray(m, _theta_dtype(a)).reshape(2, 3), w, h, ow, oh)
    return back(_apply_grid(a, grid, _array_mode(interpolation, "rotate"), _tensor_fill(fill, a.shape[-3])))


def perspective_coeffs(startpoints, endpoints):
    """The 8 coefficients (a..h) of the map from ``endpoints`` back to ``startpoints`` (4 corners each).

    ``(x, y) -> ((a x + b y + c) / (g x + h y + 1), (d x + e y + f) / (g x + h y + 1))``.
    """
    if len(startpoints) != 4 or len(endpoints) != 4:
        raise ValueError(
            f"perspective: give 4 startpoints and 4 endpoints, got {len(startpoints)} and {len(endpoints)}"
        )
    rows = []
    for (ex, ey), (sx, sy) in zip(endpoints, startpoints):
        rows.append([ex, ey, 1, 0, 0, 0, -sx * ex, -sx * ey])
        rows.append([0, 0, 0, ex, ey, 1, -sy * ex, -sy * ey])
    a = np.asarray(rows, np.float64)
    b = np.asarray(startpoints, np.float64).reshape(8)
    solution = np.linalg.lstsq(a, b, rcond=None)[0]
    return [float(v) for v in solution.astype(np.float32)]


def perspective(img, startpoints, endpoints, interpolation="bilinear", fill=None):
    """Warp so that the 4 ``startpoints`` (TL, TR, BR, BL as (x, y)) land on ``endpoints``."""
    coeffs = perspective_coeffs(startpoints, endpoints)
    if _is_pil(img):
        resample = _pil_resample(interpolation, "perspective")
        return img.transform(img.size, Image.Transform.PERSPECTIVE, coeffs, resample, fillcolor=_pil_fill(fill, img))
    a, back = as_chw(img, "perspective")
    h, w = a.shape[-2:]
    grid = _perspective_grid(coeffs, w, h)
    return back(_apply_grid(a, grid, _array_mode(interpolation, "perspective"), _tensor_fill(fill, a.shape[-3])))
