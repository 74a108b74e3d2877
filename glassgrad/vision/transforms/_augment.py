"""Random photometric and geometric transforms (torchvision v1 names), and a few deterministic helpers.

Every random draw comes from glassgrad's global generator (``glassgrad.manual_seed``), so a
pipeline repeats itself under the same seed. Each transform's ``get_params`` returns the drawn
parameters; applying ``functional`` with them gives exactly the transform's output.
"""

import math
import numbers

import numpy as np

from glassgrad.tensor import Tensor
from glassgrad.vision.transforms import functional as F
from glassgrad.vision.transforms.functional import InterpolationMode
from glassgrad.vision.transforms.transforms import _rand, _randint, _rng, _size_pair, _uniform


def _range(value, name, center=1.0, bound=(0, float("inf")), clip_first_on_zero=True):
    """``value`` as a (min, max) range: a number v means [center - v, center + v]; None when it is no-op."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"{name}: a single value must be non-negative, got {value}")
        value = [center - float(value), center + float(value)]
        if clip_first_on_zero:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
    else:
        raise TypeError(f"{name}: expected a number or a (min, max) pair, got {value!r}")
    if not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f"{name}: values must be within {list(bound)} and ordered, got {value}")
    return None if value[0] == value[1] == center else tuple(value)


def _fill_for(img, fill):
    """torchvision's convention: tensors get one float per channel, PIL images the value as given."""
    if isinstance(img, Tensor) or isinstance(img, np.ndarray):
        channels = F.get_dimensions(img)[0]
        if isinstance(fill, numbers.Number):
            return [float(fill)] * channels
        return None if fill is None else [float(f) for f in fill]
    return fill


class ColorJitter:
    """Random brightness, contrast, saturation and hue, applied in a random order.

    Each argument is a number v (factor drawn in [max(0, 1 - v), 1 + v]; hue in [-v, v], v <= 0.5)
    or a (min, max) pair.
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        self.brightness = _range(brightness, "ColorJitter brightness")
        self.contrast = _range(contrast, "ColorJitter contrast")
        self.saturation = _range(saturation, "ColorJitter saturation")
        self.hue = _range(hue, "ColorJitter hue", center=0, bound=(-0.5, 0.5), clip_first_on_zero=False)

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """``(order, b, c, s, h)``: a permutation of the four operations and their factors (None: skipped)."""
        order = [int(i) for i in _rng().permutation(4)]
        factors = [None if r is None else _uniform(r[0], r[1]) for r in (brightness, contrast, saturation, hue)]
        return (order, *factors)

    def __call__(self, img):
        order, *factors = self.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        ops = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue)
        for k in order:
            if factors[k] is not None:
                img = ops[k](img, factors[k])
        return img

    def __repr__(self):
        return (
            f"ColorJitter(brightness={self.brightness}, contrast={self.contrast}, "
            f"saturation={self.saturation}, hue={self.hue})"
        )


def _degrees(degrees, name):
    if isinstance(degrees, numbers.Number):
        if degrees < 0:
            raise ValueError(f"{name}: a single degrees value must be non-negative, got {degrees}")
        return (-float(degrees), float(degrees))
    if len(degrees) != 2:
        raise ValueError(f"{name}: degrees must be a number or a (min, max) pair, got {degrees}")
    return (float(degrees[0]), float(degrees[1]))


class RandomRotation:
    """Rotate by an angle drawn uniformly in ``degrees`` (a number d means [-d, d])."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=0):
        self.degrees = _degrees(degrees, "RandomRotation")
        self.interpolation = interpolation
        self.expand = expand
        self.center = center
        self.fill = fill

    @staticmethod
    def get_params(degrees):
        return _uniform(degrees[0], degrees[1])

    def __call__(self, img):
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, _fill_for(img, self.fill))

    def __repr__(self):
        return f"RandomRotation(degrees={self.degrees}, expand={self.expand}, fill={self.fill})"


