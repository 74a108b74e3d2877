"""Dataset names -> DataLoaders: what ``glassgrad train --dataset NAME`` trains on.

The names, readers, statistics and augmentations are the registry ``glassgrad.train.config.DATASETS``;
``imagefolder:PATH`` reads ``PATH/train/<class>/...`` and ``PATH/test/<class>/...``, or one folder of
class folders split 90/10. The data folder is ``data_dir`` or the ``GLASSGRAD_DATA`` environment
variable (a folder laid out like the project's shared datasets).
"""

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import glassgrad
from glassgrad.train.config import DATASETS, dataset_spec


class DataError(ValueError):
    """A dataset that cannot be found or read; the message says how to fix it."""


@dataclass
class DataBundle:
    name: str
    train_loader: object
    test_loader: object
    num_classes: int
    in_channels: int
    input_size: tuple
    class_names: list
    mean: tuple
    std: tuple
    info: dict = field(default_factory=dict)


def default_data_dir():
    return os.environ.get("GLASSGRAD_DATA") or str(Path.home() / ".glassgrad" / "data")


def _normalize_name(name):
    if name.lower().startswith("imagefolder:"):
        return "imagefolder", name.split(":", 1)[1]
    if dataset_spec(name) is None:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return next(key for key, spec in DATASETS.items() if spec is dataset_spec(name)), None


# Datasets whose readers can fetch their files from the official address (download=True).
DOWNLOADABLE = tuple(name for name, spec in DATASETS.items() if spec.downloadable)


