"""Transforms with torchvision's names, drawing their randomness from glassgrad's global generator.

``glassgrad.manual_seed(s)`` therefore makes a pipeline repeatable, and the DataLoader seeds that
generator per batch so that batches do not depend on the number of workers.

Batches: the transforms that only move, pad, flip, scale or normalise pixels (``Compose`` of
``RandomCrop``, ``CenterCrop``, ``Pad``, ``RandomHorizontalFlip``, ``RandomVerticalFlip``,
``Grayscale``, ``ToTensor``, ``Normalize``) can also run on a whole stack of same-size uint8 images
at once (``batch_transform``). They draw their random numbers sample by sample in exactly the order
the one-image path does, then apply them in a few vectorised passes, so the result is the same
array, bit for bit, as transforming each image alone.
"""

import math
import numbers

import numpy as np

from glassgrad import random as _random
from glassgrad.tensor import Tensor
from glassgrad.vision.transforms import functional as F
from glassgrad.vision.transforms.functional import InterpolationMode


def _rng():
    return _random.default_generator.rng


def _randint(low, high):
    return int(_rng().integers(low, high))


def _uniform(low, high):
    return float(_rng().uniform(low, high))


def _rand():
    return float(_rng().random())


def _size_pair(size, name):
    if isinstance(size, numbers.Integral):
        return (int(size), int(size))
    size = tuple(int(s) for s in size)
    if len(size) == 1:
        return (size[0], size[0])
    if len(size) != 2:
        raise ValueError(f"{name}: size must be an int or a (height, width) pair, got {size}")
    return size


class Compose:
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        body = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


class ToTensor:
    """PIL image or HWC array -> CHW Tensor; uint8 is scaled to float32 in [0, 1]."""

    def __call__(self, pic):
        return F.to_tensor(pic)

    def _draw(self, h, w):
        return None

    def _batch(self, a, lay, params, owned):
        if lay.c is None:
            a = a[:, None]
        else:
            a = a.transpose(0, 3, 1, 2)
        if a.dtype != np.uint8:
            return np.array(a, order="C"), F.NCHW, True
        out = np.empty(a.shape, np.float32)
        np.divide(a, np.float32(255), out=out)
        return out, F.NCHW, True

    def __repr__(self):
        return "ToTensor()"


class PILToTensor:
    """PIL image -> CHW Tensor, dtype kept (uint8 stays uint8)."""

    def __call__(self, pic):
        return F.pil_to_tensor(pic)

    def __repr__(self):
        return "PILToTensor()"


class ToPILImage:
    """CHW Tensor or HWC array -> PIL image."""

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        return F.to_pil_image(pic, self.mode)

    def __repr__(self):
        return f"ToPILImage(mode={self.mode})"


class Normalize:
    """Per channel ``(x - mean) / std`` on a float tensor image (..., C, H, W)."""

    def __init__(self, mean, std, inplace=False):
        self.mean = mean
        self.std = std
        self.inplace = inplace
        self._stats = {}

    def _stats_for(self, channels, dtype):
        key = (channels, dtype)
        if key not in self._stats:
            self._stats[key] = F._channel_stats(self.mean, self.std, channels, dtype)
        return self._stats[key]

    def __call__(self, tensor):
        a = tensor.array if isinstance(tensor, Tensor) else None
        if a is None or a.dtype.kind != "f" or a.ndim < 3:
            return F.normalize(tensor, self.mean, self.std, self.inplace)  # raises the right error
        return F._normalize_with(tensor, *self._stats_for(a.shape[-3], a.dtype), self.inplace)

    def _draw(self, h, w):
        return None

    def _batch(self, a, lay, params, owned):
        mean, std = self._stats_for(a.shape[1], a.dtype)
        out = a if owned else np.empty_like(a)
        np.subtract(a, mean, out=out)
        np.divide(out, std, out=out)
        return out, lay, True

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


class Resize:
    """Resize to ``size`` (h, w), or the shorter side to ``size`` keeping the aspect ratio."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
        self.size = size
        self.interpolation = interpolation
        self.max_size = max_size
        self.antialias = antialias

    def __call__(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def __repr__(self):
        return f"Resize(size={self.size}, interpolation={getattr(self.interpolation, 'value', self.interpolation)})"


class CenterCrop:
    """The central ``size`` region (padded with 0 where the image is smaller)."""

    def __init__(self, size):
        self.size = _size_pair(size, "CenterCrop")

    def __call__(self, img):
        return F.center_crop(img, self.size)

    def _draw(self, h, w):
        return None

    def _batch(self, a, lay, params, owned):
        th, tw = self.size
        h, w = a.shape[lay.h], a.shape[lay.w]
        if th > h or tw > w:
            a, owned = F.pad_array(a, lay, _center_pads(h, w, th, tw), 0, "constant"), True
            h, w = a.shape[lay.h], a.shape[lay.w]
        return F.crop_array(a, lay, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw), lay, owned

    def __repr__(self):
        return f"CenterCrop(size={self.size})"


def _center_pads(h, w, th, tw):
    return [
        (tw - w) // 2 if tw > w else 0,
        (th - h) // 2 if th > h else 0,
        (tw - w + 1) // 2 if tw > w else 0,
        (th - h + 1) // 2 if th > h else 0,
    ]


class Pad:
    """Pad the borders (see ``functional.pad`` for ``padding``, ``fill`` and ``padding_mode``)."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"Pad: padding_mode must be constant, edge, reflect or symmetric, got {padding_mode!r}")
        self.padding = padding
        self.fill = fill
        self.padding_mode = padding_mode

    def __call__(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)

    def _draw(self, h, w):
        return None

    def _batch(self, a, lay, params, owned):
        return F.pad_array(a, lay, F._padding4(self.padding), self.fill, self.padding_mode), lay, True

    def __repr__(self):
        return f"Pad(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode})"


