"""Image operations behind the transforms, on three kinds of image.

- PIL images, handled with Pillow's own operations (as torchvision does);
- NumPy arrays in HWC (or HW) layout, usually uint8: the fast path, no PIL involved;
- glassgrad Tensors in (..., C, H, W) layout, usually float after ``to_tensor``.

Geometric operations (crop, pad, flip) give the same pixels for all three, so a pipeline may be
fed PIL images or uint8 arrays interchangeably. Operations on Tensors work on the array behind
them and are not recorded by autograd, except ``normalize`` of a tensor that requires grad.
"""

import enum
import numbers

import numpy as np
from PIL import Image, ImageOps

from glassgrad.autograd.graph import increment_version
from glassgrad.tensor import Tensor

# Colour ops and warps live in their own modules; this is the namespace users import them from.
from glassgrad.vision.transforms._color import (  # noqa: F401
    adjust_brightness,
    adjust_contrast,
    adjust_gamma,
    adjust_hue,
    adjust_saturation,
    adjust_sharpness,
    autocontrast,
    convert_image_dtype,
    equalize,
    erase,
    gaussian_blur,
    invert,
    luma,
    posterize,
    solarize,
)
from glassgrad.vision.transforms._geometry import affine, perspective, rotate  # noqa: F401


class InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_PIL_FILTERS = {
    InterpolationMode.NEAREST: Image.Resampling.NEAREST,
    InterpolationMode.BILINEAR: Image.Resampling.BILINEAR,
    InterpolationMode.BICUBIC: Image.Resampling.BICUBIC,
    InterpolationMode.BOX: Image.Resampling.BOX,
    InterpolationMode.HAMMING: Image.Resampling.HAMMING,
    InterpolationMode.LANCZOS: Image.Resampling.LANCZOS,
}


class Layout:
    """Where an array image keeps its rows, columns and channels (``c`` is None for HW arrays)."""

    def __init__(self, h, w, c):
        self.h, self.w, self.c = h, w, c


HWC = Layout(0, 1, 2)
HW = Layout(0, 1, None)
CHW = Layout(-2, -1, -3)
NHWC = Layout(1, 2, 3)
NCHW = Layout(2, 3, 1)


def _is_pil(img):
    return isinstance(img, Image.Image)


def _split(img, op):
    """``(array, layout, rewrap)`` for an ndarray or Tensor image; errors for anything else."""
    if isinstance(img, Tensor):
        if img.ndim < 2:
            raise ValueError(
                f"{op}: a tensor image needs at least 2 dimensions (..., H, W), got shape {tuple(img.shape)}"
            )
        return img.array, (CHW if img.ndim >= 3 else HW), Tensor._wrap
    if isinstance(img, np.ndarray):
        if img.ndim not in (2, 3):
            raise ValueError(f"{op}: an array image must be HW or HWC, got shape {img.shape}")
        return img, (HWC if img.ndim == 3 else HW), _identity
    raise TypeError(
        f"{op}: expected a PIL image, a NumPy HWC array or a Tensor (..., C, H, W), got {type(img).__name__}"
    )


def _identity(a):
    return a


def get_dimensions(img):
    """``[channels, height, width]`` of an image."""
    if _is_pil(img):
        return [len(img.getbands()), img.height, img.width]
    a, lay, _ = _split(img, "get_dimensions")
    return [1 if lay.c is None else a.shape[lay.c], a.shape[lay.h], a.shape[lay.w]]


def get_image_num_channels(img):
    """The number of channels of an image."""
    return get_dimensions(img)[0]


def get_image_size(img):
    """``[width, height]`` of an image."""
    _, h, w = get_dimensions(img)
    return [w, h]


# -- conversions ---------------------------------------------------------------------------------


