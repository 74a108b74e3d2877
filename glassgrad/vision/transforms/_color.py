"""Colour operations of ``transforms.functional``: brightness, contrast, saturation, hue, sharpness,
blur, autocontrast, equalize, posterize, solarize, invert, erase, dtype conversion.

PIL images go through Pillow (``ImageEnhance``/``ImageOps``), as torchvision does. Tensors
(..., C, H, W) and NumPy HWC arrays follow torchvision's tensor arithmetic step by step: integer
images are computed in float32 and truncated (or rounded, for convolutions) back to their dtype,
so uint8 results equal torchvision's bit for bit.
"""

import numbers

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from glassgrad._dtype import to_dtype
from glassgrad.autograd.graph import increment_version
from glassgrad.tensor import Tensor


def _is_pil(img):
    return isinstance(img, Image.Image)


def as_chw(img, op):
    """``(array (..., C, H, W), back)``: ``back`` turns a result of that layout into ``img``'s kind."""
    if isinstance(img, Tensor):
        if img.ndim < 3:
            raise TypeError(f"{op}: a tensor image needs 3 or more dimensions (..., C, H, W), got {tuple(img.shape)}")
        return img.array, Tensor._wrap
    if isinstance(img, np.ndarray):
        if img.ndim == 2:
            return img[None], lambda r: np.ascontiguousarray(r[0])
        if img.ndim == 3:
            return img.transpose(2, 0, 1), lambda r: np.ascontiguousarray(r.transpose(1, 2, 0))
        raise ValueError(f"{op}: an array image must be HW or HWC, got shape {img.shape}")
    raise TypeError(
        f"{op}: expected a PIL image, a NumPy HWC array or a Tensor (..., C, H, W), got {type(img).__name__}"
    )


def max_value(dtype):
    """The value of a fully lit pixel: 1 for floats, the largest integer otherwise."""
    dtype = np.dtype(dtype)
    return 1.0 if dtype.kind == "f" else int(np.iinfo(dtype).max)


def _channels(a, op, allowed=(1, 3)):
    if a.shape[-3] not in allowed:
        raise TypeError(f"{op}: the image has {a.shape[-3]} channels; expected one of {list(allowed)}")
    return a.shape[-3]


def _work_dtype(a):
    return a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)


def blend(a, b, ratio):
    """``ratio * a + (1 - ratio) * b`` clamped to the image range, in ``a``'s dtype (truncating integers)."""
    wt = _work_dtype(a)
    ratio = float(ratio)
    out = wt.type(ratio) * a.astype(wt, copy=False) + wt.type(1.0 - ratio) * np.asarray(b).astype(wt, copy=False)
    np.clip(out, 0, max_value(a.dtype), out=out)
    return out.astype(a.dtype)


def luma(a):
    """ITU-R 601-2 grey (..., 1, H, W) in ``a``'s dtype, computed as torchvision's tensors do (truncated)."""
    r, g, b = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    wt = _work_dtype(a)
    grey = wt.type(0.2989) * r.astype(wt) + wt.type(0.587) * g.astype(wt) + wt.type(0.114) * b.astype(wt)
    return grey.astype(a.dtype)[..., None, :, :]


def _check_factor(value, name, op):
    if value < 0:
        raise ValueError(f"{op}: {name} ({value}) must be non-negative")


def adjust_brightness(img, brightness_factor):
    """Scale every pixel by ``brightness_factor`` (0 gives black, 1 the original)."""
    _check_factor(brightness_factor, "brightness_factor", "adjust_brightness")
    if _is_pil(img):
        return ImageEnhance.Brightness(img).enhance(brightness_factor)
    a, back = as_chw(img, "adjust_brightness")
    _channels(a, "adjust_brightness")
    return back(blend(a, np.zeros((), a.dtype), brightness_factor))


def adjust_contrast(img, contrast_factor):
    """Blend with the mean grey level (0 gives a flat grey image, 1 the original)."""
    _check_factor(contrast_factor, "contrast_factor", "adjust_contrast")
    if _is_pil(img):
        return ImageEnhance.Contrast(img).enhance(contrast_factor)
    a, back = as_chw(img, "adjust_contrast")
    grey = luma(a) if _channels(a, "adjust_contrast") == 3 else a
    wt = _work_dtype(a)
    # Integer sums are exact in float64; torch's float32 mean of small uint8 images is the same number.
    mean = np.mean(grey.astype(np.float64 if a.dtype.kind != "f" else wt), axis=(-3, -2, -1), keepdims=True)
    return back(blend(a, mean.astype(wt), contrast_factor))