class Lambda:
    """Apply a user function."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: expected a callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return "Lambda()"


class RandomCrop:
    """Crop a random ``size`` region, after optional ``padding`` (as ``Pad``) and ``pad_if_needed``."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _size_pair(size, "RandomCrop")
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode
        self._first = F._padding4(padding) if padding is not None else (0, 0, 0, 0)
        self._stages = {}

    @staticmethod
    def get_params(img, output_size):
        """Random (top, left, height, width) of an ``output_size`` crop of ``img``."""
        _, h, w = F.get_dimensions(img)
        th, tw = output_size
        return (*_crop_origin(h, w, th, tw), th, tw)

    def _pads(self, h, w):
        """``(padding, extra_w, extra_h, padded_h, padded_w)``: the fixed padding, then what pad_if_needed adds."""
        stages = self._stages.get((h, w))
        if stages is None:
            first = self._first
            ph, pw = h + first[1] + first[3], w + first[0] + first[2]
            th, tw = self.size
            extra_w = tw - pw if self.pad_if_needed and pw < tw else 0
            extra_h = th - ph if self.pad_if_needed and ph < th else 0
            stages = self._stages[(h, w)] = (first, extra_w, extra_h, ph + 2 * extra_h, pw + 2 * extra_w)
        return stages

    def _draw(self, h, w):
        _, _, _, ph, pw = self._pads(h, w)
        return _crop_origin(ph, pw, *self.size)

    def __call__(self, img):
        _, h, w = F.get_dimensions(img)
        first, extra_w, extra_h, _, _ = self._pads(h, w)
        if self.padding is not None:
            img = F.pad(img, first, self.fill, self.padding_mode)
        if extra_w:
            img = F.pad(img, [extra_w, 0], self.fill, self.padding_mode)
        if extra_h:
            img = F.pad(img, [0, extra_h], self.fill, self.padding_mode)
        top, left = self._draw(h, w)
        return F.crop(img, top, left, *self.size)

    def _batch(self, a, lay, params, owned):
        first, extra_w, extra_h, _, _ = self._pads(a.shape[lay.h], a.shape[lay.w])
        if self.padding is not None:
            a = F.pad_array(a, lay, first, self.fill, self.padding_mode)
        if extra_w:
            a = F.pad_array(a, lay, (extra_w, 0, extra_w, 0), self.fill, self.padding_mode)
        if extra_h:
            a = F.pad_array(a, lay, (0, extra_h, 0, extra_h), self.fill, self.padding_mode)
        return _gather_crops(a, lay, params, *self.size), lay, True

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


def _crop_origin(h, w, th, tw):
    if h < th or w < tw:
        raise ValueError(f"RandomCrop: the crop size {(th, tw)} is larger than the (padded) image size {(h, w)}")
    if h == th and w == tw:
        return 0, 0
    return _randint(0, h - th + 1), _randint(0, w - tw + 1)


def _gather_crops(a, lay, origins, th, tw):
    """Crop sample k of the stack ``a`` at ``origins[k]``: one strided gather for the whole batch."""
    tops = np.fromiter((o[0] for o in origins), np.intp, len(origins))
    lefts = np.fromiter((o[1] for o in origins), np.intp, len(origins))
    windows = np.lib.stride_tricks.sliding_window_view(a, (th, tw), axis=(lay.h, lay.w))
    n = np.arange(a.shape[0])
    if lay.c is None:
        return windows[n, tops, lefts]  # (N, th, tw)
    if lay.c > lay.h:  # NHWC: windows are (N, H', W', C, th, tw)
        return windows[n, tops, lefts].transpose(0, 2, 3, 1)  # a view: ToTensor reads it back as NCHW
    return windows[n, :, tops, lefts]  # NCHW: advanced indices first give (N, C, th, tw)


class RandomHorizontalFlip:
    """Mirror left to right with probability ``p``."""

    def __init__(self, p=0.5):
        self.p = p

    def _draw(self, h, w):
        return _rand() < self.p

    def __call__(self, img):
        return F.hflip(img) if self._draw(0, 0) else img

    def _batch(self, a, lay, params, owned):
        return _flip_some(a, lay.w, params, owned), lay, True

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class RandomVerticalFlip:
    """Mirror top to bottom with probability ``p``."""

    def __init__(self, p=0.5):
        self.p = p

    def _draw(self, h, w):
        return _rand() < self.p

    def __call__(self, img):
        return F.vflip(img) if self._draw(0, 0) else img

    def _batch(self, a, lay, params, owned):
        return _flip_some(a, lay.h, params, owned), lay, True

    def __repr__(self):
        return f"RandomVerticalFlip(p={self.p})"