def to_tensor(pic):
    """A PIL image or HWC array as a CHW Tensor; uint8 becomes float32 in [0, 1], other dtypes are kept."""
    if _is_pil(pic):
        a = np.asarray(pic)
        if pic.mode == "1":
            a = a.astype(np.uint8) * 255
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_tensor: the array must be HW or HWC, got shape {pic.shape}")
        a = pic
    else:
        raise TypeError(
            f"to_tensor: expected a PIL image or a NumPy HWC array, got {type(pic).__name__}"
            + (" (it is already a tensor; drop ToTensor)" if isinstance(pic, Tensor) else "")
        )
    if a.ndim == 2:
        a = a[:, :, None]
    chw = a.transpose(2, 0, 1)
    if a.dtype == np.uint8:
        out = np.empty(chw.shape, np.float32)
        np.divide(chw, np.float32(255), out=out)
        return Tensor._wrap(out)
    return Tensor._wrap(np.ascontiguousarray(chw))


def pil_to_tensor(pic):
    """A PIL image as a CHW Tensor with its own dtype (uint8 stays uint8)."""
    if not _is_pil(pic):
        raise TypeError(f"pil_to_tensor: expected a PIL image, got {type(pic).__name__}")
    a = np.asarray(pic)
    if a.ndim == 2:
        a = a[:, :, None]
    return Tensor._wrap(np.ascontiguousarray(a.transpose(2, 0, 1)))


