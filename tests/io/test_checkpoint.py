"""glassgrad.save / glassgrad.load: round trips, safety against pickles, atomic writes, clear errors."""

import io
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import glassgrad
from glassgrad.io import CheckpointError
from glassgrad.nn import Parameter

ALL_DTYPES = [np.float16, np.float32, np.float64, np.uint8, np.int8, np.int16, np.int32, np.int64, np.bool_]


def _random_array(dtype, shape, rng):
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


def _nested(rng):
    tensors = {str(np.dtype(d)): glassgrad.from_numpy(_random_array(d, (3, 2), rng)) for d in ALL_DTYPES}
    return {
        "model": OrderedDict(
            [
                ("conv1.weight", Parameter(glassgrad.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32)))),
                ("bn.num_batches_tracked", glassgrad.tensor(7)),
                ("frozen", Parameter(glassgrad.ones(2), requires_grad=False)),
            ]
        ),
        "tensors": tensors,
        "arrays": [_random_array(d, (2, 5), rng) for d in ALL_DTYPES],
        "optimizer": {"state": {0: {"step": glassgrad.tensor(3.0), "exp_avg": glassgrad.zeros(4)}}, "param_groups": []},
        "scalar_tensor": glassgrad.tensor(2.5, dtype=glassgrad.float64),
        "empty": glassgrad.zeros(0, 3),
        "non_contiguous": glassgrad.from_numpy(np.arange(12, dtype=np.float32).reshape(3, 4).T),
        "numbers": (1, -(2**70), 2.5, float("inf"), float("-inf"), True, False, None, "text", ""),
        "numpy_scalars": [np.float32(1.25), np.int64(-3), np.bool_(True)],
        "keys": {1: "int key", 2.5: "float key", None: "none key", (1, "a"): "tuple key", False: "bool key"},
        "bytes": b"\x00\x01rng-state",
        "dtype": glassgrad.float16,
        "epoch": 12,
        "metrics": {"loss": [0.9, 0.5, 0.25], "best": float("nan")},
    }


def _assert_same(a, b, where="obj"):
    assert type(a) is type(b), f"{where}: {type(a)} vs {type(b)}"
    if isinstance(a, glassgrad.Tensor):
        assert a.array.dtype == b.array.dtype and a.array.shape == b.array.shape, where
        assert a.requires_grad == b.requires_grad, where
        np.testing.assert_array_equal(a.array, b.array, err_msg=where)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys()), where
        for (ka, va), (kb, vb) in zip(a.items(), b.items()):
            assert type(ka) is type(kb), where
            _assert_same(va, vb, f"{where}[{ka!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and a != a:
        assert b != b, where
    else:
        assert a == b, where


def test_round_trip_of_nested_structure_with_all_dtypes(tmp_path):
    obj = _nested(np.random.default_rng(0))
    path = tmp_path / "ckpt.pt"
    glassgrad.save(obj, path)
    loaded = glassgrad.load(path)
    _assert_same(obj, loaded)
    assert isinstance(loaded["model"], OrderedDict)
    assert isinstance(loaded["model"]["conv1.weight"], Parameter)
    assert loaded["model"]["conv1.weight"].requires_grad
    assert not loaded["model"]["frozen"].requires_grad
    assert loaded["scalar_tensor"].shape == () and loaded["numpy_scalars"][0].dtype == np.float32
    # Loaded tensors own writable memory.
    loaded["tensors"]["float32"].array[0, 0] = 123.0


def test_str_path_file_object_and_pytorch_keywords(tmp_path):
    obj = {"w": glassgrad.randn(5, 2), "epoch": 3}
    glassgrad.save(obj, str(tmp_path / "a.pt"))
    for kwargs in (
        {"map_location": "cpu"},
        {"map_location": {"cuda:0": "cpu"}},
        {"weights_only": True},
        {"weights_only": False, "mmap": True},
    ):
        _assert_same(obj, glassgrad.load(str(tmp_path / "a.pt"), **kwargs))
    buffer = io.BytesIO()
    glassgrad.save(obj, buffer)
    buffer.seek(0)
    _assert_same(obj, glassgrad.load(buffer, map_location=lambda storage, loc: storage))


def test_shared_tensors_are_stored_once_and_stay_shared(tmp_path):
    w = glassgrad.randn(256, 256)
    glassgrad.save({"encoder": w, "decoder": w}, tmp_path / "tied.pt")
    glassgrad.save({"encoder": w, "decoder": glassgrad.randn(256, 256)}, tmp_path / "untied.pt")
    loaded = glassgrad.load(tmp_path / "tied.pt")
    assert loaded["encoder"] is loaded["decoder"]
    tied, untied = os.path.getsize(tmp_path / "tied.pt"), os.path.getsize(tmp_path / "untied.pt")
    assert tied < untied - 200_000


def test_file_is_safetensors_layout_with_readable_names(tmp_path):
    path = tmp_path / "m.pt"
    glassgrad.save({"model": {"fc.weight": glassgrad.ones(2, 3)}, "step": 4}, path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    header = json.loads(raw[8 : 8 + n])
    assert header["model.fc.weight"] == {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}
    assert header["__metadata__"]["format"] == "glassgrad"
    assert len(raw) == 8 + n + 24
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_plain_safetensors_file_loads_as_dict_of_tensors(tmp_path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1, -2], dtype=np.int64)
    header = {
        "b": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]},
        "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "__metadata__": {"format": "pt"},
    }
    text = json.dumps(header).encode()
    (tmp_path / "x.safetensors").write_bytes(struct.pack("<Q", len(text)) + text + a.tobytes() + b.tobytes())
    loaded = glassgrad.load(tmp_path / "x.safetensors")
    assert list(loaded) == ["a", "b"]
    np.testing.assert_array_equal(loaded["a"].array, a)
    np.testing.assert_array_equal(loaded["b"].array, b)


