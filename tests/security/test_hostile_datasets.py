"""Hostile dataset files: each ends in one clear error naming the file, in bounded time and memory."""

import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image

from glassgrad.vision import datasets
from glassgrad.vision.datasets import cifar
from glassgrad.vision.datasets.cifar_jpeg import load_cifar10_jpeg
from glassgrad.vision.datasets.mnist import read_idx


def _idx(path, dims, payload=b"", type_code=0x08):
    path.write_bytes(bytes([0, 0, type_code, len(dims)]) + struct.pack(f">{len(dims)}i", *dims) + payload)
    return str(path)


# One row per attack on the IDX (MNIST) header.
IDX_ATTACKS = [
    ("negative-dimension", [-1, 4], b"", "negative dimension"),
    ("negative-pair-matches-size", [-2, -2], b"\0" * 4, "negative dimension"),
    # 65536**4 = 2**64 wraps to 0 in int64, the size of the (empty) payload.
    ("int64-overflow", [65536, 65536, 65536, 65536], b"", "announces shape"),
]


def test_idx_gzip_bomb_is_not_inflated_whole(tmp_path):
    path = tmp_path / "bomb-idx1-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, 1]) + struct.pack(">i", 10))
        for _ in range(64):
            f.write(b"\0" * (1 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"bomb-idx1-ubyte\.gz is longer than its header says"):
            read_idx(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak} bytes allocated: the 64 MiB behind the header were inflated"


@pytest.mark.parametrize("name, dims, payload, message", IDX_ATTACKS, ids=[row[0] for row in IDX_ATTACKS])
def test_hostile_idx_header(tmp_path, name, dims, payload, message):
    path = _idx(tmp_path / "evil-idx3-ubyte", dims, payload)
    with pytest.raises(ValueError, match=rf"evil-idx3-ubyte.*{message}"):
        read_idx(path)


def _batch(n, protocol=pickle.DEFAULT_PROTOCOL):
    rng = np.random.default_rng(n)
    entry = {"labels": rng.integers(0, 10, n).tolist(), "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
    return pickle.dumps(entry, protocol=protocol)


def _write_cifar(root, batch=None, n=3, protocol=pickle.DEFAULT_PROTOCOL):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name, _ in datasets.CIFAR10.train_list + datasets.CIFAR10.test_list:
        (folder / name).write_bytes(_batch(n, protocol))
    if batch is not None:
        (folder / "data_batch_2").write_bytes(batch)
    names = [f"c{k}" for k in range(10)]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}, protocol=protocol))
    return folder


def _trust_written_files(monkeypatch, folder):
    """Make the files written here the 'published' ones, as the MD5 table says for the real files."""
    digest = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    for attr in ("train_list", "test_list"):
        monkeypatch.setattr(datasets.CIFAR10, attr, [[n, digest[n]] for n, _ in getattr(datasets.CIFAR10, attr)])
    monkeypatch.setattr(datasets.CIFAR10, "meta", {**datasets.CIFAR10.meta, "md5": digest["batches.meta"]})


def _unknown_md5s(monkeypatch):
    for attr in ("train_list", "test_list"):
        monkeypatch.setattr(datasets.CIFAR10, attr, [[n, None] for n, _ in getattr(datasets.CIFAR10, attr)])
    monkeypatch.setattr(datasets.CIFAR10, "meta", {**datasets.CIFAR10.meta, "md5": None})


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("GLASSGRAD_DATA", raising=False)
    monkeypatch.setenv("GLASSGRAD_CACHE", str(tmp_path / "cache"))


def test_cifar_batch_without_the_published_md5_is_never_unpickled(tmp_path):
    # Would run code if unpickled, and would be refused then; the MD5 check stops it first.
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    _write_cifar(tmp_path, batch=pickle.dumps({"data": Payload()}))
    with pytest.raises(RuntimeError, match=r"data_batch_1 does not have the published md5"):
        datasets.CIFAR10(tmp_path)


