"""MNIST and Fashion-MNIST from the official IDX files, gzipped or not.

IDX: two zero bytes, a type byte (0x08 for unsigned bytes), the number of dimensions, each
dimension as a big-endian int32, then the values. Headers and sizes are checked before any
value is used, so a truncated or foreign file is reported, never half-read.
"""

import gzip
import math
import os
import string
import zlib

import numpy as np

from glassgrad.tensor import Tensor
from glassgrad.vision.datasets import utils
from glassgrad.vision.datasets.vision import ImageArrayDataset

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


# Far above any IDX dataset (EMNIST's largest file is under 1 GiB).
_MAX_IDX_BYTES = 4 << 30


def _read_bounded(f):
    """The header, then at most one byte more than it announces: a gzip bomb is never inflated whole."""
    raw = f.read(4)
    if len(raw) < 4 or raw[2] not in _IDX_TYPES:
        return raw
    raw += f.read(4 * raw[3])
    if len(raw) < 4 + 4 * raw[3]:
        return raw
    shape = np.frombuffer(raw, ">i4", raw[3], 4)
    if (shape < 0).any():
        return raw
    wanted = math.prod(int(d) for d in shape) * np.dtype(_IDX_TYPES[raw[2]]).itemsize + 1
    if wanted > _MAX_IDX_BYTES:
        return raw  # reported by read_idx as a header that does not match the file
    chunks = [raw]
    while wanted > 0 and (chunk := f.read(min(wanted, 1 << 24))):
        chunks.append(chunk)
        wanted -= len(chunk)
    return b"".join(chunks)


