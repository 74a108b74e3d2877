"""CIFAR-10 from a tar.gz of JPEG files in ImageFolder layout (``train/<class>/NNNN.jpg``, ``test/<class>/...``).

The first use of a split decodes its JPEGs straight from the archive (no extraction) into one
uint8 array and caches it as ``.npy`` files in ``cache_dir("cifar10-jpeg-<digest>")``; later uses
load those in a fraction of a second. Images are ordered as ``ImageFolder`` would list the
extracted tree: classes sorted by name, files sorted by name within a class.
"""

import io
import os
import tarfile

import numpy as np
from PIL import Image

from glassgrad.vision.datasets import utils
from glassgrad.vision.datasets.vision import ImageArrayDataset

ARCHIVE_NAME = "cifar10-jpeg.tar.gz"
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def find_cifar10_jpeg(root=None):
    """The path of ``cifar10-jpeg.tar.gz`` in ``root`` or in ``$GLASSGRAD_DATA``, or None."""
    for folder in (root, utils.data_dir()):
        if folder:
            path = os.path.join(os.path.expanduser(str(folder)), ARCHIVE_NAME)
            if os.path.isfile(path):
                return path
    return None


def load_cifar10_jpeg(archive, split="train", cache=True):
    """``(images uint8 (N, 32, 32, 3), labels int64 (N,), classes)`` of one split of the JPEG archive."""
    if split not in ("train", "test"):
        raise ValueError(f"load_cifar10_jpeg: split must be 'train' or 'test', got {split!r}")
    folder = None
    if cache:
        stat = os.stat(archive)
        digest = utils.file_digest(archive, "sha256")[:16]
        folder = utils.cache_dir(f"cifar10-jpeg-{digest}")
        paths = [os.path.join(folder, f"{split}_{part}") for part in ("images.npy", "labels.npy", "classes.txt")]
        if all(os.path.isfile(p) and os.path.getmtime(p) >= stat.st_mtime for p in paths):
            with open(paths[2]) as f:
                classes = f.read().split()
            return np.load(paths[0]), np.load(paths[1]), classes
    images, labels, classes = _decode_split(archive, split)
    if folder is not None:
        # Write beside, then rename: a reader never sees half a file, and concurrent writers agree.
        for path, value in zip(paths[:2], (images, labels)):
            tmp = f"{path}.{os.getpid()}.tmp.npy"
            np.save(tmp, value)
            os.replace(tmp, path)
        tmp = f"{paths[2]}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(classes))
        os.replace(tmp, paths[2])
    return images, labels, classes


def _decode_split(archive, split):
    found = []
    try:
        with tarfile.open(archive, "r|gz") as tar:
            for member in tar:
                parts = member.name.removeprefix("./").split("/")
                if not member.isfile() or len(parts) != 3 or parts[0] != split:
                    continue
                if not parts[2].lower().endswith(_IMAGE_SUFFIXES):
                    continue
                data = tar.extractfile(member).read()
                with Image.open(io.BytesIO(data)) as img:
                    found.append((parts[1], parts[2], np.asarray(img.convert("RGB"))))
    except (tarfile.TarError, EOFError, OSError) as error:
        raise RuntimeError(f"CIFAR10JPEG: {archive} is truncated or corrupted ({error}); fetch it again") from error
    if not found:
        raise RuntimeError(
            f"CIFAR10JPEG: {archive} holds no images under {split}/<class>/; is it the CIFAR-10 JPEG archive?"
        )
    found.sort(key=lambda item: (item[0], item[1]))
    classes = sorted({c for c, _, _ in found})
    class_to_idx = {c: i for i, c in enumerate(classes)}
    shapes = {a.shape for _, _, a in found}
    if len(shapes) != 1:
        raise RuntimeError(f"CIFAR10JPEG: {archive} mixes image sizes {sorted(shapes)}; expected all 32x32 RGB")
    images = np.stack([a for _, _, a in found])
    labels = np.array([class_to_idx[c] for c, _, _ in found], dtype=np.int64)
    return images, labels, classes


class CIFAR10JPEG(ImageArrayDataset):
    """CIFAR-10 read from the JPEG archive ``cifar10-jpeg.tar.gz`` (ImageFolder layout inside).

    Args:
        root: a folder holding ``cifar10-jpeg.tar.gz``, or the archive itself; None looks in
            ``$GLASSGRAD_DATA``.
        train: the 50,000 training images, else the 10,000 test images.
        cache: keep the decoded arrays as .npy under ``GLASSGRAD_CACHE`` (default ``~/.cache/glassgrad``).

    Same interface as ``CIFAR10``: ``data`` uint8 (N, 32, 32, 3), ``targets`` list of ints,
    ``classes`` (airplane ... truck), ``dataset[i]`` is ``(PIL image, label)``, and DataLoader batches
    are augmented as whole uint8 stacks.
    """

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False, cache=True):
        root = None if root is None else os.path.expanduser(str(root))
        archive = root if root is not None and os.path.isfile(root) else find_cifar10_jpeg(root)
        if archive is None:
            where = [os.path.join(p, ARCHIVE_NAME) for p in (root, utils.data_dir()) if p]
            raise utils.DatasetNotFoundError(
                f"CIFAR10JPEG: {ARCHIVE_NAME} not found; looked for {', '.join(where) or 'it'} "
                "(set GLASSGRAD_DATA to the folder that holds it, or pass root=). It has no public download "
                "address: copy it from the shared datasets folder, or use CIFAR10(root, download=True) for the "
                "official pickled batches"
            )
        super().__init__(os.path.dirname(archive), transform=transform, target_transform=target_transform)
        self.archive = archive
        self.train = train
        self._images, self._labels, self.classes = load_cifar10_jpeg(archive, "train" if train else "test", cache)
        self.data = self._images
        self.targets = self._labels.tolist()
