"""FakeData, SVHN (MATLAB 5 files), STL10 (binary files), EMNIST and KMNIST (IDX), on files written here."""

import gzip
import hashlib
import io
import struct
import urllib.error
import urllib.request
import zlib

import numpy as np
import pytest
from PIL import Image

import glassgrad
from glassgrad.utils.data import DataLoader
from glassgrad.vision import datasets
from glassgrad.vision import transforms as T
from glassgrad.vision.datasets.matlab import MatFileError, loadmat


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.delenv("GLASSGRAD_DATA", raising=False)

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)


# -- a MATLAB 5 writer -------------------------------------------------------------------------------

_MI = {"i1": 1, "u1": 2, "i2": 3, "u2": 4, "i4": 5, "u4": 6, "f4": 7, "f8": 9, "i8": 12, "u8": 13}
_CLASS = {"f8": 6, "f4": 7, "i1": 8, "u1": 9, "i2": 10, "u2": 11, "i4": 12, "u4": 13, "i8": 14, "u8": 15}


def _element(mi_type, payload, e, small_ok=True):
    if small_ok and len(payload) <= 4:
        # Small element: one 32-bit word, byte count in the high half, then the payload in 4 bytes.
        return struct.pack(e + "I", (len(payload) << 16) | mi_type) + payload.ljust(4, b"\0")
    return struct.pack(e + "II", mi_type, len(payload)) + payload + b"\0" * (-len(payload) % 8)


def _matrix(name, array, e, stored=None):
    """A miMATRIX element; ``stored`` is the element type of the data (MATLAB stores doubles as uint8 when it can)."""
    array = np.asarray(array)
    kind = array.dtype.str[1:]
    flags = struct.pack(e + "II", _CLASS[kind], 0)
    dims = np.asarray(array.shape if array.ndim >= 2 else (1, array.size), e + "i4").tobytes()
    data_kind = stored or kind
    data = np.asarray(array, e + data_kind).ravel(order="F").tobytes()
    body = (
        _element(6, flags, e) + _element(5, dims, e) + _element(1, name.encode(), e) + _element(_MI[data_kind], data, e)
    )
    return _element(14, body, e, small_ok=False)


def write_mat(path, arrays, compress=True, big_endian=False, stored=None):
    e = ">" if big_endian else "<"
    header = b"MATLAB 5.0 MAT-file, written by glassgrad's tests".ljust(116) + b"\0" * 8
    header += struct.pack(e + "H", 0x0100) + (b"MI" if big_endian else b"IM")
    out = [header]
    for name, array in arrays.items():
        element = _matrix(name, array, e, (stored or {}).get(name))
        if compress:
            packed = zlib.compress(element)
            element = struct.pack(e + "II", 15, len(packed)) + packed
        out.append(element)
    # A char array (the kind of variable the reader skips).
    chars = np.frombuffer("hi".encode("utf-16-le"), "<u2").astype(e + "u2")
    body = _element(6, struct.pack(e + "II", 4, 0), e) + _element(5, np.asarray([1, 2], e + "i4").tobytes(), e)
    body += _element(1, b"note", e) + _element(4, chars.tobytes(), e)
    out.append(_element(14, body, e, small_ok=False))
    path.write_bytes(b"".join(out))


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("big_endian", [False, True])
def test_loadmat_reads_numeric_arrays(tmp_path, compress, big_endian):
    rng = np.random.default_rng(0)
    arrays = {
        "X": rng.integers(0, 256, (4, 5, 3, 2)).astype(np.uint8),
        "y": np.arange(6, dtype=np.float64).reshape(3, 2) / 4,
        "k": np.array([[7]], np.int32),
    }
    write_mat(tmp_path / "a.mat", arrays, compress, big_endian)
    got = loadmat(tmp_path / "a.mat")
    assert set(got) == {"X", "y", "k"}  # the char array is skipped
    for name, array in arrays.items():
        assert got[name].dtype == array.dtype.newbyteorder("=") and got[name].shape == array.shape
        np.testing.assert_array_equal(got[name], array)
    assert set(loadmat(tmp_path / "a.mat", ["y"])) == {"y"}
    with pytest.raises(MatFileError, match="no numeric variable"):
        loadmat(tmp_path / "a.mat", ["Z"])


def test_loadmat_rejects_bad_files(tmp_path):
    write_mat(tmp_path / "a.mat", {"X": np.ones((3, 3), np.float64)}, compress=False)
    raw = (tmp_path / "a.mat").read_bytes()
    (tmp_path / "cut.mat").write_bytes(raw[:150])
    with pytest.raises(MatFileError, match="truncated"):
        loadmat(tmp_path / "cut.mat")
    (tmp_path / "v73.mat").write_bytes(b"MATLAB 7.3 MAT-file".ljust(124) + b"\0\x02IM")
    with pytest.raises(MatFileError, match="HDF5"):
        loadmat(tmp_path / "v73.mat")
    (tmp_path / "foreign.mat").write_bytes(b"\x89PNG" + b"\0" * 200)
    with pytest.raises(MatFileError, match="not a MATLAB 5"):
        loadmat(tmp_path / "foreign.mat")
    write_mat(tmp_path / "z.mat", {"X": np.ones((3, 3), np.float64)}, compress=True)
    z = bytearray((tmp_path / "z.mat").read_bytes())
    z[140:150] = b"\xff" * 10
    (tmp_path / "z.mat").write_bytes(bytes(z))
    with pytest.raises(MatFileError, match="corrupted|compressed"):
        loadmat(tmp_path / "z.mat")


