"""Learned and random augmentation policies: AutoAugment, RandAugment, TrivialAugmentWide.

Each is a random choice of named operations (``apply_op``) with a magnitude taken from a table of
bins (``augmentation_space``), as in the papers and torchvision. The policies' random choices come
from glassgrad's generator; each operation is exactly the ``functional`` op torchvision applies.
"""

import enum
import math

import numpy as np

from glassgrad.vision.transforms import functional as F
from glassgrad.vision.transforms._augment import _fill_for
from glassgrad.vision.transforms.functional import InterpolationMode
from glassgrad.vision.transforms.transforms import _rand, _randint


def apply_op(img, op_name, magnitude, interpolation=InterpolationMode.NEAREST, fill=None):
    """Apply the augmentation ``op_name`` with ``magnitude`` (its meaning depends on the op)."""
    if op_name in ("ShearX", "ShearY"):
        # The magnitude is the shear factor; affine takes an angle, so arctan of it.
        angle = math.degrees(math.atan(magnitude))
        shear = [angle, 0.0] if op_name == "ShearX" else [0.0, angle]
        return F.affine(img, 0.0, [0, 0], 1.0, shear, interpolation=interpolation, fill=fill, center=[0, 0])
    if op_name == "TranslateX":
        return F.affine(img, 0.0, [int(magnitude), 0], 1.0, [0.0, 0.0], interpolation=interpolation, fill=fill)
    if op_name == "TranslateY":
        return F.affine(img, 0.0, [0, int(magnitude)], 1.0, [0.0, 0.0], interpolation=interpolation, fill=fill)
    if op_name == "Rotate":
        return F.rotate(img, magnitude, interpolation=interpolation, fill=fill)
    enhance = {
        "Brightness": F.adjust_brightness,
        "Color": F.adjust_saturation,
        "Contrast": F.adjust_contrast,
        "Sharpness": F.adjust_sharpness,
    }
    if op_name in enhance:
        return enhance[op_name](img, 1.0 + magnitude)
    if op_name == "Posterize":
        return F.posterize(img, int(magnitude))
    if op_name == "Solarize":
        return F.solarize(img, magnitude)
    plain = {"AutoContrast": F.autocontrast, "Equalize": F.equalize, "Invert": F.invert}
    if op_name in plain:
        return plain[op_name](img)
    if op_name == "Identity":
        return img
    raise ValueError(f"apply_op: unknown operation {op_name!r}; expected one of {sorted(OP_NAMES)}")


OP_NAMES = {"ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color", "Contrast"}
OP_NAMES |= {"Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize", "Invert", "Identity"}


def _linspace(start, stop, num):
    return np.linspace(start, stop, num).astype(np.float32)


def augmentation_space(num_bins, image_size, wide=False, identity=True, invert=False):
    """``{op: (magnitudes, signed)}``: the bins of each op (None for ops without a magnitude).

    ``image_size`` is (height, width); ``wide`` gives TrivialAugmentWide's larger ranges.
    """
    h, w = image_size
    top = 0.99 if wide else 0.9
    space = {"Identity": (None, False)} if identity else {}
    space["ShearX"] = (_linspace(0.0, 0.99 if wide else 0.3, num_bins), True)
    space["ShearY"] = (_linspace(0.0, 0.99 if wide else 0.3, num_bins), True)
    space["TranslateX"] = (_linspace(0.0, 32.0 if wide else 150.0 / 331.0 * w, num_bins), True)
    space["TranslateY"] = (_linspace(0.0, 32.0 if wide else 150.0 / 331.0 * h, num_bins), True)
    space["Rotate"] = (_linspace(0.0, 135.0 if wide else 30.0, num_bins), True)
    for name in ("Brightness", "Color", "Contrast", "Sharpness"):
        space[name] = (_linspace(0.0, top, num_bins), True)
    levels = 6 if wide else 4
    space["Posterize"] = (8 - np.round(np.arange(num_bins) / ((num_bins - 1) / levels)).astype(np.int64), False)
    space["Solarize"] = (_linspace(255.0, 0.0, num_bins), False)
    space["AutoContrast"] = (None, False)
    space["Equalize"] = (None, False)
    if invert:
        space["Invert"] = (None, False)
    return space