def adjust_saturation(img, saturation_factor):
    """Blend with the grey image (0 gives grey, 1 the original, 2 doubles the saturation)."""
    _check_factor(saturation_factor, "saturation_factor", "adjust_saturation")
    if _is_pil(img):
        return ImageEnhance.Color(img).enhance(saturation_factor)
    a, back = as_chw(img, "adjust_saturation")
    if _channels(a, "adjust_saturation") == 1:
        return img
    return back(blend(a, luma(a), saturation_factor))


def rgb_to_hsv(a):
    """HSV (..., 3, H, W) of a float RGB image in [0, 1]; hue in [0, 1)."""
    r, g, b = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    maxc, minc = a.max(axis=-3), a.min(axis=-3)
    flat = maxc == minc
    span = maxc - minc
    one = np.ones_like(maxc)
    s = span / np.where(flat, one, maxc)
    safe = np.where(flat, one, span)
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    # Which channel holds the maximum decides the hue's sextant; ties go to red, then green.
    h = np.where(maxc == r, bc - gc, 0).astype(a.dtype)
    h = h + np.where((maxc == g) & (maxc != r), 2.0 + rc - bc, 0).astype(a.dtype)
    h = h + np.where((maxc != g) & (maxc != r), 4.0 + gc - rc, 0).astype(a.dtype)
    h = np.fmod(h / a.dtype.type(6.0) + a.dtype.type(1.0), a.dtype.type(1.0))
    return np.stack((h, s, maxc), axis=-3)


def hsv_to_rgb(a):
    """RGB (..., 3, H, W) in [0, 1] of an HSV image with hue in [0, 1)."""
    h, s, v = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    one = a.dtype.type(1.0)
    sector = np.floor(h * a.dtype.type(6.0))
    f = h * a.dtype.type(6.0) - sector
    sector = sector.astype(np.int32) % 6
    p = np.clip(v * (one - s), 0, 1)
    q = np.clip(v * (one - s * f), 0, 1)
    t = np.clip(v * (one - s * (one - f)), 0, 1)
    table = np.stack(
        [np.stack(c, axis=0) for c in ((v, q, p, p, t, v), (t, v, v, q, p, p), (p, p, t, v, v, q))], axis=0
    )  # (3 outputs, 6 sectors, ..., H, W)
    picked = np.take_along_axis(table, sector[None, None], axis=1)[:, 0]
    return np.moveaxis(picked, 0, -3)