# -- SVHN ---------------------------------------------------------------------------------------------


def test_svhn_reads_the_official_layout(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (32, 32, 3, 5)).astype(np.uint8)
    y = np.array([[1], [10], [3], [10], [9]], np.float64)  # MATLAB doubles, 10 meaning the digit 0
    write_mat(tmp_path / "test_32x32.mat", {"X": x, "y": y}, stored={"y": "u1"})
    ds = datasets.SVHN(tmp_path, split="test")
    assert len(ds) == 5 and ds.data.shape == (5, 3, 32, 32)
    np.testing.assert_array_equal(ds.labels, [1, 0, 3, 0, 9])
    img, label = ds[1]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and label == 0
    np.testing.assert_array_equal(np.asarray(img), x[:, :, :, 1])
    loader = DataLoader(datasets.SVHN(tmp_path, "test", transform=T.ToTensor()), batch_size=5)
    batch, labels = next(iter(loader))
    assert batch.shape == (5, 3, 32, 32)
    np.testing.assert_allclose(batch.numpy()[2], x[:, :, :, 2].transpose(2, 0, 1) / np.float32(255), rtol=1e-6)


def test_svhn_missing_file_names_it_and_the_url(tmp_path):
    with pytest.raises(datasets.DatasetNotFoundError, match=r"train_32x32\.mat.*ufldl"):
        datasets.SVHN(tmp_path)
    with pytest.raises(datasets.DatasetNotFoundError, match=r"train_32x32\.mat"):
        datasets.SVHN(tmp_path, download=True)  # no network here: fails at once, naming the file
    with pytest.raises(ValueError, match="split"):
        datasets.SVHN(tmp_path, split="valid")


class _Response(io.BytesIO):
    headers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_svhn_download_checks_the_md5(tmp_path, monkeypatch):
    source = tmp_path / "source.mat"
    x = np.zeros((32, 32, 3, 2), np.uint8)
    write_mat(source, {"X": x, "y": np.array([[2], [10]], np.uint8)})
    payload = source.read_bytes()
    urls = []

    def serve(request, timeout=None):
        urls.append(request.full_url)
        return _Response(payload)

    monkeypatch.setattr(urllib.request, "urlopen", serve)
    wrong = {**datasets.SVHN.split_list, "extra": [*datasets.SVHN.split_list["extra"][:2], "0" * 32]}
    monkeypatch.setattr(datasets.SVHN, "split_list", wrong)
    with pytest.raises(RuntimeError, match="md5"):
        datasets.SVHN(tmp_path / "data", split="extra", download=True)
    assert not (tmp_path / "data" / "extra_32x32.mat").exists()  # a bad download never takes the name
    right = {**wrong, "extra": [*wrong["extra"][:2], hashlib.md5(payload).hexdigest()]}
    monkeypatch.setattr(datasets.SVHN, "split_list", right)
    ds = datasets.SVHN(tmp_path / "data", split="extra", download=True)
    assert urls[-1] == "http://ufldl.stanford.edu/housenumbers/extra_32x32.mat"
    assert list(ds.labels) == [2, 0]


# -- STL10 --------------------------------------------------------------------------------------------


def _stl_images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, 3, 96, 96)).astype(np.uint8)  # (N, C, H, W)


def write_stl10(root):
    folder = root / "stl10_binary"
    folder.mkdir()
    train, test, unlabeled = _stl_images(4, 0), _stl_images(3, 1), _stl_images(2, 2)
    for name, images in (("train_X.bin", train), ("test_X.bin", test), ("unlabeled_X.bin", unlabeled)):
        (folder / name).write_bytes(images.transpose(0, 1, 3, 2).tobytes())  # columns first, as the official files
    (folder / "train_y.bin").write_bytes(bytes([1, 10, 4, 2]))
    (folder / "test_y.bin").write_bytes(bytes([3, 3, 7]))
    (folder / "class_names.txt").write_text("\n".join(f"class{k}" for k in range(10)) + "\n")
    (folder / "fold_indices.txt").write_text("0 2\n" + "1 3\n" * 9)
    return train, test, unlabeled


