"""SVHN (Street View House Numbers), cropped digits, from the official MATLAB files ``*_32x32.mat``."""

import os

import numpy as np

from glassgrad.vision.datasets import utils
from glassgrad.vision.datasets.matlab import loadmat
from glassgrad.vision.datasets.vision import ImageArrayDataset


class SVHN(ImageArrayDataset):
    """SVHN digits 32x32 RGB: ``train`` (73,257), ``test`` (26,032), ``extra`` (531,131).

    Reads ``root/<split>_32x32.mat`` (``X``: 32x32x3xN uint8, ``y``: labels 1..10 where 10 is the
    digit 0, mapped to 0 as torchvision does). ``data`` is an (N, 3, 32, 32) uint8 array,
    ``labels`` an int64 array; ``dataset[i]`` is ``(PIL RGB image, label)`` before ``transform``.
    """

    split_list = {
        "train": [
            "http://ufldl.stanford.edu/housenumbers/train_32x32.mat",
            "train_32x32.mat",
            "e26dedcc434d2e4c54c9b2d4a06d8373",
        ],  # fmt: skip
        "test": [
            "http://ufldl.stanford.edu/housenumbers/test_32x32.mat",
            "test_32x32.mat",
            "eb5a983be6a315427106f1b164d9cef3",
        ],  # fmt: skip
        "extra": [
            "http://ufldl.stanford.edu/housenumbers/extra_32x32.mat",
            "extra_32x32.mat",
            "a93ce644f1a588dc4d68dda5feec44a7",
        ],  # fmt: skip
    }
    classes = [str(d) for d in range(10)]

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        if split not in self.split_list:
            raise ValueError(f"SVHN: split must be one of {list(self.split_list)}, got {split!r}")
        self.split = split
        url, filename, md5 = self.split_list[split]
        path = os.path.join(self.root, filename)
        if download and not utils.check_integrity(path, md5):
            utils.download_url(url, self.root, filename, md5, "SVHN")
        if not os.path.isfile(path):
            raise utils.DatasetNotFoundError(
                f"SVHN: {path} not found. Pass download=True (needs network), or fetch {url} "
                f"(md5 {md5}) by hand and put it in {self.root}"
            )
        mat = loadmat(path, ["X", "y"])
        x, y = mat["X"], mat["y"]
        if x.ndim != 4 or x.shape[:3] != (32, 32, 3):
            raise ValueError(f"SVHN: {path}: X has shape {x.shape}, expected (32, 32, 3, N); is it a *_32x32.mat file?")
        labels = y.reshape(-1).astype(np.int64)
        if labels.size != x.shape[3]:
            raise ValueError(f"SVHN: {path} holds {x.shape[3]} images but {labels.size} labels")
        if labels.size and (labels.min() < 0 or labels.max() > 10):
            raise ValueError(f"SVHN: {path} has labels outside 0..10")
        labels[labels == 10] = 0
        self._images = np.ascontiguousarray(np.moveaxis(x.astype(np.uint8, copy=False), 3, 0))  # (N, 32, 32, 3)
        self._labels = labels
        self.data = self._images.transpose(0, 3, 1, 2)
        self.labels = labels
        self.train = split != "test"

    def extra_repr(self):
        return f"Split: {self.split}"