def adjust_hue(img, hue_factor):
    """Rotate the hue by ``hue_factor`` of a turn, in [-0.5, 0.5]; grey images are returned unchanged."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"adjust_hue: hue_factor ({hue_factor}) must be in [-0.5, 0.5]")
    if _is_pil(img):
        if img.mode in ("L", "1", "I", "F"):
            return img
        h, s, v = img.convert("HSV").split()
        # uint8 addition wraps around, which is what turning the hue circle means here.
        shifted = np.asarray(h, dtype=np.uint8) + np.uint8(np.int32(hue_factor * 255) & 0xFF)
        return Image.merge("HSV", (Image.fromarray(shifted, "L"), s, v)).convert(img.mode)
    a, back = as_chw(img, "adjust_hue")
    if _channels(a, "adjust_hue") == 1:
        return img
    f = convert_array_dtype(a, np.float32)
    hsv = rgb_to_hsv(f)
    hsv[..., 0, :, :] = np.mod(hsv[..., 0, :, :] + np.float32(hue_factor), np.float32(1.0))
    return back(convert_array_dtype(hsv_to_rgb(hsv), a.dtype))


def adjust_gamma(img, gamma, gain=1):
    """``gain * img ** gamma`` on intensities in [0, 1]."""
    if gamma < 0:
        raise ValueError(f"adjust_gamma: gamma ({gamma}) must be non-negative")
    if _is_pil(img):
        mode = img.mode
        rgb = img.convert("RGB") if mode != "RGB" and mode != "L" else img
        lut = [int((255 + 1 - 1e-3) * gain * pow(ele / 255.0, gamma)) for ele in range(256)] * len(rgb.getbands())
        return rgb.point(lut).convert(mode)
    a, back = as_chw(img, "adjust_gamma")
    f = convert_array_dtype(a, np.float32) if a.dtype.kind != "f" else a
    out = np.clip(f.dtype.type(gain) * np.power(f, f.dtype.type(gamma)), 0, 1)
    return back(convert_array_dtype(out, a.dtype))


def _depthwise_valid(a, kernel):
    """Correlate every (H, W) plane of ``a`` with ``kernel`` (kh, kw), no padding: a sum of shifted slices."""
    kh, kw = kernel.shape
    h, w = a.shape[-2] - kh + 1, a.shape[-1] - kw + 1
    out = np.zeros(a.shape[:-2] + (h, w), np.float64)
    for i in range(kh):
        for j in range(kw):
            out += float(kernel[i, j]) * a[..., i : i + h, j : j + w]
    return out


def adjust_sharpness(img, sharpness_factor):
    """Blend with a smoothed copy (0 blurs, 1 is the original, 2 sharpens); the one-pixel border is kept."""
    _check_factor(sharpness_factor, "sharpness_factor", "adjust_sharpness")
    if _is_pil(img):
        return ImageEnhance.Sharpness(img).enhance(sharpness_factor)
    a, back = as_chw(img, "adjust_sharpness")
    _channels(a, "adjust_sharpness")
    if a.shape[-1] <= 2 or a.shape[-2] <= 2:
        return img
    wt = _work_dtype(a)
    kernel = np.ones((3, 3), wt)
    kernel[1, 1] = 5
    kernel /= kernel.sum()
    smooth = _depthwise_valid(a.astype(wt), kernel).astype(wt)
    if a.dtype.kind != "f":
        smooth = np.round(smooth)
    degenerate = a.copy()
    degenerate[..., 1:-1, 1:-1] = smooth.astype(a.dtype)
    return back(blend(a, degenerate, sharpness_factor))


def _gaussian_kernel1d(size, sigma, dtype):
    half = (size - 1) * 0.5
    x = np.linspace(-half, half, size, dtype=dtype)
    pdf = np.exp(dtype.type(-0.5) * (x / dtype.type(sigma)) ** 2)
    return pdf / pdf.sum()


def gaussian_blur(img, kernel_size, sigma=None):
    """Blur with a Gaussian ``kernel_size`` (kx, ky) of std ``sigma`` (sx, sy), borders reflected.

    Default ``sigma``: ``0.15 * k + 0.35``. PIL images are blurred as uint8 tensors and come back as PIL.
    """
    if isinstance(kernel_size, numbers.Integral):
        kernel_size = [int(kernel_size)] * 2
    kernel_size = list(kernel_size)
    if len(kernel_size) == 1:
        kernel_size = kernel_size * 2
    if len(kernel_size) != 2 or any(k <= 0 or k % 2 == 0 for k in kernel_size):
        raise ValueError(f"gaussian_blur: kernel_size must be odd positive ints (kx, ky), got {kernel_size}")
    if sigma is None:
        sigma = [k * 0.15 + 0.35 for k in kernel_size]
    if isinstance(sigma, numbers.Number):
        sigma = [float(sigma)] * 2
    sigma = [float(s) for s in sigma]
    if len(sigma) == 1:
        sigma = sigma * 2
    if len(sigma) != 2 or any(s <= 0 for s in sigma):
        raise ValueError(f"gaussian_blur: sigma must be positive (sx, sy), got {sigma}")
    if _is_pil(img):
        a = np.asarray(img)
        chw = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
        out = _blur_array(chw, kernel_size, sigma)
        return Image.fromarray(out[0] if a.ndim == 2 else np.ascontiguousarray(out.transpose(1, 2, 0)), img.mode)
    a, back = as_chw(img, "gaussian_blur")
    return back(_blur_array(a, kernel_size, sigma))


def _blur_array(a, kernel_size, sigma):
    wt = _work_dtype(a)
    kx, ky = kernel_size
    kernel = np.outer(_gaussian_kernel1d(ky, sigma[1], wt), _gaussian_kernel1d(kx, sigma[0], wt))
    width = [(0, 0)] * (a.ndim - 2) + [(ky // 2, ky // 2), (kx // 2, kx // 2)]
    if ky // 2 >= a.shape[-2] or kx // 2 >= a.shape[-1]:
        raise ValueError(
            f"gaussian_blur: kernel {kernel_size} needs an image larger than half of it for reflect padding, "
            f"got H, W = {a.shape[-2:]}"
        )
    out = _depthwise_valid(np.pad(a.astype(wt), width, mode="reflect"), kernel).astype(wt)
    if a.dtype.kind != "f":
        out = np.round(out)
    return out.astype(a.dtype)


def invert(img):
    """``max - img`` for every channel."""
    if _is_pil(img):
        return ImageOps.invert(img)
    a, back = as_chw(img, "invert")
    _channels(a, "invert")
    return back((a.dtype.type(max_value(a.dtype)) - a).astype(a.dtype))


def posterize(img, bits):
    """Keep the ``bits`` high bits of each uint8 channel value."""
    if not 0 <= int(bits) <= 8:
        raise ValueError(f"posterize: bits must be in 0..8, got {bits}")
    if _is_pil(img):
        return ImageOps.posterize(img, int(bits))
    a, back = as_chw(img, "posterize")
    if a.dtype != np.uint8:
        raise TypeError(f"posterize: only uint8 images are supported, got {a.dtype}; convert with ConvertImageDtype")
    _channels(a, "posterize")
    return back(a & np.uint8((0xFF << (8 - int(bits))) & 0xFF))


def solarize(img, threshold):
    """Invert the pixels at or above ``threshold``."""
    if _is_pil(img):
        return ImageOps.solarize(img, threshold)
    a, back = as_chw(img, "solarize")
    _channels(a, "solarize")
    if threshold > max_value(a.dtype):
        raise TypeError(f"solarize: threshold {threshold} is above the largest value {max_value(a.dtype)} of {a.dtype}")
    return back(np.where(a >= threshold, (a.dtype.type(max_value(a.dtype)) - a).astype(a.dtype), a))


def autocontrast(img):
    """Stretch each channel so that its darkest pixel becomes 0 and its brightest the maximum."""
    if _is_pil(img):
        return ImageOps.autocontrast(img)
    a, back = as_chw(img, "autocontrast")
    _channels(a, "autocontrast")
    wt = _work_dtype(a)
    bound = max_value(a.dtype)
    low = a.min(axis=(-2, -1), keepdims=True).astype(wt)
    high = a.max(axis=(-2, -1), keepdims=True).astype(wt)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = wt.type(bound) / (high - low)
    flat = ~np.isfinite(scale)
    low[flat], scale[flat] = 0, 1
    return back(np.clip((a.astype(wt) - low) * scale, 0, bound).astype(a.dtype))


def equalize(img):
    """Equalize the histogram of each uint8 channel (Pillow's and torchvision's lookup table)."""
    if _is_pil(img):
        return ImageOps.equalize(img)
    a, back = as_chw(img, "equalize")
    if a.dtype != np.uint8:
        raise TypeError(f"equalize: only uint8 images are supported, got {a.dtype}; convert with ConvertImageDtype")
    _channels(a, "equalize")
    planes = a.reshape(-1, a.shape[-2] * a.shape[-1])
    out = np.empty_like(planes)
    for k, plane in enumerate(planes):  # one lookup table per channel
        hist = np.bincount(plane, minlength=256)
        used = hist[hist != 0]
        step = int(used[:-1].sum()) // 255
        if step == 0:
            out[k] = plane
            continue
        lut = (np.cumsum(hist) + step // 2) // step
        lut = np.clip(np.concatenate(([0], lut[:-1])), 0, 255).astype(np.uint8)
        out[k] = lut[plane]
    return back(out.reshape(a.shape))


def erase(img, i, j, h, w, v, inplace=False):
    """Overwrite the ``h x w`` region at (``i``, ``j``) with ``v`` (a value, or a tensor broadcast to (C, h, w))."""
    if _is_pil(img):
        raise TypeError("erase: expected a Tensor image, got a PIL image; put ToTensor() or PILToTensor() first")
    a, back = as_chw(img, "erase")
    value = v.array if isinstance(v, Tensor) else np.asarray(v)
    out = a if inplace else a.copy()
    out[..., i : i + h, j : j + w] = value
    if inplace and isinstance(img, Tensor):
        increment_version(img, "erase (inplace)")
        return img
    return back(out)


def convert_array_dtype(a, dtype):
    """``a`` in ``dtype``, rescaled between value ranges (floats in [0, 1], integers in 0..max)."""
    dtype = np.dtype(dtype)
    if a.dtype == dtype:
        return a
    if a.dtype.kind == "f":
        if dtype.kind == "f":
            return a.astype(dtype)
        if (a.dtype == np.float32 and dtype in (np.int32, np.int64)) or (a.dtype == np.float64 and dtype == np.int64):
            raise RuntimeError(f"convert_image_dtype: the cast from {a.dtype} to {dtype} cannot be done safely")
        # Scaling by max + 1 - eps spreads [0, 1] evenly over the integers; only 1.0 maps to max.
        return (a * a.dtype.type(max_value(dtype) + 1.0 - 1e-3)).astype(dtype)
    in_max = max_value(a.dtype)
    if dtype.kind == "f":
        return a.astype(dtype) / dtype.type(in_max)
    out_max = max_value(dtype)
    if in_max > out_max:
        return (a // ((in_max + 1) // (out_max + 1))).astype(dtype)
    return a.astype(dtype) * dtype.type((out_max + 1) // (in_max + 1))


def convert_image_dtype(image, dtype=np.float32):
    """A Tensor image in ``dtype``, values rescaled (uint8 255 becomes 1.0, float 1.0 becomes 255)."""
    if not isinstance(image, Tensor):
        raise TypeError(f"convert_image_dtype: expected a Tensor, got {type(image).__name__}")
    return Tensor._wrap(convert_array_dtype(image.array, _np_dtype(dtype)))


def _np_dtype(dtype):
    return to_dtype(dtype).numpy