def _flip_some(a, axis, flags, owned):
    mask = np.fromiter(flags, np.bool_, len(flags))
    if not owned:
        a = a.copy()
    if mask.any():
        a[mask] = np.flip(a[mask], axis)
    return a


class RandomResizedCrop:
    """A random region of ``scale`` times the area and aspect ratio in ``ratio``, resized to ``size``."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), interpolation=InterpolationMode.BILINEAR, antialias=True):  # fmt: skip
        self.size = _size_pair(size, "RandomResizedCrop")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(f"RandomResizedCrop: scale {scale} and ratio {ratio} must be (min, max) pairs")
        self.scale = scale
        self.ratio = ratio
        self.interpolation = interpolation
        self.antialias = antialias

    @staticmethod
    def get_params(img, scale, ratio):
        """(top, left, height, width) of the region: ten random tries, then a central fallback."""
        _, height, width = F.get_dimensions(img)
        area = height * width
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target_area = area * _uniform(scale[0], scale[1])
            aspect = math.exp(_uniform(*log_ratio))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return _randint(0, height - h + 1), _randint(0, width - w + 1), h, w
        in_ratio = width / height
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img):
        top, left, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, top, left, h, w, self.size, self.interpolation)

    def __repr__(self):
        return f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio})"


class Grayscale:
    """Convert to grey levels, with 1 or 3 output channels."""

    def __init__(self, num_output_channels=1):
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        return F.rgb_to_grayscale(img, self.num_output_channels)

    def _draw(self, h, w):
        return None

    def _batch(self, a, lay, params, owned):
        out = F.grayscale_array(a, lay, self.num_output_channels)
        if lay.c is None and out.ndim > a.ndim:
            return out, F.NHWC, True
        return out, lay, out is not a or owned

    def __repr__(self):
        return f"Grayscale(num_output_channels={self.num_output_channels})"


class RandomApply:
    """Apply the list of ``transforms`` with probability ``p``."""

    def __init__(self, transforms, p=0.5):
        self.transforms = list(transforms)
        self.p = p

    def __call__(self, img):
        if _rand() >= self.p:
            return img
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        return f"RandomApply(p={self.p}, transforms={self.transforms})"


# -- whole batches ----------------------------------------------------------------------------------

_IMAGE_ONLY = (ToTensor,)
_TENSOR_ONLY = (Normalize,)


def _batch_plan(transform):
    """The transforms of ``transform`` if they can run on a stack and end in a tensor, else None."""
    steps = transform.transforms if isinstance(transform, Compose) else [transform]
    is_tensor = False
    for t in steps:
        if type(t) not in _BATCHABLE:
            return None
        if isinstance(t, _IMAGE_ONLY):
            if is_tensor:
                return None
            is_tensor = True
        elif isinstance(t, _TENSOR_ONLY) and not is_tensor:
            return None
    return steps if is_tensor else None


_BATCHABLE = {ToTensor, Normalize, CenterCrop, Pad, RandomCrop, RandomHorizontalFlip, RandomVerticalFlip, Grayscale}


def batch_transform(transform, images, owned=False):
    """Apply ``transform`` to each image of the stack ``images`` (N, H, W[, C]), or return None.

    Returns an (N, C, H', W') array equal to stacking ``transform(image)`` image by image, with
    the same random draws in the same order, when the transform is a batchable pipeline ending
    in a tensor (see the module docstring); None otherwise, and then nothing was drawn.
    ``owned=True`` lets the steps work in place on ``images`` (a fresh copy the caller gives away).
    """
    steps = _batch_plan(transform) if transform is not None else None
    if steps is None or not isinstance(images, np.ndarray) or images.ndim not in (3, 4):
        return None
    lay = F.NHWC if images.ndim == 4 else F.Layout(1, 2, None)
    h, w = images.shape[1], images.shape[2]
    sizes = []
    for t in steps:
        sizes.append((h, w))
        h, w = _output_size(t, h, w)
        if h is None:
            return None
    params = [[t._draw(*hw) for t, hw in zip(steps, sizes)] for _ in range(images.shape[0])]
    a = images
    for k, t in enumerate(steps):
        a, lay, owned = t._batch(a, lay, [p[k] for p in params], owned)
    return a


def _output_size(t, h, w):
    if isinstance(t, RandomCrop):
        _, _, _, ph, pw = t._pads(h, w)
        if ph < t.size[0] or pw < t.size[1]:
            return None, None  # let the one-image path raise its error
        return t.size
    if isinstance(t, CenterCrop):
        return t.size
    if isinstance(t, Pad):
        left, top, right, bottom = F._padding4(t.padding)
        return h + top + bottom, w + left + right
    return h, w
