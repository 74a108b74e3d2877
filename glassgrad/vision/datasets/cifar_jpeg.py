"""CIFAR-10 from a tar.gz of JPEG files in ImageFolder layout (``train/<class>/NNNN.jpg``, ``test/<class>/...``).

The first use of a split decodes its JPEGs straight from the archive (no extraction) into one
uint8 array and caches it as ``.npy`` files in ``cache_dir("cifar10-jpeg-<digest>")``; later uses
load those in a fraction of a second. Images are ordered as ``ImageFolder`` would list the
extracted tree: classes sorted by name, files sorted by name within a class.
"""

import io
import os
import tarfile
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from glassgrad.utils.progress import progress
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
                # One class per line: a class name may hold spaces ("sea lion").
                classes = f.read().split("\n")
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
    blobs = []
    for name, read in _tar_files(archive):
        parts = name.removeprefix("./").split("/")
        if len(parts) == 3 and parts[0] == split and parts[2].lower().endswith(_IMAGE_SUFFIXES):
            blobs.append((parts[1], parts[2], read()))
    if not blobs:
        raise RuntimeError(
            f"CIFAR10JPEG: {archive} holds no images under {split}/<class>/; is it the CIFAR-10 JPEG archive?"
        )
    blobs.sort(key=lambda item: (item[0], item[1]))
    # Pillow decodes without holding the GIL, so threads decode in parallel.
    arrays = []
    with (
        ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool,
        progress(len(blobs), f"decoding CIFAR-10 {split} JPEGs (first use only; cached after)", unit="img") as bar,
    ):
        for array in pool.map(
            _decode, (f"{archive}:{c}/{n}" for c, n, _ in blobs), (b for _, _, b in blobs), chunksize=256
        ):
            arrays.append(array)
            bar.update(1)
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise RuntimeError(f"CIFAR10JPEG: {archive} mixes image sizes {sorted(shapes)}; expected all 32x32 RGB")
    classes = sorted({c for c, _, _ in blobs})
    class_to_idx = {c: i for i, c in enumerate(classes)}
    labels = np.array([class_to_idx[c] for c, _, _ in blobs], dtype=np.int64)
    return np.stack(arrays), labels, classes


class _NotPlainTar(Exception):
    pass


def _tar_files(archive):
    """``(name, read)`` for each regular file of a .tar.gz; ``read()`` gives its bytes."""
    try:
        raw = _gunzip_bounded(archive)
    except (OSError, EOFError, zlib.error) as error:
        raise RuntimeError(f"CIFAR10JPEG: {archive} is truncated or corrupted ({error}); fetch it again") from error
    try:
        return list(_walk_ustar(raw, archive))
    except _NotPlainTar:
        pass
    try:
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            files = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()]
        return [(name, (lambda d=data: d)) for name, data in files]
    except tarfile.TarError as error:
        raise RuntimeError(f"CIFAR10JPEG: {archive} is not a valid tar archive ({error}); fetch it again") from error


# The real archive inflates about 6x (JPEGs barely compress; tar headers do); a gzip bomb inflates 1000x.
_MAX_INFLATION = 32


def _gunzip_bounded(archive):
    """The decompressed bytes of ``archive``, refused as soon as they pass ``_MAX_INFLATION`` x its size."""
    limit = _MAX_INFLATION * os.path.getsize(archive) + (1 << 20)
    out = bytearray()
    with open(archive, "rb") as f:
        inflater = zlib.decompressobj(wbits=31)
        while chunk := f.read(1 << 20):
            while chunk:
                out += inflater.decompress(chunk, limit + 1 - len(out))
                if len(out) > limit:
                    raise RuntimeError(
                        f"CIFAR10JPEG: {archive} inflates to more than {limit} bytes ({_MAX_INFLATION}x its size): "
                        "not the CIFAR-10 JPEG archive (a gzip bomb?); delete it and fetch it again"
                    )
                chunk = inflater.unconsumed_tail
                if inflater.eof and (inflater.unused_data or chunk):  # a second gzip member follows
                    chunk, inflater = inflater.unused_data + chunk, zlib.decompressobj(wbits=31)
        if not inflater.eof:
            raise EOFError("the gzip stream ends early")
    return bytes(out)


def _member_name(raw, archive):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RuntimeError(
            f"CIFAR10JPEG: {archive} has a member whose name {raw!r} is not UTF-8 ({error}); not the CIFAR-10 "
            "JPEG archive: delete it and fetch it again"
        ) from None


def _walk_ustar(raw, archive=""):
    # tarfile spends ~60 us of Python per member; 60,000 small JPEGs only need the plain ustar
    # fields (name, prefix, size, type). Anything fancier (long names, pax) goes to tarfile.
    pos, end = 0, len(raw)
    while pos + 512 <= end:
        header = raw[pos : pos + 512]
        if header[0] == 0:
            return
        kind = header[156:157]
        if kind not in (b"0", b"\0", b"5"):
            raise _NotPlainTar
        try:
            size = int(header[124:136].rstrip(b"\0 ") or b"0", 8)
        except ValueError as error:
            raise _NotPlainTar from error
        name = _member_name(header[:100].split(b"\0", 1)[0], archive)
        if header[257:262] == b"ustar" and header[345] != 0:
            name = _member_name(header[345:500].split(b"\0", 1)[0], archive) + "/" + name
        start = pos + 512
        if start + size > end:
            raise RuntimeError(f"CIFAR10JPEG: the archive ends inside {name}: truncated; fetch it again")
        if kind != b"5":
            yield name, (lambda a=start, b=start + size: raw[a:b])
        pos = start + (size + 511) // 512 * 512


def _decode(name, data):
    try:
        with Image.open(io.BytesIO(data)) as img:
            # Checked from the header, before any pixel is decoded.
            if img.size != (32, 32):
                raise ValueError(f"CIFAR10JPEG: {name} is {img.size[0]}x{img.size[1]}, not a 32x32 CIFAR image")
            return np.asarray(img.convert("RGB"))
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValueError(f"CIFAR10JPEG: {name} is not a readable image ({error}); fetch the archive again") from error


class CIFAR10JPEG(ImageArrayDataset):
    """CIFAR-10 read from the JPEG archive ``cifar10-jpeg.tar.gz`` (ImageFolder layout inside).

    Args:
        root: a folder holding ``cifar10-jpeg.tar.gz``, or the archive itself; None looks in
            ``$GLASSGRAD_DATA``.
        train: the 50,000 training images, else the 10,000 test images.
        cache: keep the decoded arrays as .npy under ``GLASSGRAD_CACHE`` (default ``~/.cache/glassgrad``).
        download: accepted for the common dataset signature; the archive has no public address, so a
            missing archive is an error that says where it was looked for.

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
