"""FakeData: random images and labels, the same for the same index every time."""

import numpy as np
from PIL import Image

from glassgrad.vision.datasets.vision import VisionDataset


class FakeData(VisionDataset):
    """``size`` random images of ``image_size`` (C, H, W) with labels in ``0..num_classes-1``.

    Sample ``i`` is drawn from its own generator seeded with ``i + random_offset``, as torchvision
    does with ``torch.manual_seed``; the global generator is left untouched. Images are PIL (mode
    L for 1 channel, RGB for 3, RGBA for 4) of uniform uint8 noise; the values differ from
    torchvision's (its noise is a clipped Gaussian), the determinism and the shapes do not.
    """

    _MODES = {1: "L", 3: "RGB", 4: "RGBA"}

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None, target_transform=None, random_offset=0):  # fmt: skip
        super().__init__(None, transform=transform, target_transform=target_transform)
        image_size = tuple(int(s) for s in image_size)
        if len(image_size) != 3 or image_size[0] not in self._MODES or min(image_size) <= 0:
            raise ValueError(f"FakeData: image_size must be (C, H, W) with C in 1, 3 or 4, got {image_size}")
        if num_classes <= 0 or size < 0:
            raise ValueError(f"FakeData: need size >= 0 and num_classes > 0, got {size} and {num_classes}")
        self.size, self.image_size, self.num_classes = int(size), image_size, int(num_classes)
        self.random_offset = int(random_offset)

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        if index < 0:
            index += self.size
        if not 0 <= index < self.size:
            raise IndexError(f"FakeData: index {index} is out of range for {self.size} samples")
        rng = np.random.default_rng(index + self.random_offset)
        c, h, w = self.image_size
        pixels = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
        target = int(rng.integers(0, self.num_classes))
        img = Image.fromarray(pixels[:, :, 0] if c == 1 else pixels)  # L, RGB or RGBA from the shape
        return self._apply(img, target)

    def extra_repr(self):
        return f"Image size: {self.image_size}, classes: {self.num_classes}"
