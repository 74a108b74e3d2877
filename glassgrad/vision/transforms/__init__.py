"""torchvision.transforms for glassgrad: image transforms seeded through ``glassgrad.manual_seed``."""

from glassgrad.vision.transforms import functional
from glassgrad.vision.transforms._augment import (
    ColorJitter,
    ConvertImageDtype,
    FiveCrop,
    GaussianBlur,
    RandomAffine,
    RandomChoice,
    RandomErasing,
    RandomGrayscale,
    RandomOrder,
    RandomPerspective,
    RandomRotation,
    TenCrop,
)
from glassgrad.vision.transforms.autoaugment import AutoAugment, AutoAugmentPolicy, RandAugment, TrivialAugmentWide
from glassgrad.vision.transforms.functional import InterpolationMode
from glassgrad.vision.transforms.transforms import (
    CenterCrop,
    Compose,
    Grayscale,
    Lambda,
    Normalize,
    Pad,
    PILToTensor,
    RandomApply,
    RandomCrop,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomVerticalFlip,
    Resize,
    ToPILImage,
    ToTensor,
    batch_transform,
)