# One row per hand-made batch that only uses what the restricted unpickler admits.
CIFAR_ATTACKS = [
    ("more-images-than-a-batch-holds", {"labels": [0] * 5, "data": np.zeros((5, 3072), np.uint8)}, "at most 4"),
    ("not-uint8", {"labels": [0], "data": np.zeros((1, 3072), np.float64)}, "float64"),
    ("wrong-row-size", {"labels": [0], "data": np.zeros((1, 13000 * 13000 * 3 // 100000), np.uint8)}, r"\(1, 5070\)"),
    ("labels-not-a-list", {"labels": "0", "data": np.zeros((1, 3072), np.uint8)}, "list 'labels'"),
]


@pytest.mark.parametrize("name, entry, message", CIFAR_ATTACKS, ids=[row[0] for row in CIFAR_ATTACKS])
def test_hostile_cifar_batch_names_the_file(tmp_path, monkeypatch, name, entry, message):
    _unknown_md5s(monkeypatch)
    monkeypatch.setattr(datasets.CIFAR10, "images_per_file", {"train": 4, "test": 4})
    _write_cifar(tmp_path, batch=pickle.dumps(entry))
    with pytest.raises(ValueError, match=rf"data_batch_2 is not a CIFAR batch.*{message}"):
        datasets.CIFAR10(tmp_path)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_valid_batch_in_any_protocol_loads(tmp_path, monkeypatch, protocol):
    folder = _write_cifar(tmp_path, protocol=protocol)
    _trust_written_files(monkeypatch, folder)
    ds = datasets.CIFAR10(tmp_path)
    assert len(ds) == 15 and ds.data.shape == (15, 32, 32, 3)
    expected = pickle.loads(_batch(3))["data"].reshape(3, 3, 32, 32).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(ds.data[:3], expected)


@pytest.mark.parametrize("dtype", [np.dtype("V8"), np.dtype([("a", "u1")]), np.dtype(object)])
def test_only_plain_number_dtypes_are_unpickled(tmp_path, dtype):
    path = tmp_path / "evil"
    path.write_bytes(pickle.dumps({"data": np.zeros(2, dtype)}))
    with pytest.raises(pickle.UnpicklingError, match=r"evil: refusing numpy\.dtype"):
        cifar.restricted_load(str(path), "CIFAR10")


def test_protocol_2_codecs_path_admits_only_latin1_bytes(tmp_path):
    path = tmp_path / "evil"
    # _codecs.encode asked for something else than a latin-1 string.
    path.write_bytes(b"\x80\x02c_codecs\nencode\nq\x00K\x01X\x05\x00\x00\x00rot13q\x01\x86q\x02Rq\x03.")
    with pytest.raises(pickle.UnpicklingError, match="evil.*_codecs.encode"):
        cifar.restricted_load(str(path), "CIFAR10")


# -- the CIFAR-10 JPEG archive --------------------------------------------------------------------


def _jpeg(size=(32, 32)):
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buffer, "JPEG")
    return buffer.getvalue()


def _tar_gz(path, members):
    """``members``: (name as bytes or str, payload)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT, encoding="latin1") as tar:
        for name, payload in members:
            info = tarfile.TarInfo(name.decode("latin1") if isinstance(name, bytes) else name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    path.write_bytes(gzip.compress(raw.getvalue()))
    return path


def _gzip_bomb(path):
    # 64 MiB of zeros after a valid tar header: under 100 KiB on disk.
    inflater = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        f.write(inflater.compress(b"\0" * 512))
        zeros = b"\0" * (1 << 20)
        for _ in range(64):
            f.write(inflater.compress(zeros))
        f.write(inflater.flush())
    return path


# One row per hostile archive: how to build it, and what the error says.
JPEG_ARCHIVE_ATTACKS = [
    ("gzip-bomb", lambda p: _gzip_bomb(p), "inflates to more than"),
    # Incompressible padding keeps it under the inflation bound: the image's own size must stop it.
    (
        "huge-image",
        lambda p: _tar_gz(p, [("train/cat/0.jpg", _jpeg((13000, 13000))), ("pad", os.urandom(1 << 21))]),
        r"0\.jpg is 13000x13000",
    ),
    ("non-utf8-name", lambda p: _tar_gz(p, [(b"train/cat/\xff.jpg", _jpeg())]), "is not UTF-8"),
    ("truncated-jpeg", lambda p: _tar_gz(p, [("train/cat/0.jpg", _jpeg()[:200])]), r"0\.jpg is not a readable image"),
]


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("name, build, message", JPEG_ARCHIVE_ATTACKS, ids=[row[0] for row in JPEG_ARCHIVE_ATTACKS])
def test_hostile_jpeg_archive_names_the_file(tmp_path, name, build, message):
    archive = build(tmp_path / "cifar10-jpeg.tar.gz")
    with pytest.raises((RuntimeError, ValueError), match=rf"cifar10-jpeg\.tar\.gz.*{message}"):
        load_cifar10_jpeg(str(archive), "train", cache=False)


def test_class_name_with_a_space_survives_the_cache(tmp_path):
    archive = _tar_gz(tmp_path / "a.tar.gz", [("train/sea lion/0.jpg", _jpeg()), ("train/cat/1.jpg", _jpeg())])
    first = load_cifar10_jpeg(str(archive), "train")[2]
    again = load_cifar10_jpeg(str(archive), "train")[2]  # from the cache
    assert first == again == ["cat", "sea lion"]


# -- ImageFolder ----------------------------------------------------------------------------------


def test_image_folder_walks_a_symlink_loop_once(tmp_path):
    for k in range(5):
        (tmp_path / "cls" / f"sub{k % 2}").mkdir(parents=True, exist_ok=True)
        (tmp_path / "cls" / f"sub{k % 2}" / f"{k}.jpg").write_bytes(_jpeg())
    (tmp_path / "cls" / "sub0" / "loop").symlink_to(tmp_path / "cls")
    ds = datasets.ImageFolder(tmp_path)
    assert len(ds) == 5


def test_image_folder_truncated_jpeg_names_the_path(tmp_path):
    (tmp_path / "cls").mkdir()
    (tmp_path / "cls" / "broken.jpg").write_bytes(_jpeg()[:200])
    ds = datasets.ImageFolder(tmp_path)
    with pytest.raises(OSError, match=r"broken\.jpg"):
        ds[0]
