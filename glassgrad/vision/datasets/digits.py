"""The UCI handwritten digits, shipped inside glassgrad: no download, no file from the user."""

import os

import numpy as np

from glassgrad.tensor import Tensor
from glassgrad.vision.datasets.vision import ImageArrayDataset

_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data", "digits.npz")
TEST_SIZE = 297


class Digits(ImageArrayDataset):
    """1,797 8x8 grey images of handwritten digits in 10 classes (UCI Optical Recognition of Handwritten Digits).

    E. Alpaydin, C. Kaynak, 1998, CC BY 4.0 (see ``glassgrad/data/DIGITS_LICENSE.txt``). The file
    ``glassgrad/data/digits.npz`` ships with the package.

    Split (fixed): the first 1,500 images are the training set, the last 297 the test set. The
    images come in a repeating 0..9 order, so both parts hold every class (test: 27 to 33 each).

    The original values are 0..16; ``data`` holds them scaled to 0..255 (``round(v * 255 / 16)``)
    so that ``ToTensor`` gives [0, 1] as with any other uint8 image. ``data`` is a uint8 Tensor
    (N, 8, 8), ``targets`` an int64 Tensor, ``dataset[i]`` is ``(PIL image mode L, label)``.

    ``root`` and ``download`` are accepted for the common dataset signature and not needed.
    """

    classes = [str(d) for d in range(10)]

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        with np.load(_FILE) as f:
            raw, labels = f["images"], f["labels"].astype(np.int64)
        split = slice(0, len(raw) - TEST_SIZE) if train else slice(len(raw) - TEST_SIZE, None)
        scaled = (raw[split].astype(np.uint16) * 255 + 8) // 16
        self._images = np.ascontiguousarray(scaled.astype(np.uint8))
        self._labels = np.ascontiguousarray(labels[split])
        self.data = Tensor._wrap(self._images)
        self.targets = Tensor._wrap(self._labels)
