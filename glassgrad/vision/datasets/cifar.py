"""CIFAR-10 and CIFAR-100 from the official "python version" (pickled batches).

The batches are pickles, and unpickling can run arbitrary code, so they are read with an
unpickler that admits only what those files contain: plain containers, strings, numbers and
NumPy arrays. Anything else stops the load with an error naming the file.
"""

import importlib
import os
import pickle

import numpy as np

from glassgrad._log import get_logger
from glassgrad.vision.datasets import utils
from glassgrad.vision.datasets.vision import ImageArrayDataset

_log = get_logger("vision")

# (module, name) pairs a CIFAR batch may ask for: NumPy's array reconstruction under its NumPy 1
# and NumPy 2 module names (and the buffer path of pickle protocol 5).
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): ("multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"): ("numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): ("numeric", "_frombuffer"),
    ("numpy", "ndarray"): (None, "ndarray"),
    ("numpy", "dtype"): (None, "dtype"),
    # Protocol 2 stores bytes as a latin-1 string re-encoded on load; only that re-encoding is admitted.
    ("_codecs", "encode"): ("codecs", "encode"),
}


def _plain_dtype(source):
    """``numpy.dtype`` for a plain number type only: sub-array, structured and object dtypes are refused."""

    def dtype(spec, align=False, copy=False):
        result = np.dtype(spec) if isinstance(spec, str) and spec.isalnum() else None
        if result is None or result.kind not in "biuf":
            raise UnsafePickleError(
                f"{source}: refusing numpy.dtype({spec!r}): a dataset batch holds only plain number arrays, so "
                "the file may be booby-trapped. Delete it and download the dataset again"
            )
        return result

    return dtype


def _latin1_encoder(source):
    def encode(obj, encoding="latin1", errors="strict"):
        if not isinstance(obj, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
            raise UnsafePickleError(
                f"{source}: refusing _codecs.encode({type(obj).__name__}, {encoding!r}): only the latin-1 bytes of "
                "pickle protocol 2 are admitted; the file may be booby-trapped. Delete it and download it again"
            )
        return obj.encode("latin1")

    return encode


def _numpy_core(submodule):
    try:
        return importlib.import_module(f"numpy._core.{submodule}")
    except ImportError:  # NumPy 1
        return importlib.import_module(f"numpy.core.{submodule}")


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for something outside what a dataset file may contain."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only plain containers and NumPy arrays."""

    def __init__(self, file, source="pickle", **kwargs):
        super().__init__(file, **kwargs)
        self.source = source

    def find_class(self, module, name):
        target = _ALLOWED.get((module, name))
        if target is None:
            raise UnsafePickleError(
                f"{self.source}: refusing to load {module}.{name}: this file asks for an object that a dataset "
                "batch never contains (only plain containers and NumPy arrays are admitted), so it may be "
                "booby-trapped to run code. Delete it and download the dataset again from its official address"
            )
        submodule, attr = target
        if submodule == "codecs":
            return _latin1_encoder(self.source)
        if attr == "dtype":
            return _plain_dtype(self.source)
        return getattr(np if submodule is None else _numpy_core(submodule), attr)


def restricted_load(path, what="pickle"):
    """Unpickle ``path`` with ``RestrictedUnpickler`` (Python 2 strings read as latin-1, as CIFAR needs)."""
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f, source=f"{what}: {path}", encoding="latin1").load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as error:
            raise ValueError(
                f"{what}: {path} is truncated or corrupted ({type(error).__name__}: {error}); delete it and "
                "download the dataset again"
            ) from error