class RandomAffine:
    """Random rotation, translation (fractions of width/height), scale and shear (degrees), then ``affine``."""

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation=InterpolationMode.NEAREST, fill=0, center=None):  # fmt: skip
        self.degrees = _degrees(degrees, "RandomAffine")
        if translate is not None and (len(translate) != 2 or not all(0 <= t <= 1 for t in translate)):
            raise ValueError(f"RandomAffine: translate must be two fractions in [0, 1], got {translate}")
        if scale is not None and (len(scale) != 2 or any(s <= 0 for s in scale)):
            raise ValueError(f"RandomAffine: scale must be a positive (min, max) pair, got {scale}")
        if shear is not None:
            if isinstance(shear, numbers.Number):
                shear = (-float(shear), float(shear))
            elif len(shear) not in (2, 4):
                raise ValueError(f"RandomAffine: shear must be a number, or 2 or 4 values, got {shear}")
        self.translate, self.scale, self.shear = translate, scale, shear
        self.interpolation = interpolation
        self.fill = fill
        self.center = center

    @staticmethod
    def get_params(degrees, translate, scale_ranges, shears, img_size):
        """``(angle, (tx, ty), scale, (shear_x, shear_y))`` for an image of ``img_size`` (width, height)."""
        angle = _uniform(degrees[0], degrees[1])
        if translate is not None:
            max_dx, max_dy = float(translate[0] * img_size[0]), float(translate[1] * img_size[1])
            shift = (int(round(_uniform(-max_dx, max_dx))), int(round(_uniform(-max_dy, max_dy))))
        else:
            shift = (0, 0)
        scale = _uniform(scale_ranges[0], scale_ranges[1]) if scale_ranges is not None else 1.0
        shear_x = shear_y = 0.0
        if shears is not None:
            shear_x = _uniform(shears[0], shears[1])
            if len(shears) == 4:
                shear_y = _uniform(shears[2], shears[3])
        return angle, shift, scale, (shear_x, shear_y)

    def __call__(self, img):
        _, h, w = F.get_dimensions(img)
        params = self.get_params(self.degrees, self.translate, self.scale, self.shear, [w, h])
        return F.affine(img, *params, interpolation=self.interpolation, fill=_fill_for(img, self.fill), center=self.center)  # fmt: skip

    def __repr__(self):
        return (
            f"RandomAffine(degrees={self.degrees}, translate={self.translate}, scale={self.scale}, shear={self.shear})"
        )