class AutoAugmentPolicy(enum.Enum):
    """The policies learned by AutoAugment (Cubuk et al., 2019) on three datasets."""

    IMAGENET = "imagenet"
    CIFAR10 = "cifar10"
    SVHN = "svhn"


# Each line is a sub-policy of two steps "Op probability magnitude-bin" ("-" for ops without one),
# transcribed from the AutoAugment paper's appendix.
_POLICIES = {
    AutoAugmentPolicy.IMAGENET: """
        Posterize .4 8, Rotate .6 9 | Solarize .6 5, AutoContrast .6 - | Equalize .8 -, Equalize .6 -
        Posterize .6 7, Posterize .6 6 | Equalize .4 -, Solarize .2 4 | Equalize .4 -, Rotate .8 8
        Solarize .6 3, Equalize .6 - | Posterize .8 5, Equalize 1 - | Rotate .2 3, Solarize .6 8
        Equalize .6 -, Posterize .4 6 | Rotate .8 8, Color .4 0 | Rotate .4 9, Equalize .6 -
        Equalize 0 -, Equalize .8 - | Invert .6 -, Equalize 1 - | Color .6 4, Contrast 1 8
        Rotate .8 8, Color 1 2 | Color .8 8, Solarize .8 7 | Sharpness .4 7, Invert .6 -
        ShearX .6 5, Equalize 1 - | Color .4 0, Equalize .6 - | Equalize .4 -, Solarize .2 4
        Solarize .6 5, AutoContrast .6 - | Invert .6 -, Equalize 1 - | Color .6 4, Contrast 1 8
        Equalize .8 -, Equalize .6 -""",
    AutoAugmentPolicy.CIFAR10: """
        Invert .1 -, Contrast .2 6 | Rotate .7 2, TranslateX .3 9 | Sharpness .8 1, Sharpness .9 3
        ShearY .5 8, TranslateY .7 9 | AutoContrast .5 -, Equalize .9 - | ShearY .2 7, Posterize .3 7
        Color .4 3, Brightness .6 7 | Sharpness .3 9, Brightness .7 9 | Equalize .6 -, Equalize .5 -
        Contrast .6 7, Sharpness .6 5 | Color .7 7, TranslateX .5 8 | Equalize .3 -, AutoContrast .4 -
        TranslateY .4 3, Sharpness .2 6 | Brightness .9 6, Color .2 8 | Solarize .5 2, Invert 0 -
        Equalize .2 -, AutoContrast .6 - | Equalize .2 -, Equalize .6 - | Color .9 9, Equalize .6 -
        AutoContrast .8 -, Solarize .2 8 | Brightness .1 3, Color .7 0 | Solarize .4 5, AutoContrast .9 -
        TranslateY .9 9, TranslateY .7 9 | AutoContrast .9 -, Solarize .8 3 | Equalize .8 -, Invert .1 -
        TranslateY .7 9, AutoContrast .9 -""",
    AutoAugmentPolicy.SVHN: """
        ShearX .9 4, Invert .2 - | ShearY .9 8, Invert .7 - | Equalize .6 -, Solarize .6 6
        Invert .9 -, Equalize .6 - | Equalize .6 -, Rotate .9 3 | ShearX .9 4, AutoContrast .8 -
        ShearY .9 8, Invert .4 - | ShearY .9 5, Solarize .2 6 | Invert .9 -, AutoContrast .8 -
        Equalize .6 -, Rotate .9 3 | ShearX .9 4, Solarize .3 3 | ShearY .8 8, Invert .7 -
        Equalize .9 -, TranslateY .6 6 | Invert .9 -, Equalize .6 - | Contrast .3 3, Rotate .8 4
        Invert .8 -, TranslateY 0 2 | ShearY .7 6, Solarize .4 8 | Invert .6 -, Rotate .8 4
        ShearY .3 7, TranslateX .9 3 | ShearX .1 6, Invert .6 - | Solarize .7 2, TranslateY .6 7
        ShearY .8 4, Invert .8 - | ShearX .7 9, TranslateY .8 3 | ShearY .8 5, AutoContrast .7 -
        ShearX .7 2, Invert .1 -""",
}


def policy_steps(policy):
    """``[((op, p, bin), (op, p, bin)), ...]``: the 25 sub-policies of ``policy`` (bin None: no magnitude)."""
    text = _POLICIES[AutoAugmentPolicy(policy)]
    subs = []
    for sub in text.replace("\n", "|").split("|"):
        if not sub.strip():
            continue
        steps = []
        for step in sub.split(","):
            name, p, level = step.split()
            steps.append((name, float(p), None if level == "-" else int(level)))
        subs.append(tuple(steps))
    return subs


