"""STL-10 from the official binary files (``stl10_binary/``): 96x96 RGB images, 10 classes."""

import os

import numpy as np

from glassgrad.vision.datasets import utils
from glassgrad.vision.datasets.vision import ImageArrayDataset

_IMAGE_BYTES = 3 * 96 * 96


class STL10(ImageArrayDataset):
    """STL-10: ``train`` (5,000 labelled), ``test`` (8,000), ``unlabeled`` (100,000), ``train+unlabeled``.

    Files in ``root/stl10_binary``: ``<split>_X.bin`` (images, each channel stored column by column)
    and ``<split>_y.bin`` (labels 1..10, stored here as 0..9; unlabelled images get -1).
    ``folds`` (0..9) keeps the 1,000 training images of that fold (``fold_indices.txt``).
    ``data`` is (N, 3, 96, 96) uint8, ``labels`` int64; ``dataset[i]`` is ``(PIL RGB image, label)``.
    """

    base_folder = "stl10_binary"
    url = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"
    filename = "stl10_binary.tar.gz"
    tgz_md5 = "91f7769df0f17e558f3565bffb0c7dfb"
    splits = ("train", "train+unlabeled", "unlabeled", "test")

    def __init__(self, root, split="train", folds=None, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        if split not in self.splits:
            raise ValueError(f"STL10: split must be one of {list(self.splits)}, got {split!r}")
        if folds is not None and (not isinstance(folds, int) or not 0 <= folds < 10):
            raise ValueError(f"STL10: folds must be None or an int in 0..9, got {folds!r}")
        self.split, self.folds = split, folds
        folder = os.path.join(self.root, self.base_folder)
        needed = {"train": ["train_X.bin", "train_y.bin"], "test": ["test_X.bin", "test_y.bin"]}
        needed["unlabeled"] = ["unlabeled_X.bin"]
        needed["train+unlabeled"] = needed["train"] + needed["unlabeled"]
        missing = [f for f in needed[split] if not os.path.isfile(os.path.join(folder, f))]
        if missing and download:
            utils.download_and_extract_archive(self.url, self.root, filename=self.filename, md5=self.tgz_md5, what="STL10")  # fmt: skip
            missing = [f for f in needed[split] if not os.path.isfile(os.path.join(folder, f))]
        if missing:
            raise utils.DatasetNotFoundError(
                f"STL10: {', '.join(missing)} not found in {folder}. Pass download=True (needs network), or fetch "
                f"{self.url} (md5 {self.tgz_md5}) by hand and extract it in {self.root}"
            )
        if split in ("train", "train+unlabeled"):
            images, labels = self._load(folder, "train_X.bin", "train_y.bin")
            images, labels = self._fold(folder, images, labels)
            if split == "train+unlabeled":
                extra, _ = self._load(folder, "unlabeled_X.bin")
                images = np.concatenate([images, extra])
                labels = np.concatenate([labels, np.full(len(extra), -1, np.int64)])
        elif split == "unlabeled":
            images, _ = self._load(folder, "unlabeled_X.bin")
            labels = np.full(len(images), -1, np.int64)
        else:
            images, labels = self._load(folder, "test_X.bin", "test_y.bin")
        self.data = images  # (N, 3, 96, 96)
        self.labels = labels
        self._images = images.transpose(0, 2, 3, 1)
        self._labels = labels
        self.train = split != "test"
        class_file = os.path.join(folder, "class_names.txt")
        if os.path.isfile(class_file):
            with open(class_file) as f:
                self.classes = f.read().splitlines()

    @staticmethod
    def _load(folder, images_file, labels_file=None):
        path = os.path.join(folder, images_file)
        raw = np.fromfile(path, np.uint8)
        if raw.size % _IMAGE_BYTES:
            raise ValueError(
                f"STL10: {path} holds {raw.size} bytes, not a whole number of 96x96x3 images; fetch it again"
            )
        # Each channel is stored column-major: (N, C, W, H) in the file.
        images = raw.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)
        if labels_file is None:
            return images, None
        label_path = os.path.join(folder, labels_file)
        labels = np.fromfile(label_path, np.uint8).astype(np.int64) - 1
        if len(labels) != len(images):
            raise ValueError(f"STL10: {path} holds {len(images)} images but {label_path} holds {len(labels)} labels")
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise ValueError(f"STL10: {label_path} has labels outside 1..10")
        return images, labels

    def _fold(self, folder, images, labels):
        if self.folds is None:
            return images, labels
        path = os.path.join(folder, "fold_indices.txt")
        with open(path) as f:
            lines = f.read().splitlines()
        if len(lines) <= self.folds:
            raise ValueError(f"STL10: {path} has {len(lines)} folds, fold {self.folds} was asked for")
        index = np.array(lines[self.folds].split(), dtype=np.int64)
        if index.size and (index.min() < 0 or index.max() >= len(images)):
            raise ValueError(f"STL10: fold {self.folds} of {path} indexes outside the {len(images)} training images")
        return images[index], labels[index]

    def extra_repr(self):
        return f"Split: {self.split}"