def test_safetensors_library_reads_glassgrad_files(tmp_path):
    st = pytest.importorskip("safetensors.numpy", reason="safetensors not installed")
    w = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    glassgrad.save({"fc": {"weight": glassgrad.from_numpy(w)}}, tmp_path / "m.safetensors")
    np.testing.assert_array_equal(st.load_file(str(tmp_path / "m.safetensors"))["fc.weight"], w)


def test_unsupported_objects_raise_and_leave_the_old_file(tmp_path):
    path = tmp_path / "c.pt"
    glassgrad.save({"epoch": 1}, path)
    with pytest.raises(TypeError, match=r"obj\['model'\]\['fn'\].*no pickle"):
        glassgrad.save({"model": {"fn": lambda x: x}}, path)
    with pytest.raises(TypeError, match="dtype object"):
        glassgrad.save({"a": np.array(["x", None], dtype=object)}, path)
    assert glassgrad.load(path) == {"epoch": 1}
    assert sorted(os.listdir(tmp_path)) == ["c.pt"]


# -- files crafted to run code -------------------------------------------------------------


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_pickle(marker):
    return pickle.dumps({"state_dict": _Evil(marker)}, protocol=2)


def test_the_crafted_pickle_really_runs_code_when_unpickled(tmp_path):
    # Proves the payload used below is live: pickle.loads creates the marker.
    marker = tmp_path / "pwned"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import pickle,sys; pickle.loads(open(sys.argv[1],'rb').read())",
            _write(tmp_path / "e.pkl", _evil_pickle(marker)),
        ],
        check=True,
    )
    assert marker.exists()


def _write(path, data):
    path.write_bytes(data)
    return str(path)


def _torch_style_zip(payload):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/version", "3\n")
    return buffer.getvalue()


def _disguised_in_our_header(payload):
    # Our header, but the "tensor" is a pickle and its dtype claims Python objects.
    header = {
        "state_dict": {"dtype": "O", "shape": [1], "data_offsets": [0, len(payload)]},
        "__metadata__": {
            "format": "glassgrad",
            "glassgrad.structure": '{"tensor":"state_dict"}',
            "glassgrad.sha256": "0" * 64,
        },
    }
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + payload


def _disguised_as_bytes(payload):
    # A well-formed header whose only array holds the pickle's bytes: loading yields bytes, never objects.
    text = json.dumps(
        {
            "blob": {"dtype": "U8", "shape": [len(payload)], "data_offsets": [0, len(payload)]},
            "__metadata__": {"format": "pt"},
        }
    ).encode()
    return struct.pack("<Q", len(text)) + text + payload


@pytest.mark.parametrize(
    "craft, message",
    [
        (lambda p: p, "Python pickle"),
        (_torch_style_zip, "refusing to load: its pickle asks for"),
        (_disguised_in_our_header, "dtype 'O'"),
        (_disguised_as_bytes, None),
    ],
    ids=["raw-pickle", "torch-zip", "object-dtype-header", "pickle-bytes-as-array"],
)
def test_loading_a_malicious_file_never_runs_its_code(tmp_path, craft, message):
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pt"  # disguised with the usual extension
    path.write_bytes(craft(_evil_pickle(marker)))
    if message is None:
        loaded = glassgrad.load(path)
        assert loaded["blob"].array.dtype == np.uint8  # just bytes
    else:
        with pytest.raises(CheckpointError, match=message) as info:
            glassgrad.load(path)
        assert str(path) in str(info.value) and info.value.path == str(path)
        assert isinstance(info.value, RuntimeError) and isinstance(info.value, ValueError)
    assert not marker.exists()