def _magnitude(magnitudes, index):
    return float(magnitudes[index]) if magnitudes is not None else 0.0


class AutoAugment:
    """One of the 25 learned sub-policies of ``policy``, picked at random; each step fires with its probability.

    Expects uint8 images (PIL, Tensor (..., C, H, W) or HWC array).
    """

    def __init__(self, policy=AutoAugmentPolicy.IMAGENET, interpolation=InterpolationMode.NEAREST, fill=None):
        self.policy = AutoAugmentPolicy(policy)
        self.interpolation = interpolation
        self.fill = fill
        self.policies = policy_steps(self.policy)

    @staticmethod
    def get_params(transform_num):
        """``(policy_id, probs, signs)``: which sub-policy, two uniform draws, two coin flips."""
        policy_id = _randint(0, transform_num)
        probs = [_rand(), _rand()]
        signs = [_randint(0, 2), _randint(0, 2)]
        return policy_id, probs, signs

    def __call__(self, img):
        fill = _fill_for(img, self.fill)
        _, h, w = F.get_dimensions(img)
        policy_id, probs, signs = self.get_params(len(self.policies))
        space = augmentation_space(10, (h, w), identity=False, invert=True)
        for k, (name, p, level) in enumerate(self.policies[policy_id]):
            if probs[k] <= p:
                magnitudes, signed = space[name]
                magnitude = _magnitude(magnitudes, level) if level is not None else 0.0
                if signed and signs[k] == 0:
                    magnitude = -magnitude
                img = apply_op(img, name, magnitude, self.interpolation, fill)
        return img

    def __repr__(self):
        return f"AutoAugment(policy={self.policy}, fill={self.fill})"


class RandAugment:
    """``num_ops`` operations drawn uniformly, all at the same ``magnitude`` bin (of ``num_magnitude_bins``)."""

    def __init__(self, num_ops=2, magnitude=9, num_magnitude_bins=31, interpolation=InterpolationMode.NEAREST, fill=None):  # fmt: skip
        if not 0 <= magnitude < num_magnitude_bins:
            raise ValueError(f"RandAugment: magnitude {magnitude} must be in [0, {num_magnitude_bins})")
        self.num_ops = num_ops
        self.magnitude = magnitude
        self.num_magnitude_bins = num_magnitude_bins
        self.interpolation = interpolation
        self.fill = fill

    def __call__(self, img):
        fill = _fill_for(img, self.fill)
        _, h, w = F.get_dimensions(img)
        space = augmentation_space(self.num_magnitude_bins, (h, w))
        names = list(space)
        for _ in range(self.num_ops):
            name = names[_randint(0, len(names))]
            magnitudes, signed = space[name]
            magnitude = _magnitude(magnitudes, self.magnitude)
            if signed and _randint(0, 2):
                magnitude = -magnitude
            img = apply_op(img, name, magnitude, self.interpolation, fill)
        return img

    def __repr__(self):
        return f"RandAugment(num_ops={self.num_ops}, magnitude={self.magnitude}, num_magnitude_bins={self.num_magnitude_bins})"  # fmt: skip


class TrivialAugmentWide:
    """One operation drawn uniformly, at a magnitude bin drawn uniformly (Mueller and Hutter, 2021)."""

    def __init__(self, num_magnitude_bins=31, interpolation=InterpolationMode.NEAREST, fill=None):
        self.num_magnitude_bins = num_magnitude_bins
        self.interpolation = interpolation
        self.fill = fill

    def __call__(self, img):
        fill = _fill_for(img, self.fill)
        space = augmentation_space(self.num_magnitude_bins, (0, 0), wide=True)
        names = list(space)
        name = names[_randint(0, len(names))]
        magnitudes, signed = space[name]
        magnitude = _magnitude(magnitudes, _randint(0, len(magnitudes))) if magnitudes is not None else 0.0
        if signed and _randint(0, 2):
            magnitude = -magnitude
        return apply_op(img, name, magnitude, self.interpolation, fill)

    def __repr__(self):
        return f"TrivialAugmentWide(num_magnitude_bins={self.num_magnitude_bins})"