def _open_raw(key, path, data_dir, train, download=False, notices=None):
    """The dataset object (no transform) for one split; what the readers warn about goes to ``notices``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = _open_raw_quietly(key, path, data_dir, train, download)
    for warning in caught:
        text = str(warning.message)
        if notices is None:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        elif text not in notices:
            notices.append(text)
    return dataset


def _open_raw_quietly(key, path, data_dir, train, download):
    from glassgrad.vision import datasets

    if key == "digits":
        return datasets.Digits(train=train)
    if key == "imagefolder":
        return _image_folder(path, train)
    spec = DATASETS[key]
    classes = [getattr(datasets, reader) for reader in spec.readers]
    first = None
    # The shared layout keeps each dataset in a folder of its own name (fashion-mnist/...).
    roots = [Path(data_dir), Path(data_dir) / key]
    # Files already in either place win; only then does a download go to the first place.
    attempts = [(cls, root, False) for cls in classes for root in roots]
    if download and spec.downloadable:
        attempts.append((classes[0], roots[0], True))
    for cls, root, fetch in attempts:
        try:
            return cls(str(root), train=train, download=True) if fetch else cls(str(root), train=train)
        except (FileNotFoundError, OSError, ValueError) as error:
            first = error if fetch else first or error
    reason = str(first).splitlines()[0].rstrip(".") if first else "no files"
    # The readers speak to Python callers (download=True); this message speaks to the command line.
    reason = re.sub(r"\b[Pp]ass download=True", "pass --download", reason)
    hint = ""
    if "CIFAR10JPEG" in spec.readers:
        from glassgrad.vision.datasets.cifar_jpeg import ARCHIVE_NAME

        hint = (
            f"; or copy the JPEG archive {ARCHIVE_NAME} (train/<class>/*.jpg and test/<class>/*.jpg inside, "
            f"as the README recommends) into {data_dir}"
        )
    raise DataError(
        f"{key} not found in {data_dir}: {reason}{hint}. Point --data-dir or GLASSGRAD_DATA at the folder holding it"
    )


def _image_folder(path, train):
    from glassgrad.utils.data import Subset
    from glassgrad.vision import datasets

    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"imagefolder: {root} is not a folder; give imagefolder:PATH with PATH/train/<class>/ images")
    split = "train" if train else "test"
    for name in (split,) if train else ("test", "val"):
        if (root / name).is_dir():
            return datasets.ImageFolder(str(root / name))
    whole = datasets.ImageFolder(str(root))
    # One folder of classes: a fixed 90/10 split, the same for every run.
    order = np.random.default_rng(0).permutation(len(whole))
    cut = int(round(0.9 * len(whole)))
    subset = Subset(whole, order[:cut].tolist() if train else order[cut:].tolist())
    subset.classes = whole.classes
    return subset


def _first_image_shape(dataset):
    from glassgrad.vision.transforms import ToTensor

    image, _ = dataset[0]
    tensor = image if isinstance(image, glassgrad.Tensor) else ToTensor()(image)
    return tuple(tensor.shape)


def _targets(dataset):
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        return np.asarray(targets.numpy() if isinstance(targets, glassgrad.Tensor) else targets)
    return None


def _channel_stats(dataset, channels):
    """Mean and std per channel of up to 2,000 training images, for datasets without published stats."""
    from glassgrad.vision.transforms import ToTensor

    picks = np.linspace(0, len(dataset) - 1, min(len(dataset), 2000)).astype(int)
    images = getattr(dataset, "_images", None)
    if isinstance(images, np.ndarray) and images.dtype == np.uint8:
        array = images[picks].astype(np.float64) / 255.0
        array = array[:, None] if array.ndim == 3 else array.transpose(0, 3, 1, 2)
    else:
        to_tensor = ToTensor()
        stack = []
        for i in picks:
            image = dataset[int(i)][0]
            stack.append((image if isinstance(image, glassgrad.Tensor) else to_tensor(image)).numpy())
        array = np.stack(stack).astype(np.float64)
    mean = array.mean(axis=(0, 2, 3))
    std = array.std(axis=(0, 2, 3))
    std = np.where(std > 0, std, 1.0)
    return tuple(round(float(m), 4) for m in mean[:channels]), tuple(round(float(s), 4) for s in std[:channels])


def _augmentations(key, size):
    from glassgrad.vision import transforms as T

    h, w = size
    pad = max(1, h // 8)
    steps = [T.RandomCrop((h, w), padding=pad)]
    if dataset_spec(key if key != "imagefolder" else "imagefolder:").flips:
        steps.append(T.RandomHorizontalFlip())
    return steps


class _Transformed:
    """A dataset with a transform applied to its images (works for Subset and raw datasets alike)."""

    def __init__(self, dataset, transform):
        self.dataset = dataset
        self.transform = transform

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        image, target = self.dataset[index]
        return self.transform(image), target


def _with_transform(dataset, transform):
    if hasattr(dataset, "transform") and not isinstance(dataset, _Transformed):
        dataset.transform = transform
        return dataset
    return _Transformed(dataset, transform)


def _limit(dataset, limit, seed):
    """A fixed random subset of ``limit`` items (the same for a given seed)."""
    from glassgrad.utils.data import Subset

    if limit is None or limit >= len(dataset):
        return dataset
    order = np.random.default_rng(seed).permutation(len(dataset))[:limit]
    return Subset(dataset, sorted(order.tolist()))


def load_data(
    name,
    data_dir=None,
    *,
    batch_size=128,
    augment=False,
    limit=None,
    test_limit=None,
    workers=0,
    seed=0,
    download=False,
):
    """Open dataset ``name`` and return a ``DataBundle`` with shuffled train and ordered test loaders.

    ``limit`` keeps a fixed random subset of that many training images (``test_limit``, default
    ``limit``, of test images) for quick runs. Raises ``DataError`` with the fix when the data is
    missing or the name is unknown. ``download`` lets the readers of ``DOWNLOADABLE`` fetch missing
    files; what the readers warn about (e.g. a JPEG copy read instead) is in ``info["notices"]``.
    """
    from glassgrad.utils.data import DataLoader
    from glassgrad.vision import transforms as T

    key, path = _normalize_name(name)
    data_dir = data_dir or default_data_dir()
    if download and key not in DOWNLOADABLE:
        raise DataError(f"{name} cannot be downloaded; --download works for {', '.join(DOWNLOADABLE)}")
    notices = []
    train_raw = _open_raw(key, path, data_dir, True, download, notices)
    test_raw = _open_raw(key, path, data_dir, False, download, notices)
    if len(train_raw) == 0 or len(test_raw) == 0:
        raise DataError(f"{name}: no images found in {'the train' if len(train_raw) == 0 else 'the test'} split")
    classes = list(getattr(train_raw, "classes", None) or [])
    targets = _targets(train_raw)
    if not classes:
        count = int(targets.max()) + 1 if targets is not None else 10
        classes = [str(i) for i in range(count)]
    shape = _first_image_shape(train_raw)
    channels, size = shape[0], (shape[1], shape[2])
    stats = DATASETS[key].stats if key in DATASETS else None
    if stats is not None:
        mean, std = stats
    else:
        mean, std = _channel_stats(train_raw, channels)
    base = [T.ToTensor(), T.Normalize(mean, std)]
    train_tf = T.Compose((_augmentations(key, size) if augment else []) + base)
    test_tf = T.Compose(base)
    train_set = _limit(_with_transform(train_raw, train_tf), limit, seed)
    test_limit = limit if test_limit is None else test_limit
    test_set = _limit(_with_transform(test_raw, test_tf), test_limit, seed)
    generator = glassgrad.Generator().manual_seed(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, num_workers=workers, generator=generator)
    test_loader = DataLoader(test_set, batch_size=max(batch_size, 100), shuffle=False, num_workers=workers)
    info = {"train_images": len(train_set), "test_images": len(test_set), "augment": bool(augment), "notices": notices}
    return DataBundle(
        key if path is None else f"imagefolder:{path}",
        train_loader,
        test_loader,
        len(classes),
        channels,
        size,
        classes,
        tuple(mean),
        tuple(std),
        info,
    )


def image_transform(mean, std, in_channels, input_size):
    """The test-time pipeline for a user's image file: colour mode, size, tensor, normalisation."""
    from glassgrad.vision import transforms as T

    def prepare(image):
        image = image.convert("L" if in_channels == 1 else "RGB")
        if image.size != (input_size[1], input_size[0]):
            image = image.resize((input_size[1], input_size[0]))
        return image

    return T.Compose([T.Lambda(prepare), T.ToTensor(), T.Normalize(mean, std)])