def test_a_real_torch_save_file_with_a_hostile_object_is_refused_without_running_it(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2), "evil": _Evil(marker)}, path)
    with pytest.raises(CheckpointError, match="refusing to load: its pickle asks for (posix|os).system"):
        glassgrad.load(path, weights_only=False)
    assert not marker.exists()


# -- truncated, corrupted and foreign files --------------------------------------------------


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.pt"
    glassgrad.save({"w": glassgrad.randn(64, 8), "epoch": 5}, path)
    return path


def test_truncated_files_raise_an_error_naming_the_file(good_file, tmp_path):
    raw = good_file.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    for cut in (0, 5, 8, 8 + n // 2, 8 + n, 8 + n + 100, len(raw) - 1):
        path = tmp_path / f"cut{cut}.pt"
        path.write_bytes(raw[:cut])
        with pytest.raises(CheckpointError, match="truncated") as info:
            glassgrad.load(path)
        assert str(path) in str(info.value)


def test_corrupted_files_are_detected(good_file, tmp_path):
    raw = bytearray(good_file.read_bytes())
    (n,) = struct.unpack("<Q", raw[:8])

    flipped = bytearray(raw)
    flipped[8 + n + 100] ^= 0x01
    (tmp_path / "flip.pt").write_bytes(flipped)
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        glassgrad.load(tmp_path / "flip.pt")

    # A header edit that still parses (epoch 5 -> 6) is caught by the checksum too.
    text = raw[8 : 8 + n].replace(b'\\"epoch\\",5', b'\\"epoch\\",6')
    assert text != raw[8 : 8 + n]
    (tmp_path / "edit.pt").write_bytes(raw[:8] + text + raw[8 + n :])
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        glassgrad.load(tmp_path / "edit.pt")

    (tmp_path / "tail.pt").write_bytes(raw + b"garbage!")
    with pytest.raises(CheckpointError, match="unexpected bytes"):
        glassgrad.load(tmp_path / "tail.pt")

    broken = bytearray(raw)
    broken[8 + 1] = ord("}")
    (tmp_path / "json.pt").write_bytes(broken)
    with pytest.raises(CheckpointError, match="not valid JSON"):
        glassgrad.load(tmp_path / "json.pt")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"epoch,loss\n1,0.5\n2,0.4\n" * 10, "truncated or not a glassgrad checkpoint"),
        (b"\x89HDF\r\n\x1a\n" + b"\x00" * 64, "HDF5"),
        (struct.pack("<Q", 4) + b"[1] ", "does not start with an 8-byte header length and a JSON header"),
        (b"", "too short"),
    ],
)
def test_foreign_files_raise_clear_errors(tmp_path, content, message):
    path = tmp_path / "foreign.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        glassgrad.load(path)


def test_npz_is_refused_with_a_hint(tmp_path):
    np.savez(tmp_path / "w.npz", w=np.ones(3))
    with pytest.raises(CheckpointError, match="numpy.load"):
        glassgrad.load(tmp_path / "w.npz")


# -- atomic writes -------------------------------------------------------------------------------


def test_a_failed_save_leaves_the_previous_checkpoint_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    glassgrad.save({"epoch": 1, "w": glassgrad.ones(3)}, path)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        glassgrad.save({"epoch": 2, "w": glassgrad.zeros(3)}, path)
    monkeypatch.undo()
    assert glassgrad.load(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["c.pt"]


def test_save_into_a_missing_directory_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        glassgrad.save({"a": 1}, tmp_path / "nope" / "c.pt")


_CHILD = r"""
import sys
import numpy as np
import glassgrad
path = sys.argv[1]
data = np.empty(6_000_000, dtype=np.float32)
i = 0
while True:
    data.fill(i)
    print("start", i, flush=True)
    glassgrad.save({"version": i, "data": glassgrad.from_numpy(data)}, path)
    print("done", i, flush=True)
    i += 1
"""


def _partial_file(directory, full_size):
    """A file being written: smaller than a complete checkpoint (a temporary, or the target itself)."""
    for entry in os.scandir(directory):
        try:
            if entry.stat().st_size < full_size:
                return entry.name
        except FileNotFoundError:  # renamed between listing and stat
            continue
    return None


def test_sigkill_during_a_save_leaves_the_older_checkpoint_loadable(tmp_path):
    path = tmp_path / "live.pt"
    for _ in range(2):
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, text=True)
        partial = None
        try:
            while child.stdout.readline().split() != ["done", "1"]:
                assert child.poll() is None, "the saving child exited early"
            full_size = os.path.getsize(path)
            deadline = time.monotonic() + 20
            # Kill while bytes are being written, the moment a non-atomic save would be exposed.
            while partial is None and time.monotonic() < deadline:
                partial = _partial_file(tmp_path, full_size)
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        lines = [line.split() for line in child.stdout.read().splitlines()]
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        assert partial is not None, "never saw a save in progress"

        loaded = glassgrad.load(path)
        last_done = max([1] + [int(v) for tag, v in lines if tag == "done"])
        assert loaded["version"] in (last_done, last_done + 1)  # the new file only if its rename landed
        assert loaded["data"].shape == (6_000_000,)
        assert np.all(loaded["data"].array == loaded["version"])
        for name in os.listdir(tmp_path):  # the killed save's temporary, if any, is left beside it
            if name != "live.pt":
                os.unlink(tmp_path / name)


