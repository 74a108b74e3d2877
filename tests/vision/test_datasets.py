"""Dataset readers on files in the official formats (written here), and on the real data where present."""

import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
import tempfile
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

import glassgrad
from glassgrad.utils.data import DataLoader
from glassgrad.vision import datasets
from glassgrad.vision import transforms as T
from glassgrad.vision.datasets import utils as dutils

REAL = os.environ.get("GLASSGRAD_DATA")
needs_real = pytest.mark.skipif(not REAL, reason="GLASSGRAD_DATA is not set: real-dataset tests skipped")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No shared data folder, a private cache, and no network unless a test provides one."""
    monkeypatch.delenv("GLASSGRAD_DATA", raising=False)
    monkeypatch.setenv("GLASSGRAD_CACHE", str(tmp_path / "cache"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    # The batches written here are small, so they cannot have the published per-file MD5s.
    for cls in (datasets.CIFAR10, datasets.CIFAR100):
        for attr in ("train_list", "test_list"):
            monkeypatch.setattr(cls, attr, [[name, None] for name, _ in getattr(cls, attr)])
        monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": None})


# -- CIFAR (python version) -------------------------------------------------------------------------


def _cifar_batch(n, seed, label_key="labels", classes=10):
    rng = np.random.default_rng(seed)
    return {
        "batch_label": "testing batch",
        label_key: rng.integers(0, classes, n).tolist(),
        "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        "filenames": [f"img_{seed}_{k}.png" for k in range(n)],
    }


def write_cifar10(root, n=4):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {}
    for k, name in enumerate(
        ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]
    ):
        batches[name] = _cifar_batch(n, k)
        (folder / name).write_bytes(pickle.dumps(batches[name]))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names, "num_vis": 3072}))
    return batches


def test_cifar10_reads_the_python_batches(tmp_path):
    batches = write_cifar10(tmp_path)
    train = datasets.CIFAR10(tmp_path, train=True)
    test = datasets.CIFAR10(str(tmp_path), train=False)
    assert len(train) == 20 and len(test) == 4
    assert train.data.shape == (20, 32, 32, 3) and train.data.dtype == np.uint8
    assert train.classes[0] == "airplane" and train.class_to_idx["truck"] == 9
    first = batches["data_batch_1"]
    # Rows are 1024 red, then green, then blue values; images come out HWC.
    np.testing.assert_array_equal(train.data[0, :, :, 1], first["data"][0, 1024:2048].reshape(32, 32))
    assert train.targets[:4] == first["labels"] and test.targets == batches["test_batch"]["labels"]
    img, label = train[0]
    assert isinstance(img, Image.Image) and img.size == (32, 32) and label == first["labels"][0]
    assert "Number of datapoints: 20" in repr(train)


def test_cifar10_batch_fetch_equals_one_by_one(tmp_path):
    write_cifar10(tmp_path, n=8)
    pipeline = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize((0.5,) * 3, (0.2,) * 3)])  # fmt: skip
    ds = datasets.CIFAR10(tmp_path, transform=pipeline, target_transform=lambda y: y + 100)
    glassgrad.manual_seed(4)
    single = [ds[i] for i in (3, 0, 39)]
    glassgrad.manual_seed(4)
    batch = ds.__getitems__([3, 0, 39])
    for (a, ya), (b, yb) in zip(single, batch):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert ya == yb and ya >= 100
    serial = [
        x.numpy()
        for x, _ in DataLoader(ds, batch_size=16, shuffle=True, generator=glassgrad.Generator().manual_seed(0))
    ]
    workers = DataLoader(ds, batch_size=16, shuffle=True, num_workers=2, generator=glassgrad.Generator().manual_seed(0))
    for a, (b, _) in zip(serial, workers):
        np.testing.assert_array_equal(a, b.numpy())


def test_cifar100_reads_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    train = _cifar_batch(5, 1, "fine_labels", 100)
    (folder / "train").write_bytes(pickle.dumps(train))
    (folder / "test").write_bytes(pickle.dumps(_cifar_batch(3, 2, "fine_labels", 100)))
    (folder / "meta").write_bytes(
        pickle.dumps({"fine_label_names": [f"c{k}" for k in range(100)], "coarse_label_names": []})
    )
    ds = datasets.CIFAR100(tmp_path)
    assert len(ds) == 5 and ds.targets == train["fine_labels"] and len(ds.classes) == 100
    assert len(datasets.CIFAR100(tmp_path, train=False)) == 3


class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_code(tmp_path):
    write_cifar10(tmp_path)
    marker = tmp_path / "pwned"
    bomb = _Boom()
    bomb.marker = marker
    payload = {"data": np.zeros((1, 3072), np.uint8), "labels": [0], "x": bomb}
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(pickle.dumps(payload))
    with pytest.raises(pickle.UnpicklingError, match=r"data_batch_1: refusing to load (posix|os)\.system"):
        datasets.CIFAR10(tmp_path)
    assert not marker.exists()


def test_truncated_cifar_batch_names_the_file(tmp_path):
    write_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ValueError, match="data_batch_3 is truncated or corrupted"):
        datasets.CIFAR10(tmp_path)


def test_missing_cifar_says_what_and_where(tmp_path):
    with pytest.raises(dutils.DatasetNotFoundError) as info:
        datasets.CIFAR10(tmp_path / "data")
    message = str(info.value)
    assert "data_batch_1" in message and str(tmp_path / "data" / "cifar-10-batches-py") in message
    assert "cifar-10-python.tar.gz" in message and "download=True" in message


def test_download_without_network_fails_at_once_with_the_manual_way(tmp_path):
    with pytest.raises(dutils.DatasetNotFoundError) as info:
        datasets.CIFAR10(tmp_path, download=True)
    message = str(info.value)
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in message
    assert str(tmp_path / "cifar-10-python.tar.gz") in message and "no network" in message
    with pytest.raises(dutils.DatasetNotFoundError, match="train-images-idx3-ubyte.gz"):
        datasets.FashionMNIST(tmp_path, download=True)


def _tar_gz(files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class _Response(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_checks_the_md5_and_extracts(tmp_path, monkeypatch):
    source = tmp_path / "source"
    write_cifar10(source)
    folder = source / "cifar-10-batches-py"
    archive = _tar_gz({f"cifar-10-batches-py/{p.name}": p.read_bytes() for p in folder.iterdir()})
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: _Response(archive))
    monkeypatch.setattr(datasets.CIFAR10, "tgz_md5", "0" * 32)
    with pytest.raises(RuntimeError, match="not the published"):
        datasets.CIFAR10(tmp_path / "data", download=True)
    assert not (tmp_path / "data" / "cifar-10-python.tar.gz").exists()
    monkeypatch.setattr(datasets.CIFAR10, "tgz_md5", hashlib.md5(archive).hexdigest())
    ds = datasets.CIFAR10(tmp_path / "data", download=True)
    assert len(ds) == 20 and (tmp_path / "data" / "cifar-10-batches-py" / "test_batch").is_file()


# -- MNIST / Fashion-MNIST (IDX) ------------------------------------------------------------------


def _idx(array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder, n_train=6, n_test=3, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        arrays[prefix] = (rng.integers(0, 256, (n, 28, 28)).astype(np.uint8), rng.integers(0, 10, n).astype(np.uint8))
        for kind, array in zip(("images-idx3-ubyte", "labels-idx1-ubyte"), arrays[prefix]):
            data = _idx(array)
            name = f"{prefix}-{kind}"
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_idx_files_in_torchvision_layout(tmp_path, gz):
    arrays = write_mnist(tmp_path / "MNIST" / "raw", gz=gz)
    ds = datasets.MNIST(tmp_path)
    assert len(ds) == 6 and ds.data.shape == (6, 28, 28) and ds.data.dtype == glassgrad.uint8
    assert ds.targets.dtype == glassgrad.int64 and ds.targets.tolist() == arrays["train"][1].tolist()
    np.testing.assert_array_equal(ds.data.numpy(), arrays["train"][0])
    img, label = ds[2]
    assert img.mode == "L" and np.array_equal(np.asarray(img), arrays["train"][0][2])
    test = datasets.MNIST(tmp_path, train=False, transform=T.ToTensor())
    x, _ = test[0]
    assert x.shape == (1, 28, 28) and x.dtype == glassgrad.float32


def test_fashion_mnist_found_directly_in_root(tmp_path):
    arrays = write_mnist(tmp_path, n_train=4)
    ds = datasets.FashionMNIST(tmp_path)
    assert ds.classes[9] == "Ankle boot" and ds.targets.tolist() == arrays["train"][1].tolist()


def test_truncated_idx_names_the_file(tmp_path):
    write_mnist(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(
        ValueError, match=r"train-images-idx3-ubyte is truncated: the header announces shape \(6, 28, 28\)"
    ):
        datasets.MNIST(tmp_path)


def test_truncated_gzip_and_foreign_files_are_reported(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz is a truncated or corrupted gzip"):
        datasets.MNIST(tmp_path)
    path.write_bytes(gzip.compress(b"PK\x03\x04 not an idx file"))
    with pytest.raises(ValueError, match="is not an IDX file"):
        datasets.MNIST(tmp_path)


def test_missing_mnist_lists_where_it_looked(tmp_path):
    with pytest.raises(dutils.DatasetNotFoundError) as info:
        datasets.FashionMNIST(tmp_path)
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message and str(tmp_path / "FashionMNIST" / "raw") in message
    assert "/usr/share/datasets/fashion-mnist" in message and "download=True" in message


def test_mnist_is_found_through_glassgrad_data(tmp_path, monkeypatch):
    write_mnist(tmp_path / "shared" / "fashion-mnist")
    monkeypatch.setenv("GLASSGRAD_DATA", str(tmp_path / "shared"))
    assert len(datasets.FashionMNIST(tmp_path / "elsewhere", train=False)) == 3


# -- ImageFolder and the CIFAR-10 JPEG archive -------------------------------------------------------


def _encode(array, fmt):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def test_image_folder_reads_jpeg_and_png(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    for cls in ("dog", "cat"):
        (tmp_path / cls).mkdir()
    (tmp_path / "cat" / "b.png").write_bytes(_encode(pixels, "PNG"))
    (tmp_path / "cat" / "a.jpg").write_bytes(_encode(pixels, "JPEG"))
    (tmp_path / "dog" / "z.PNG").write_bytes(_encode(pixels[:, :, 0], "PNG"))
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    ds = datasets.ImageFolder(tmp_path, transform=T.ToTensor())
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert [(os.path.basename(p), y) for p, y in ds.samples] == [("a.jpg", 0), ("b.png", 0), ("z.PNG", 1)]
    assert ds.targets == [0, 0, 1] and ds.imgs is ds.samples
    png, label = ds[1]
    assert label == 0 and png.shape == (3, 6, 5)
    np.testing.assert_array_equal(np.round(png.numpy() * 255).astype(np.uint8), pixels.transpose(2, 0, 1))
    assert ds[2][0].shape == (3, 6, 5)  # the grey PNG is read as RGB
    with pytest.raises(FileNotFoundError, match="no class folders"):
        datasets.ImageFolder(tmp_path / "cat")


def _cifar_jpeg_archive(path, per_class=2):
    rng = np.random.default_rng(0)
    files, pixels = {}, {}
    for split in ("train", "test"):
        for cls in ("cat", "airplane", "dog"):
            for k in range(per_class):
                image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                name = f"{split}/{cls}/{k:04d}.png"
                files[name], pixels[name] = _encode(image, "PNG"), image
    path.write_bytes(_tar_gz(files))
    return pixels


def test_cifar10_jpeg_archive_decodes_once_and_caches(tmp_path, monkeypatch):
    pixels = _cifar_jpeg_archive(tmp_path / "cifar10-jpeg.tar.gz")
    ds = datasets.CIFAR10JPEG(tmp_path, train=False)
    assert ds.classes == ["airplane", "cat", "dog"] and ds.targets == [0, 0, 1, 1, 2, 2]
    assert ds.data.shape == (6, 32, 32, 3) and ds.data.dtype == np.uint8
    np.testing.assert_array_equal(ds.data[2], pixels["test/cat/0000.png"])
    monkeypatch.setattr("glassgrad.vision.datasets.cifar_jpeg._decode_split", None)  # now only the cache can answer
    again = datasets.CIFAR10JPEG(tmp_path / "cifar10-jpeg.tar.gz", train=False)
    np.testing.assert_array_equal(again.data, ds.data)
    with pytest.raises(dutils.DatasetNotFoundError, match="GLASSGRAD_DATA"):
        datasets.CIFAR10JPEG(tmp_path / "nowhere")


def test_cifar10_falls_back_to_the_jpeg_archive_with_a_warning(tmp_path, monkeypatch, caplog):
    (tmp_path / "shared").mkdir()
    _cifar_jpeg_archive(tmp_path / "shared" / "cifar10-jpeg.tar.gz")
    monkeypatch.setenv("GLASSGRAD_DATA", str(tmp_path / "shared"))
    with caplog.at_level("WARNING", logger="glassgrad"):
        ds = datasets.CIFAR10(tmp_path / "data", train=True, download=True, transform=T.ToTensor())
    assert len(ds) == 6 and ds[0][0].shape == (3, 32, 32)
    (record,) = [r for r in caplog.records if "using the JPEG copy" in r.getMessage()]
    assert record.name == "glassgrad.vision" and record.levelname == "WARNING"


# -- Digits ------------------------------------------------------------------------------------------


def test_digits_embedded_split():
    train, test = datasets.Digits(train=True), datasets.Digits(train=False)
    assert len(train) == 1500 and len(test) == 297
    assert train.data.shape == (1500, 8, 8) and train.data.dtype == glassgrad.uint8
    assert train.targets.tolist()[:10] == list(range(10))
    assert test.targets.tolist()[:5] == [1, 7, 4, 6, 3]
    assert int(train.data.numpy().max()) == 255 and int(train.data.numpy().min()) == 0
    counts = np.bincount(test.targets.numpy(), minlength=10)
    assert counts.min() >= 27 and counts.sum() == 297
    x, y = next(iter(DataLoader(datasets.Digits(transform=T.ToTensor()), batch_size=32)))
    assert x.shape == (32, 1, 8, 8) and float(x.numpy().max()) == 1.0 and y.tolist()[:3] == [0, 1, 2]


# -- the real data -----------------------------------------------------------------------------------


@needs_real
def test_real_fashion_mnist(monkeypatch, tmp_path):
    monkeypatch.setenv("GLASSGRAD_DATA", REAL)
    train = datasets.FashionMNIST(tmp_path, train=True)
    test = datasets.FashionMNIST(tmp_path, train=False)
    assert len(train) == 60000 and len(test) == 10000
    assert np.bincount(train.targets.numpy()).tolist() == [6000] * 10
    assert np.bincount(test.targets.numpy()).tolist() == [1000] * 10
    assert train.targets.tolist()[:10] == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert test.targets.tolist()[:10] == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert train.data.shape == (60000, 28, 28) and train.data.dtype == glassgrad.uint8
    assert int(train.data.numpy()[0].sum()) > 0


@needs_real
def test_real_cifar10_jpeg_test_split(monkeypatch):
    monkeypatch.setenv("GLASSGRAD_DATA", REAL)
    # A cache that outlives the test: the first run decodes the split, later ones load arrays.
    monkeypatch.setenv("GLASSGRAD_CACHE", os.path.join(tempfile.gettempdir(), "glassgrad-test-cache"))
    ds = datasets.CIFAR10JPEG(train=False)
    assert len(ds) == 10000 and ds.data.shape == (10000, 32, 32, 3) and ds.data.dtype == np.uint8
    assert ds.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    assert np.bincount(ds.targets).tolist() == [1000] * 10
    assert ds.targets[:3] == [0, 0, 0] and ds.targets[-1] == 9
    assert 60 < ds.data.mean() < 200
    x, y = next(iter(DataLoader(ds.__class__(train=False, transform=T.ToTensor()), batch_size=4)))
    assert x.shape == (4, 3, 32, 32) and y.tolist() == [0, 0, 0, 0]


def test_archive_reader_handles_long_names_and_truncation(tmp_path):
    from glassgrad.vision.datasets.cifar_jpeg import _tar_files

    long_name = "train/" + "c" * 120 + "/0000.png"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(long_name)
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    (tmp_path / "long.tar.gz").write_bytes(buffer.getvalue())
    assert [(name, read()) for name, read in _tar_files(str(tmp_path / "long.tar.gz"))] == [(long_name, b"abc")]
    (tmp_path / "cut.tar.gz").write_bytes(_tar_gz({"train/a/0.png": b"x" * 5000})[:-40])
    with pytest.raises(RuntimeError, match="cut.tar.gz is truncated or corrupted"):
        _tar_files(str(tmp_path / "cut.tar.gz"))