class CIFAR10(ImageArrayDataset):
    """CIFAR-10: 60,000 32x32 colour images in 10 classes, 50,000 for training and 10,000 for test.

    Reads ``root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}``. Where they are
    missing it uses ``root/cifar-10-python.tar.gz`` if present (checked and extracted), or downloads
    it with ``download=True``. Where neither works but the JPEG copy of CIFAR-10
    (``cifar10-jpeg.tar.gz`` in ``root`` or in ``$GLASSGRAD_DATA``) is there, it reads that instead
    through ``CIFAR10JPEG``, with a warning: same classes, same split sizes, lossy pixels, and images
    in class-then-file order rather than the official order.

    ``data`` is a uint8 array (N, 32, 32, 3); ``targets`` a list of ints; ``dataset[i]`` is
    ``(PIL image, label)`` before ``transform``.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [
        ["data_batch_1", "c99cafc152244af753f735de768cd75f"],
        ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
        ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
        ["data_batch_4", "634d18415352ddfa80567beed471001a"],
        ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"],
    ]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names", "md5": "5ff9c542aee3614f3951f8cda6e48888"}
    label_key = "labels"
    jpeg_fallback = True
    images_per_file = {"train": 10000, "test": 10000}

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        folder = os.path.join(self.root, self.base_folder)
        files = [name for name, _ in self.train_list + self.test_list] + [self.meta["filename"]]
        if not all(os.path.isfile(os.path.join(folder, f)) for f in files):
            archive = os.path.join(self.root, self.filename)
            if os.path.isfile(archive):
                self._extract(archive)
            elif download:
                try:
                    utils.download_url(self.url, self.root, self.filename, self.tgz_md5, type(self).__name__)
                except utils.DatasetNotFoundError as error:
                    if self._use_jpeg_copy(str(error)):
                        return
                    raise utils.DatasetNotFoundError(
                        f"{error}. Looked for the extracted files {', '.join(files)} in {folder} and for the "
                        f"archive at {archive}; either one placed by hand works (the archive is checked and extracted)"
                    ) from error
                self._extract(archive)
            elif self._use_jpeg_copy(None):
                return
            else:
                raise utils.DatasetNotFoundError(self._missing_message(folder, files, archive))
        self._load(folder)

    def _extract(self, archive):
        if not utils.check_integrity(archive, self.tgz_md5):
            raise RuntimeError(
                f"{type(self).__name__}: {archive} does not have the published md5 {self.tgz_md5} (truncated or "
                f"altered); delete it and fetch {self.url} again"
            )
        utils.extract_archive(archive, self.root)

    def _missing_message(self, folder, files, archive):
        return (
            f"{type(self).__name__}: dataset not found. Wanted the official python-version files {', '.join(files)} "
            f"in {folder}; looked for them there and for the archive {archive}. Pass download=True to fetch "
            f"{self.url} (needs network), or fetch it by hand and copy it to {archive} (it is checked and "
            "extracted on first use)"
        )

    def _use_jpeg_copy(self, download_error):
        if not self.jpeg_fallback:
            return False
        from glassgrad.vision.datasets.cifar_jpeg import find_cifar10_jpeg, load_cifar10_jpeg

        archive = find_cifar10_jpeg(self.root)
        if archive is None:
            return False
        _log.warning(
            "CIFAR10: the python-version batches are not in %s%s; using the JPEG copy %s instead "
            "(lossy pixels, class-then-file order)",
            os.path.join(self.root, self.base_folder),
            " and could not be downloaded" if download_error else "",
            archive,
        )
        self._images, self._labels, self.classes = load_cifar10_jpeg(archive, "train" if self.train else "test")
        self.data = self._images
        self.targets = self._labels.tolist()
        return True

    def _load(self, folder):
        name = type(self).__name__
        images, labels = [], []
        most = self.images_per_file["train" if self.train else "test"]
        for filename, md5 in self.train_list if self.train else self.test_list:
            path = os.path.join(folder, filename)
            # Before unpickling: a file that is not the published one is never parsed.
            if md5 is not None and not utils.check_integrity(path, md5):
                raise RuntimeError(
                    f"{name}: {path} does not have the published md5 {md5} (truncated, altered or hostile); delete "
                    f"it and download the dataset again ({self.url})"
                )
            entry = restricted_load(path, name)
            data = entry.get("data") if isinstance(entry, dict) else None
            batch_labels = entry.get(self.label_key) if isinstance(entry, dict) else None
            if (
                not isinstance(data, np.ndarray)
                or data.dtype != np.uint8
                or data.ndim != 2
                or data.shape[1] != 3072
                or data.shape[0] > most
                or not isinstance(batch_labels, (list, np.ndarray))
            ):
                shape = getattr(data, "shape", None)
                raise ValueError(
                    f"{name}: {path} is not a CIFAR batch: expected a dict with 'data' (at most {most}, 3072) uint8 "
                    f"and a list '{self.label_key}', found data {type(data).__name__} of shape {shape} "
                    f"{getattr(data, 'dtype', '')}; delete it and download the dataset again"
                )
            if len(batch_labels) != len(data):
                raise ValueError(f"{name}: {path} has {len(data)} images but {len(batch_labels)} labels: corrupted")
            images.append(data.astype(np.uint8, copy=False))
            labels.append(np.asarray(batch_labels, dtype=np.int64))
        # Stored as planes (N, 3, 32, 32); images are handed out as HWC like every other image.
        self._images = np.ascontiguousarray(np.concatenate(images).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        self._labels = np.concatenate(labels)
        meta_path = os.path.join(folder, self.meta["filename"])
        if self.meta["md5"] is not None and not utils.check_integrity(meta_path, self.meta["md5"]):
            raise RuntimeError(
                f"{name}: {meta_path} does not have the published md5 {self.meta['md5']}; delete it and download "
                "the dataset again"
            )
        meta = restricted_load(meta_path, name)
        if not isinstance(meta, dict) or self.meta["key"] not in meta:
            raise ValueError(
                f"{name}: {meta_path} has no '{self.meta['key']}'; delete it and download the dataset again"
            )
        self.classes = [c.decode("latin1") if isinstance(c, bytes) else str(c) for c in meta[self.meta["key"]]]
        if self._labels.size and (self._labels.min() < 0 or self._labels.max() >= len(self.classes)):
            raise ValueError(f"{name}: labels outside 0..{len(self.classes) - 1} in {folder}: corrupted batch")
        self.data = self._images
        self.targets = self._labels.tolist()


class CIFAR100(CIFAR10):
    """CIFAR-100: like CIFAR-10 with 100 fine classes (``targets`` are the fine labels)."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {"filename": "meta", "key": "fine_label_names", "md5": "7973b15100ade9c7d40fb424638fde48"}
    label_key = "fine_labels"
    jpeg_fallback = False
    images_per_file = {"train": 50000, "test": 10000}