def _file_with_header(header, data=b""):
    text = json.dumps(header).encode() if isinstance(header, dict) else header
    return struct.pack("<Q", len(text)) + text + data


@pytest.mark.parametrize(
    "content, message",
    [
        (_file_with_header(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"), "nested too deeply"),
        (_file_with_header({"w": {"dtype": "F32", "shape": [2**32, 2**32], "data_offsets": [0, 0]}}), "spans"),
        (_file_with_header({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"abcd"), "shape"),
        (
            _file_with_header({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"abcdefgh"),
            "starts at byte 4",
        ),
        (
            _file_with_header(
                {
                    "a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                    "__metadata__": {"format": "glassgrad", "glassgrad.structure": '{"tensor":"b"}'},
                },
                b"x",
            ),
            "lacks its structure or checksum",
        ),
    ],
    ids=["deep-json", "overflowing-shape", "negative-shape", "hole", "no-checksum"],
)
def test_hostile_headers_raise_checkpoint_errors(tmp_path, content, message):
    path = tmp_path / "hostile.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        glassgrad.load(path)


def test_rng_state_round_trip_repeats_the_random_stream(tmp_path):
    glassgrad.manual_seed(1234)
    glassgrad.randn(10)
    glassgrad.save({"rng": glassgrad.get_rng_state(), "epoch": 2}, tmp_path / "rng.pt")
    expected = glassgrad.randn(5).array.copy()
    glassgrad.randn(100)  # move on
    glassgrad.set_rng_state(glassgrad.load(tmp_path / "rng.pt")["rng"])
    np.testing.assert_array_equal(glassgrad.randn(5).array, expected)


def test_load_from_a_non_seekable_stream(tmp_path):
    obj = {"w": glassgrad.randn(3, 3), "name": "net"}
    glassgrad.save(obj, tmp_path / "s.pt")
    with subprocess.Popen(["cat", str(tmp_path / "s.pt")], stdout=subprocess.PIPE) as cat:
        loaded = glassgrad.load(cat.stdout)
    _assert_same(obj, loaded)


def _leaves():
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    arrays = hnp.arrays(
        st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_]),
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    )
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=False),
        st.text(max_size=8),
        arrays,
        arrays.map(glassgrad.from_numpy),
    )


def test_random_nested_structures_round_trip(tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    keys = st.one_of(st.text(max_size=6), st.integers(-5, 5))
    tree = st.recursive(
        _leaves(),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.tuples(children, children),
            st.dictionaries(keys, children, max_size=4),
        ),
        max_leaves=12,
    )

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(tree)
    def check(obj):
        path = tmp_path / "h.pt"
        glassgrad.save(obj, path)
        _assert_same(obj, glassgrad.load(path))

    check()


def test_a_header_length_that_starts_like_a_pickle_still_loads(tmp_path):
    # 640 = b"\x80\x02\x00..." little-endian: the first two bytes of a protocol-2 pickle.
    for pad in range(600):
        obj = {"name": "x" * pad, "w": glassgrad.ones(2)}
        glassgrad.save(obj, tmp_path / "p.pt")
        raw = (tmp_path / "p.pt").read_bytes()
        if raw[:2] == b"\x80\x02":
            _assert_same(obj, glassgrad.load(tmp_path / "p.pt"))
            return
    raise AssertionError("no padding produced a 640-byte header")


def test_a_damaged_format_field_is_not_mistaken_for_plain_safetensors(good_file, tmp_path):
    raw = good_file.read_bytes()
    damaged = raw.replace(b'"format":"glassgrad"', b'"format":"glassgrab"')
    assert damaged != raw
    (tmp_path / "d.pt").write_bytes(damaged)
    with pytest.raises(CheckpointError, match="format 'glassgrab'"):
        glassgrad.load(tmp_path / "d.pt")