class RandomPerspective:
    """With probability ``p``, move each corner inwards by up to ``distortion_scale`` of half the size."""

    def __init__(self, distortion_scale=0.5, p=0.5, interpolation=InterpolationMode.BILINEAR, fill=0):
        if not 0 <= distortion_scale <= 1:
            raise ValueError(f"RandomPerspective: distortion_scale must be in [0, 1], got {distortion_scale}")
        self.distortion_scale = distortion_scale
        self.p = p
        self.interpolation = interpolation
        self.fill = fill

    @staticmethod
    def get_params(width, height, distortion_scale):
        """``(startpoints, endpoints)``: the image corners (TL, TR, BR, BL) and where they go."""
        dx, dy = int(distortion_scale * (width // 2)), int(distortion_scale * (height // 2))
        top_left = [_randint(0, dx + 1), _randint(0, dy + 1)]
        top_right = [_randint(width - dx - 1, width), _randint(0, dy + 1)]
        bottom_right = [_randint(width - dx - 1, width), _randint(height - dy - 1, height)]
        bottom_left = [_randint(0, dx + 1), _randint(height - dy - 1, height)]
        start = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
        return start, [top_left, top_right, bottom_right, bottom_left]

    def __call__(self, img):
        if _rand() >= self.p:
            return img
        _, h, w = F.get_dimensions(img)
        start, end = self.get_params(w, h, self.distortion_scale)
        return F.perspective(img, start, end, self.interpolation, _fill_for(img, self.fill))

    def __repr__(self):
        return f"RandomPerspective(distortion_scale={self.distortion_scale}, p={self.p})"


class GaussianBlur:
    """Gaussian blur of ``kernel_size`` with a std drawn uniformly in ``sigma`` (min, max)."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0)):
        self.kernel_size = _size_pair(kernel_size, "GaussianBlur")
        if any(k <= 0 or k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"GaussianBlur: kernel_size must be odd and positive, got {kernel_size}")
        if isinstance(sigma, numbers.Number):
            sigma = (float(sigma), float(sigma))
        if len(sigma) != 2 or not 0 < sigma[0] <= sigma[1]:
            raise ValueError(f"GaussianBlur: sigma must be positive and (min, max) ordered, got {sigma}")
        self.sigma = tuple(sigma)

    @staticmethod
    def get_params(sigma_min, sigma_max):
        return _uniform(sigma_min, sigma_max)

    def __call__(self, img):
        s = self.get_params(*self.sigma)
        return F.gaussian_blur(img, list(self.kernel_size), [s, s])

    def __repr__(self):
        return f"GaussianBlur(kernel_size={self.kernel_size}, sigma={self.sigma})"


class RandomErasing:
    """With probability ``p``, overwrite a random rectangle of a tensor image (Zhong et al., 2017).

    ``scale``: area range as a fraction of the image; ``ratio``: aspect range; ``value``: a number,
    one per channel, or ``"random"`` (standard normal noise).
    """

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False):
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError(f"RandomErasing: value must be a number, a sequence or 'random', got {value!r}")
        if isinstance(value, str) and value != "random":
            raise ValueError(f"RandomErasing: the only string value is 'random', got {value!r}")
        if scale[0] > scale[1] or ratio[0] > ratio[1] or not 0 <= scale[0] <= 1 or not 0 <= p <= 1:
            raise ValueError(f"RandomErasing: p must be in [0, 1], scale {scale} and ratio {ratio} ordered ranges")
        self.p, self.scale, self.ratio, self.value, self.inplace = p, scale, ratio, value, inplace

    @staticmethod
    def get_params(img, scale, ratio, value=None):
        """``(i, j, h, w, v)`` of the rectangle and its contents; the whole image when 10 tries fail."""
        a = img.array if isinstance(img, Tensor) else img
        c, img_h, img_w = a.shape[-3], a.shape[-2], a.shape[-1]
        area = img_h * img_w
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            erase_area = area * _uniform(scale[0], scale[1])
            aspect = math.exp(_uniform(*log_ratio))
            h, w = int(round(math.sqrt(erase_area * aspect))), int(round(math.sqrt(erase_area / aspect)))
            if not (h < img_h and w < img_w):
                continue
            if value is None:
                v = _rng().standard_normal((c, h, w)).astype(np.float32)
            else:
                v = np.asarray(value, a.dtype)[:, None, None]
            return _randint(0, img_h - h + 1), _randint(0, img_w - w + 1), h, w, Tensor._wrap(v)
        return 0, 0, img_h, img_w, img

    def __call__(self, img):
        if _rand() >= self.p:
            return img
        if not isinstance(img, Tensor):
            raise TypeError(f"RandomErasing: expected a Tensor image (put ToTensor() first), got {type(img).__name__}")
        value = None if self.value == "random" else self.value
        if isinstance(value, numbers.Number):
            value = [value]
        if value is not None and len(value) not in (1, img.shape[-3]):
            raise ValueError(
                f"RandomErasing: value has {len(value)} entries but the image has {img.shape[-3]} channels"
            )
        i, j, h, w, v = self.get_params(img, self.scale, self.ratio, value)
        return F.erase(img, i, j, h, w, v, self.inplace)

    def __repr__(self):
        return f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value})"


class RandomGrayscale:
    """With probability ``p``, make the image grey, keeping its number of channels."""

    def __init__(self, p=0.1):
        self.p = p

    def __call__(self, img):
        channels = F.get_dimensions(img)[0]
        if _rand() < self.p:
            return F.rgb_to_grayscale(img, num_output_channels=channels)
        return img

    def __repr__(self):
        return f"RandomGrayscale(p={self.p})"


class RandomChoice:
    """Apply one of ``transforms``, picked with probabilities ``p`` (uniform by default)."""

    def __init__(self, transforms, p=None):
        self.transforms = list(transforms)
        if p is not None and len(p) != len(self.transforms):
            raise ValueError(f"RandomChoice: {len(p)} probabilities for {len(self.transforms)} transforms")
        self.p = p

    def __call__(self, *args):
        if self.p is None:
            k = _randint(0, len(self.transforms))
        else:
            weights = np.asarray(self.p, np.float64)
            k = int(np.searchsorted(np.cumsum(weights), _rand() * weights.sum(), side="right"))
            k = min(k, len(self.transforms) - 1)
        return self.transforms[k](*args)

    def __repr__(self):
        return f"RandomChoice(transforms={self.transforms}, p={self.p})"


class RandomOrder:
    """Apply all ``transforms`` in a random order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for k in _rng().permutation(len(self.transforms)):
            img = self.transforms[int(k)](img)
        return img

    def __repr__(self):
        return f"RandomOrder(transforms={self.transforms})"


class ConvertImageDtype:
    """Convert a tensor image to ``dtype``, rescaling values (uint8 255 <-> float 1.0)."""

    def __init__(self, dtype):
        self.dtype = dtype

    def __call__(self, image):
        return F.convert_image_dtype(image, self.dtype)

    def __repr__(self):
        return f"ConvertImageDtype(dtype={self.dtype})"


class FiveCrop:
    """The four corner crops and the central crop of ``size``, as a tuple of 5 images."""

    def __init__(self, size):
        self.size = _size_pair(size, "FiveCrop")

    def __call__(self, img):
        return F.five_crop(img, self.size)

    def __repr__(self):
        return f"FiveCrop(size={self.size})"


class TenCrop:
    """``FiveCrop`` of the image and of its mirror (horizontal, or vertical with ``vertical_flip``)."""

    def __init__(self, size, vertical_flip=False):
        self.size = _size_pair(size, "TenCrop")
        self.vertical_flip = vertical_flip

    def __call__(self, img):
        return F.ten_crop(img, self.size, self.vertical_flip)

    def __repr__(self):
        return f"TenCrop(size={self.size}, vertical_flip={self.vertical_flip})"