def test_stl10_splits_folds_and_images(tmp_path):
    train, test, unlabeled = write_stl10(tmp_path)
    ds = datasets.STL10(tmp_path, split="train")
    assert len(ds) == 4 and ds.data.shape == (4, 3, 96, 96) and ds.classes[9] == "class9"
    np.testing.assert_array_equal(ds.labels, [0, 9, 3, 1])
    img, label = ds[1]
    assert label == 9 and img.size == (96, 96)
    np.testing.assert_array_equal(np.asarray(img), train[1].transpose(1, 2, 0))
    fold = datasets.STL10(tmp_path, split="train", folds=0)
    np.testing.assert_array_equal(fold.labels, [0, 3])
    both = datasets.STL10(tmp_path, split="train+unlabeled")
    assert len(both) == 6 and list(both.labels[-2:]) == [-1, -1]
    np.testing.assert_array_equal(np.asarray(both[5][0]), unlabeled[1].transpose(1, 2, 0))
    t = datasets.STL10(tmp_path, split="test")
    np.testing.assert_array_equal(t.data, test)
    with pytest.raises(ValueError, match="folds"):
        datasets.STL10(tmp_path, folds=10)


def test_stl10_missing_and_truncated(tmp_path):
    with pytest.raises(datasets.DatasetNotFoundError, match=r"train_X\.bin.*stl10_binary\.tar\.gz"):
        datasets.STL10(tmp_path)
    with pytest.raises(datasets.DatasetNotFoundError, match="stl10_binary"):
        datasets.STL10(tmp_path, download=True)
    write_stl10(tmp_path)
    with open(tmp_path / "stl10_binary" / "test_X.bin", "ab") as f:
        f.write(b"\0" * 10)
    with pytest.raises(ValueError, match="whole number"):
        datasets.STL10(tmp_path, split="test")


# -- EMNIST and KMNIST --------------------------------------------------------------------------------


def _idx(array):
    codes = {np.uint8: 0x08}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim]) + struct.pack(">" + "i" * array.ndim, *array.shape)
    return header + array.tobytes()


def test_emnist_splits_read_as_stored(tmp_path):
    raw = tmp_path / "EMNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(3).integers(0, 256, (4, 28, 28)).astype(np.uint8)
    labels = np.array([1, 26, 5, 13], np.uint8)
    (raw / "emnist-letters-train-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
    (raw / "emnist-letters-train-labels-idx1-ubyte").write_bytes(_idx(labels))
    ds = datasets.EMNIST(tmp_path, split="letters")
    assert len(ds) == 4 and ds.classes[:2] == ["N/A", "a"] and len(ds.classes) == 27
    img, label = ds[1]
    assert label == 26 and ds.classes[label] == "z"
    np.testing.assert_array_equal(np.asarray(img), images[1])  # kept transposed, as torchvision keeps it
    assert len(datasets.EMNIST.classes_split_dict["byclass"]) == 62
    assert len(datasets.EMNIST.classes_split_dict["balanced"]) == 47
    with pytest.raises(datasets.DatasetNotFoundError, match="emnist-letters-test-images-idx3-ubyte"):
        datasets.EMNIST(tmp_path, split="letters", train=False)
    with pytest.raises(datasets.DatasetNotFoundError, match="gzip.zip"):
        datasets.EMNIST(tmp_path, split="digits", download=True)
    with pytest.raises(ValueError, match="split"):
        datasets.EMNIST(tmp_path, split="kanji")


def test_kmnist_reads_mnist_files(tmp_path):
    raw = tmp_path / "KMNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(4).integers(0, 256, (3, 28, 28)).astype(np.uint8)
    (raw / "t10k-images-idx3-ubyte").write_bytes(_idx(images))
    (raw / "t10k-labels-idx1-ubyte").write_bytes(_idx(np.array([0, 9, 4], np.uint8)))
    ds = datasets.KMNIST(tmp_path, train=False)
    assert ds.classes[9] == "wo" and ds[1][1] == 9
    np.testing.assert_array_equal(ds.data.numpy(), images)
    with pytest.raises(datasets.DatasetNotFoundError, match="codh.rois.ac.jp"):
        datasets.KMNIST(tmp_path, train=True, download=True)


# -- FakeData -----------------------------------------------------------------------------------------


def test_fake_data_is_deterministic_per_index():
    ds = datasets.FakeData(size=6, image_size=(1, 10, 12), num_classes=3, transform=T.ToTensor())
    state = glassgrad.random.default_generator.get_state().numpy().copy()
    a, la = ds[4]
    b, lb = ds[4]
    assert a.shape == (1, 10, 12) and la == lb and 0 <= la < 3
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(ds[3][0].numpy(), a.numpy())
    np.testing.assert_array_equal(glassgrad.random.default_generator.get_state().numpy(), state)  # untouched
    shifted = datasets.FakeData(size=6, image_size=(1, 10, 12), num_classes=3, transform=T.ToTensor(), random_offset=1)
    np.testing.assert_array_equal(shifted[3][0].numpy(), a.numpy())
    assert len(ds) == 6 and ds[-1][1] == ds[5][1]
    with pytest.raises(IndexError):
        ds[6]
    rgb = datasets.FakeData(size=2)[0][0]
    assert rgb.mode == "RGB" and rgb.size == (224, 224)
    labels = {datasets.FakeData(size=50, image_size=(1, 2, 2), num_classes=4)[i][1] for i in range(50)}
    assert labels == {0, 1, 2, 3}