def to_pil_image(pic, mode=None):
    """A CHW Tensor or HWC array as a PIL image; float images in [0, 1] are scaled to 0..255."""
    if _is_pil(pic):
        return pic
    if isinstance(pic, Tensor):
        a = pic.array
        if a.ndim == 3:
            a = a.transpose(1, 2, 0)
    elif isinstance(pic, np.ndarray):
        a = pic
    else:
        raise TypeError(f"to_pil_image: expected a Tensor or an ndarray, got {type(pic).__name__}")
    if a.ndim not in (2, 3):
        raise ValueError(f"to_pil_image: expected a 2-d or 3-d image, got shape {a.shape}")
    if a.dtype.kind == "f":
        a = (a * 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    img = Image.fromarray(np.ascontiguousarray(a))
    return img.convert(mode) if mode is not None and mode != img.mode else img


def normalize(tensor, mean, std, inplace=False):
    """``(tensor - mean) / std`` per channel of a float Tensor (..., C, H, W)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"normalize: expected a Tensor, got {type(tensor).__name__}; put ToTensor() before Normalize")
    a = tensor.array
    if a.dtype.kind != "f":
        raise TypeError(f"normalize: expected a float tensor, got {tensor.dtype}; convert with ToTensor() or .float()")
    if a.ndim < 3:
        raise ValueError(f"normalize: expected a tensor image (..., C, H, W), got shape {tuple(a.shape)}")
    return _normalize_with(tensor, *_channel_stats(mean, std, a.shape[-3], a.dtype), inplace)


def _normalize_with(tensor, mean_a, std_a, inplace):
    a = tensor.array
    if tensor.requires_grad:
        return (tensor - Tensor._wrap(mean_a)) / Tensor._wrap(std_a)
    out = a if inplace else np.empty_like(a)
    np.subtract(a, mean_a, out=out)
    np.divide(out, std_a, out=out)
    if inplace:
        increment_version(tensor, "normalize (inplace)")
        return tensor
    return Tensor._wrap(out)


def _channel_stats(mean, std, channels, dtype):
    mean_a = np.asarray(mean.array if isinstance(mean, Tensor) else mean, dtype=dtype).reshape(-1, 1, 1)
    std_a = np.asarray(std.array if isinstance(std, Tensor) else std, dtype=dtype).reshape(-1, 1, 1)
    if (std_a == 0).any():
        raise ValueError(f"normalize: std {list(np.ravel(std_a))} contains 0, which would divide by zero")
    for name, v in (("mean", mean_a), ("std", std_a)):
        if v.shape[0] not in (1, channels):
            raise ValueError(f"normalize: {name} has {v.shape[0]} values but the image has {channels} channels")
    return mean_a, std_a


# -- geometry ------------------------------------------------------------------------------------


def crop(img, top, left, height, width):
    """The ``height x width`` region whose top-left corner is (``top``, ``left``); outside the image is 0."""
    if _is_pil(img):
        return img.crop((left, top, left + width, top + height))
    a, lay, wrap = _split(img, "crop")
    return wrap(crop_array(a, lay, top, left, height, width))


def crop_array(a, lay, top, left, height, width):
    h, w = a.shape[lay.h], a.shape[lay.w]
    if top < 0 or left < 0 or top + height > h or left + width > w:
        pads = (max(-left, 0), max(-top, 0), max(left + width - w, 0), max(top + height - h, 0))
        a = pad_array(a, lay, pads, 0, "constant")
        top, left = top + pads[1], left + pads[0]
    index = [slice(None)] * a.ndim
    index[lay.h] = slice(top, top + height)
    index[lay.w] = slice(left, left + width)
    return a[tuple(index)]


def center_crop(img, output_size):
    """The central ``output_size`` region, padded with 0 first where the image is smaller."""
    th, tw = _pair(output_size, "center_crop")
    _, h, w = get_dimensions(img)
    if th > h or tw > w:
        pads = [(tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0]
        pads += [(tw - w + 1) // 2 if tw > w else 0, (th - h + 1) // 2 if th > h else 0]
        img = pad(img, pads, fill=0)
        _, h, w = get_dimensions(img)
        if h == th and w == tw:
            return img
    return crop(img, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)


def _padding4(padding):
    if isinstance(padding, numbers.Integral):
        p = int(padding)
        return (p, p, p, p)
    padding = tuple(int(p) for p in padding)
    if len(padding) == 1:
        return padding * 4
    if len(padding) == 2:
        return (padding[0], padding[1], padding[0], padding[1])
    if len(padding) == 4:
        return padding
    raise ValueError(f"pad: padding must be an int or a sequence of 1, 2 or 4 ints, got {padding}")


_NP_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad the borders: ``padding`` is one int, (left/right, top/bottom) or (left, top, right, bottom).

    ``padding_mode``: ``constant`` (with ``fill``, a number or one value per channel), ``edge``,
    ``reflect`` (without repeating the border pixel) or ``symmetric`` (repeating it).
    """
    if padding_mode not in _NP_MODES:
        raise ValueError(f"pad: padding_mode must be constant, edge, reflect or symmetric, got {padding_mode!r}")
    pads = _padding4(padding)
    if any(p < 0 for p in pads):
        raise ValueError(f"pad: negative padding {pads} is not supported; use crop")
    if _is_pil(img):
        if padding_mode == "constant":
            return ImageOps.expand(img, border=pads, fill=_pil_fill(fill, img))
        a = np.asarray(img)
        a = pad_array(a, HWC if a.ndim == 3 else HW, pads, fill, padding_mode)
        out = Image.fromarray(a)
        if img.mode == "P":
            out.putpalette(img.getpalette())
        return out
    a, lay, wrap = _split(img, "pad")
    return wrap(pad_array(a, lay, pads, fill, padding_mode))


def _pil_fill(fill, img):
    # Pillow reads one number as a packed colour on multi-band images ((7, 0, 0) for RGB); repeat it per band.
    bands = len(img.getbands())
    if isinstance(fill, numbers.Number):
        return tuple([fill] * bands) if bands > 1 else fill
    fill = tuple(fill)
    if bands == 1 and len(fill) == 1:
        return fill[0]
    if len(fill) != bands:
        raise ValueError(f"pad: fill has {len(fill)} values but the image has {bands} channels")
    return fill


def pad_array(a, lay, pads, fill, padding_mode):
    left, top, right, bottom = pads
    h_ax, w_ax = lay.h % a.ndim, lay.w % a.ndim
    if padding_mode != "constant":
        width = [(0, 0)] * a.ndim
        width[h_ax], width[w_ax] = (top, bottom), (left, right)
        return np.pad(a, width, mode=_NP_MODES[padding_mode])
    shape = list(a.shape)
    shape[h_ax] += top + bottom
    shape[w_ax] += left + right
    out = np.empty(shape, a.dtype)
    fill_a = np.asarray(fill, dtype=a.dtype) if not isinstance(fill, str) else None
    if fill_a is None:
        raise TypeError(f"pad: fill must be a number or a sequence of numbers, got {fill!r}")
    if fill_a.ndim == 1 and lay.c is not None:
        if fill_a.size != a.shape[lay.c]:
            raise ValueError(f"pad: fill has {fill_a.size} values but the image has {a.shape[lay.c]} channels")
        view = [1] * a.ndim
        view[lay.c % a.ndim] = -1
        fill_a = fill_a.reshape(view)
    elif fill_a.ndim == 1:
        fill_a = fill_a[0]
    out[...] = fill_a
    index = [slice(None)] * a.ndim
    index[h_ax] = slice(top, top + a.shape[h_ax])
    index[w_ax] = slice(left, left + a.shape[w_ax])
    out[tuple(index)] = a
    return out


def hflip(img):
    """Mirror left to right."""
    if _is_pil(img):
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    a, lay, wrap = _split(img, "hflip")
    return wrap(np.ascontiguousarray(np.flip(a, lay.w)))


def vflip(img):
    """Mirror top to bottom."""
    if _is_pil(img):
        return img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    a, lay, wrap = _split(img, "vflip")
    return wrap(np.ascontiguousarray(np.flip(a, lay.h)))


def _pair(size, op):
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    size = tuple(int(s) for s in size)
    if len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(f"{op}: size must be an int or a (height, width) pair, got {size}")
    return size


def _resized_size(h, w, size, max_size):
    if isinstance(size, numbers.Integral) or len(size) == 1:
        requested = int(size if isinstance(size, numbers.Integral) else size[0])
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = requested, int(requested * long / short)
        if max_size is not None:
            if max_size <= requested:
                raise ValueError(f"resize: max_size ({max_size}) must be larger than the requested size ({requested})")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    if max_size is not None:
        raise ValueError("resize: max_size only applies when size is a single int")
    return _pair(size, "resize")


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize to ``size`` (h, w), or so that the shorter side is ``size`` keeping the aspect ratio.

    Uses Pillow's filters (antialiased when shrinking) for all kinds of image; float arrays and
    tensors go channel by channel through Pillow's 32-bit float mode.
    """
    if not isinstance(interpolation, InterpolationMode):
        interpolation = InterpolationMode(interpolation) if isinstance(interpolation, str) else _from_pil(interpolation)
    resample = _PIL_FILTERS[interpolation]
    _, h, w = get_dimensions(img)
    oh, ow = _resized_size(h, w, size, max_size)
    if _is_pil(img):
        return img if (oh, ow) == (h, w) else img.resize((ow, oh), resample)
    a, lay, wrap = _split(img, "resize")
    return wrap(resize_array(a, lay, oh, ow, resample))


def _from_pil(code):
    for mode, pil in _PIL_FILTERS.items():
        if pil == code:
            return mode
    raise ValueError(f"resize: unknown interpolation {code!r}; use transforms.InterpolationMode")


def resize_array(a, lay, oh, ow, resample):
    if a.dtype == np.uint8 and (lay.c is None or (lay is HWC and a.shape[2] in (3, 4))):
        return np.asarray(Image.fromarray(a).resize((ow, oh), resample))
    # Channel by channel through Pillow's float mode: planes first, then back to the layout.
    moved = np.moveaxis(a, (lay.h % a.ndim, lay.w % a.ndim), (-2, -1))
    planes = moved.reshape(-1, *moved.shape[-2:]).astype(np.float32)
    out = np.stack([np.asarray(Image.fromarray(p).resize((ow, oh), resample)) for p in planes])
    out = out.reshape(*moved.shape[:-2], oh, ow)
    if a.dtype.kind in "iu":
        info = np.iinfo(a.dtype)
        out = np.clip(np.round(out), info.min, info.max)
    return np.ascontiguousarray(np.moveaxis(out, (-2, -1), (lay.h % a.ndim, lay.w % a.ndim)).astype(a.dtype))


def resized_crop(img, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR, antialias=True):
    """``crop`` then ``resize`` to ``size``."""
    return resize(crop(img, top, left, height, width), size, interpolation)


def rgb_to_grayscale(img, num_output_channels=1):
    """Luma (ITU-R 601-2): Pillow's integer formula for PIL images and uint8 arrays, 0.2989/0.587/0.114 on
    tensors (truncated back to integer dtypes, as torchvision's tensors) and float arrays."""
    if num_output_channels not in (1, 3):
        raise ValueError(f"rgb_to_grayscale: num_output_channels must be 1 or 3, got {num_output_channels}")
    if _is_pil(img):
        grey = img.convert("L")
        return grey if num_output_channels == 1 else Image.merge("RGB", (grey, grey, grey))
    a, lay, wrap = _split(img, "rgb_to_grayscale")
    if isinstance(img, Tensor) and a.dtype.kind in "iu" and a.ndim >= 3 and a.shape[-3] == 3:
        # Integer tensors take torchvision's tensor formula (float32 weights, truncated), arrays Pillow's.
        grey = luma(a)
        return wrap(np.repeat(grey, 3, axis=-3) if num_output_channels == 3 else grey)
    return wrap(grayscale_array(a, lay, num_output_channels))


def to_grayscale(img, num_output_channels=1):
    """``rgb_to_grayscale`` under its older name (torchvision keeps both)."""
    return rgb_to_grayscale(img, num_output_channels)


def grayscale_array(a, lay, num_output_channels):
    if lay.c is None:
        grey = np.expand_dims(a, -1)
        c_ax = a.ndim
    else:
        c_ax = lay.c % a.ndim
        if a.shape[c_ax] == 1:
            grey = a
        else:
            if a.shape[c_ax] != 3:
                raise ValueError(f"rgb_to_grayscale: expected 3 channels (RGB), got {a.shape[c_ax]}")
            r, g, b = (np.take(a, k, axis=c_ax) for k in range(3))
            if a.dtype == np.uint8:
                # Pillow's fixed-point weights, so arrays match img.convert("L") exactly.
                luma = (
                    r.astype(np.uint32) * 19595 + g.astype(np.uint32) * 38470 + b.astype(np.uint32) * 7471 + 0x8000
                ) >> 16
                grey = np.expand_dims(luma.astype(np.uint8), c_ax)
            else:
                grey = np.expand_dims((0.2989 * r + 0.587 * g + 0.114 * b).astype(a.dtype), c_ax)
    if lay.c is None and num_output_channels == 1:
        return grey[..., 0] if grey.ndim > a.ndim else grey
    return np.repeat(grey, num_output_channels, axis=c_ax) if num_output_channels == 3 else grey


def five_crop(img, size):
    """The four corner crops and the central crop of ``size`` (h, w): (tl, tr, bl, br, center)."""
    th, tw = _pair(size, "five_crop")
    _, h, w = get_dimensions(img)
    if th > h or tw > w:
        raise ValueError(f"five_crop: the crop size {(th, tw)} is larger than the image size {(h, w)}")
    return (
        crop(img, 0, 0, th, tw),
        crop(img, 0, w - tw, th, tw),
        crop(img, h - th, 0, th, tw),
        crop(img, h - th, w - tw, th, tw),
        center_crop(img, (th, tw)),
    )


def ten_crop(img, size, vertical_flip=False):
    """``five_crop`` of the image, then of its horizontal (or vertical) mirror: 10 crops."""
    flipped = vflip(img) if vertical_flip else hflip(img)
    return five_crop(img, size) + five_crop(flipped, size)
