"""torchvision.transforms for glassgrad: image transforms seeded through ``glassgrad.manual_seed``."""

from glassgrad.vision.transforms import functional
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