def read_idx(path, ndim=None):
    """The array stored in the IDX file ``path`` (``.gz`` is decompressed), after checking its header."""
    try:
        with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
            raw = _read_bounded(f)
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ValueError(
            f"read_idx: {path} is a truncated or corrupted gzip file ({error}); delete it and fetch it again"
        ) from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(
            f"read_idx: {path} is not an IDX file (magic bytes {raw[:4].hex() or 'missing'}); is it the right file?"
        )
    dims_count = raw[3]
    if ndim is not None and dims_count != ndim:
        raise ValueError(
            f"read_idx: {path} holds a {dims_count}-d array but a {ndim}-d one was expected (images 3, labels 1)"
        )
    header = 4 + 4 * dims_count
    if len(raw) < header:
        raise ValueError(
            f"read_idx: {path} is truncated inside its header ({len(raw)} bytes); delete it and fetch it again"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, ">i4", dims_count, 4))
    if any(d < 0 for d in shape):
        raise ValueError(f"read_idx: {path} has a negative dimension in its header {shape}: corrupted or hostile")
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    # Python integers: NumPy's product of large dimensions wraps around int64 and could match the size.
    expected = math.prod(shape) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        problem = "truncated" if found < expected else "longer than its header says"
        raise ValueError(
            f"read_idx: {path} is {problem}: the header announces shape {shape} = {expected} bytes of data, "
            f"the file holds {found}; delete it and fetch it again"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


class MNIST(ImageArrayDataset):
    """MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28 grey.

    The four IDX files (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
    ``t10k-...``) are looked for in ``root/<ClassName>/raw`` (torchvision's layout),
    ``root/<ClassName>``, ``root``, ``$GLASSGRAD_DATA/<name>`` and the system folders where
    operating systems install them (``/usr/share/datasets/<name>``, e.g. Debian's
    ``dataset-fashion-mnist`` package). ``download=True`` fetches the missing files into
    ``root/<ClassName>/raw`` and checks their published MD5.

    ``data`` is a uint8 Tensor (N, 28, 28), ``targets`` an int64 Tensor, ``dataset[i]`` is
    ``(PIL image mode L, label)`` before ``transform``.
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]  # fmt: skip
    system_name = "mnist"

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        wanted = self._stems()
        found = self._find(wanted)
        if found is None and download:
            self.download()
            found = self._find(wanted)
        if found is None:
            places = ", ".join(self._search_dirs())
            raise utils.DatasetNotFoundError(
                f"{type(self).__name__}: dataset not found. Wanted {wanted[0]}[.gz] and {wanted[1]}[.gz]; looked in "
                f"{places}. Pass download=True (needs network), or place the official files by hand in "
                f"{self.raw_folder} (from {self._source_hint()}), or set GLASSGRAD_DATA to a folder with {self.system_name}/"
            )
        images = read_idx(found[0], ndim=3)
        labels = read_idx(found[1], ndim=1).astype(np.int64)
        if len(images) != len(labels):
            raise ValueError(
                f"{type(self).__name__}: {found[0]} holds {len(images)} images but {found[1]} holds {len(labels)} "
                "labels; the files do not belong together"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise ValueError(f"{type(self).__name__}: {found[1]} has labels outside 0..{len(self.classes) - 1}")
        self.files = found
        self._images = np.ascontiguousarray(images.astype(np.uint8, copy=False))
        self._labels = labels
        self.data = Tensor._wrap(self._images)
        self.targets = Tensor._wrap(self._labels)

    def _source_hint(self):
        return self.mirrors[0]

    def _stems(self):
        """The names (without .gz) of the images and labels files of this split."""
        prefix = "train" if self.train else "t10k"
        return [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]

    @property
    def raw_folder(self):
        return os.path.join(self.root, type(self).__name__, "raw")

    def _search_dirs(self):
        name = type(self).__name__
        dirs = [self.raw_folder, os.path.join(self.root, name), self.root]
        if utils.data_dir():
            dirs.append(os.path.join(utils.data_dir(), self.system_name))
        dirs += [os.path.join(p, self.system_name) for p in ("/usr/share/datasets", "/usr/local/share/datasets")]
        return dirs

    def _find(self, stems):
        for folder in self._search_dirs():
            paths = []
            for stem in stems:
                path = next((os.path.join(folder, stem + s) for s in ("", ".gz") if os.path.isfile(os.path.join(folder, stem + s))), None)  # fmt: skip
                paths.append(path)
            if all(paths):
                return paths
        return None

    def download(self):
        """Fetch the four files into ``raw_folder``, trying each mirror, and check their MD5."""
        for filename, md5 in self.resources:
            if utils.check_integrity(os.path.join(self.raw_folder, filename), md5):
                continue
            errors = []
            for mirror in self.mirrors:
                try:
                    utils.download_url(mirror + filename, self.raw_folder, filename, md5, type(self).__name__)
                    break
                except (utils.DatasetNotFoundError, RuntimeError) as error:
                    errors.append(str(error))
            else:
                raise utils.DatasetNotFoundError(
                    f"{type(self).__name__}: could not download {filename} from any mirror. Looked for the IDX "
                    f"files (.gz or not) in {', '.join(self._search_dirs())}; place the official file by hand in "
                    f"{self.raw_folder}.\n" + "\n".join(errors)
                )


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): 28x28 grey images of 10 kinds of clothing, same files and layout as MNIST."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    system_name = "fashion-mnist"


class KMNIST(MNIST):
    """Kuzushiji-MNIST: 28x28 grey images of 10 cursive Japanese characters, same files and layout as MNIST."""

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
        ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
        ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
        ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134"),
    ]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
    system_name = "kmnist"


_MERGED = set("cijklmopsuvwxyz")
_ALL = sorted(set(string.digits + string.ascii_letters))


class EMNIST(MNIST):
    """EMNIST (Cohen et al., 2017): NIST handwritten characters in MNIST's 28x28 IDX format.

    ``split``: ``byclass`` (62 classes), ``bymerge`` and ``balanced`` (47: similar upper/lower case
    letters merged), ``letters`` (26, labels 1..26; class 0 is ``N/A``), ``digits``, ``mnist``.
    Files ``emnist-<split>-<train|test>-<images-idx3|labels-idx1>-ubyte[.gz]`` are looked for as
    MNIST's are; ``download=True`` fetches NIST's ``gzip.zip`` and unpacks it into ``raw_folder``.
    Images are kept as stored, which is transposed (characters lie on their side), as torchvision
    keeps them: ``transforms.Lambda(lambda im: im.transpose(Image.Transpose.TRANSPOSE))`` rights them.
    """

    url = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
    md5 = "58c8d27c78d21e728a6bc7b3cc06412e"
    mirrors = ["https://biometrics.nist.gov/cs_links/EMNIST/"]
    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    classes_split_dict = {
        "byclass": _ALL,
        "bymerge": sorted(set(_ALL) - _MERGED),
        "balanced": sorted(set(_ALL) - _MERGED),
        "letters": ["N/A", *string.ascii_lowercase],
        "digits": list(string.digits),
        "mnist": list(string.digits),
    }
    system_name = "emnist"

    def __init__(self, root, split, train=True, transform=None, target_transform=None, download=False):
        if split not in self.splits:
            raise ValueError(f"EMNIST: split must be one of {list(self.splits)}, got {split!r}")
        self.split = split
        self.classes = self.classes_split_dict[split]
        super().__init__(root, train=train, transform=transform, target_transform=target_transform, download=download)

    def _stems(self):
        prefix = f"emnist-{self.split}-{'train' if self.train else 'test'}"
        return [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]

    def _source_hint(self):
        return f"{self.url}, md5 {self.md5}: its gzip/ folder holds the .gz files"

    def download(self):
        """Fetch NIST's zip (all splits, 536 MiB), check its MD5, unpack its .gz files into ``raw_folder``."""
        archive = utils.download_url(self.url, self.raw_folder, "gzip.zip", self.md5, "EMNIST")
        utils.extract_archive(archive, self.raw_folder)
        inner = os.path.join(self.raw_folder, "gzip")
        if os.path.isdir(inner):
            for name in os.listdir(inner):
                if name.endswith(".gz"):
                    os.replace(os.path.join(inner, name), os.path.join(self.raw_folder, name))
