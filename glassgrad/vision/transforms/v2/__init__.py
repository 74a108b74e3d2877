"""torchvision.transforms.v2 for images: the v1 transforms, called v2's way, plus ToImage/ToDtype/ToPureTensor.

v2 transforms take any number of inputs (``t(img)``, ``t(img, label)``, ``t({"image": img, ...})``):
the image (the first PIL image or Tensor found) is transformed, everything else passes through
unchanged, and the structure comes back as it went in. The arithmetic is v1's (see
``transforms.functional``); where torchvision's v2 kernels round differently, glassgrad keeps v1's
results: v2 rounds uint8 grey levels (v1 truncates) and fuses its blends, so uint8
``Grayscale``/``adjust_saturation``/``adjust_contrast`` can differ from torchvision v2 by one level.
Only one image per call: boxes, masks and videos (tv_tensors) are not modelled.
"""

import numpy as np
from PIL import Image

from glassgrad.tensor import Tensor
from glassgrad.vision import transforms as _v1
from glassgrad.vision.transforms.functional import InterpolationMode
from glassgrad.vision.transforms.v2 import functional
from glassgrad.vision.transforms.v2.functional import to_dtype, to_image


def _is_image(x):
    return isinstance(x, (Image.Image, Tensor))


def _map_first_image(inputs, fn):
    """``inputs`` with its first image leaf replaced by ``fn(leaf)``; tuples, lists and dicts are walked."""
    done = [False]

    def walk(x):
        if not done[0] and _is_image(x):
            done[0] = True
            return fn(x)
        if isinstance(x, (tuple, list)):
            return type(x)(walk(v) for v in x)
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        return x

    out = walk(inputs)
    if not done[0]:
        raise TypeError("v2 transform: no image (PIL image or Tensor) among the inputs")
    return out


class Transform:
    """The v2 calling convention around a one-image callable ``_transform_image``."""

    def _transform_image(self, img):
        raise TypeError(f"{type(self).__name__} is a v2 Transform without _transform_image; define it")

    def __call__(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        return _map_first_image(sample, self._transform_image)


def _v2(v1_class, doc=None):
    """A v2 transform class with ``v1_class``'s constructor and behaviour."""

    def _transform_image(self, img):
        return v1_class.__call__(self, img)

    cls = type(v1_class.__name__, (Transform, v1_class), {"_transform_image": _transform_image, "__call__": Transform.__call__})  # fmt: skip
    cls.__doc__ = doc or v1_class.__doc__
    cls.__module__ = __name__
    return cls


class Compose(_v1.Compose):
    """Apply ``transforms`` one after the other, passing all inputs along (v2 style)."""

    def __call__(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        for t in self.transforms:
            sample = t(*sample) if isinstance(sample, tuple) and isinstance(t, Transform | Compose) else t(sample)
        return sample


class RandomApply(Transform, _v1.RandomApply):
    def __call__(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        if _v1.transforms._rand() >= self.p:
            return sample
        for t in self.transforms:
            sample = t(*sample) if isinstance(sample, tuple) and isinstance(t, Transform | Compose) else t(sample)
        return sample


class ToImage(Transform):
    """PIL image, HWC array or Tensor -> CHW Tensor, values and dtype unchanged (uint8 stays uint8)."""

    def _transform_image(self, img):
        return to_image(img)

    def __call__(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        if isinstance(sample, np.ndarray):
            return to_image(sample)
        return _map_first_image(sample, to_image)

    def __repr__(self):
        return "ToImage()"


class ToDtype(Transform):
    """Cast the image to ``dtype``; ``scale=True`` rescales values (uint8 255 <-> float 1.0).

    Unlike v1's ``ConvertImageDtype``, nothing is rescaled unless ``scale=True`` is given.
    """

    def __init__(self, dtype, scale=False):
        if isinstance(dtype, dict):
            raise TypeError(
                "ToDtype: per-type dtype dicts are not supported (glassgrad has no tv_tensors); give a dtype"
            )
        self.dtype = dtype
        self.scale = scale

    def _transform_image(self, img):
        return to_dtype(img, self.dtype, self.scale)

    def __repr__(self):
        return f"ToDtype(dtype={self.dtype}, scale={self.scale})"


class ToPureTensor(Transform):
    """Identity: glassgrad images are already plain Tensors."""

    def _transform_image(self, img):
        return img

    def __repr__(self):
        return "ToPureTensor()"


_WRAPPED = [
    "AutoAugment", "CenterCrop", "ColorJitter", "ConvertImageDtype", "FiveCrop", "GaussianBlur", "Grayscale",
    "Lambda", "Normalize", "Pad", "PILToTensor", "RandAugment", "RandomAffine", "RandomCrop", "RandomErasing",
    "RandomGrayscale", "RandomHorizontalFlip", "RandomPerspective", "RandomResizedCrop", "RandomRotation",
    "RandomVerticalFlip", "Resize", "TenCrop", "ToPILImage", "ToTensor", "TrivialAugmentWide",
]  # fmt: skip
for _name in _WRAPPED:
    globals()[_name] = _v2(getattr(_v1, _name))
RandomChoice = _v1.RandomChoice


class RandomOrder(Transform, _v1.RandomOrder):
    def __call__(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        for k in _v1.transforms._rng().permutation(len(self.transforms)):
            t = self.transforms[int(k)]
            sample = t(*sample) if isinstance(sample, tuple) and isinstance(t, Transform | Compose) else t(sample)
        return sample


AutoAugmentPolicy = _v1.AutoAugmentPolicy

__all__ = ["AutoAugmentPolicy", "Compose", "InterpolationMode", "RandomApply", "RandomChoice", "RandomOrder"]
__all__ += ["ToDtype", "ToImage", "ToPureTensor", "Transform", "functional", *_WRAPPED]
