"""glassgrad.load of the zip files torch.save writes: tensors come back, a hostile pickle does not run."""

import io
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import glassgrad
from glassgrad.io import CheckpointError
from glassgrad.nn import Parameter


def test_a_state_dict_saved_by_torch_loads_with_values_dtypes_and_views(tmp_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    base = torch.from_numpy(rng.normal(size=(4, 6)).astype(np.float32))
    state = OrderedDict(
        weight=base,
        transposed=base.t(),  # a strided view sharing the same storage
        row=base[2],  # a view at a storage offset
        steps=torch.tensor(7, dtype=torch.int64),
        mask=torch.tensor([True, False]),
        half=torch.arange(3, dtype=torch.float16),
        double=torch.ones(2, 2, dtype=torch.float64),
        empty=torch.zeros(0, 3),
    )
    path = tmp_path / "model.pth"
    torch.save({"state_dict": state, "epoch": 3, "name": "net", "shape": (2, 3)}, path)
    loaded = glassgrad.load(path)
    assert loaded["epoch"] == 3 and loaded["name"] == "net" and loaded["shape"] == (2, 3)
    got = loaded["state_dict"]
    assert isinstance(got, OrderedDict) and list(got) == list(state)
    for key, value in state.items():
        assert isinstance(got[key], glassgrad.Tensor)
        assert str(got[key].dtype).split(".")[-1] == str(value.dtype).split(".")[-1], key
        np.testing.assert_array_equal(got[key].array, value.numpy(), err_msg=key)
    with open(path, "rb") as f:  # a file object too, as torch.load(f) is often called
        np.testing.assert_array_equal(glassgrad.load(f)["state_dict"]["row"].array, state["row"].numpy())


def test_a_module_state_dict_from_torch_fills_a_glassgrad_module(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    source = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Linear(2, 2))
    path = tmp_path / "seq.pth"
    torch.save(source.state_dict(), path)
    target = glassgrad.nn.Sequential(
        glassgrad.nn.Conv2d(3, 4, 3), glassgrad.nn.BatchNorm2d(4), glassgrad.nn.Linear(2, 2)
    )
    target.load_state_dict(glassgrad.load(path))
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name].array, value.numpy(), err_msg=name)


def test_parameters_saved_by_torch_come_back_as_parameters(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "p.pt"
    torch.save([torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.zeros(1), requires_grad=False)], path)
    first, second = glassgrad.load(path)
    assert isinstance(first, Parameter) and first.requires_grad and not second.requires_grad


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _zip_with(payload, extra=()):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/byteorder", "little")
        for name, data in extra:
            z.writestr(name, data)
    return buffer.getvalue()


def test_a_hostile_pickle_in_a_torch_zip_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pth"
    path.write_bytes(_zip_with(pickle.dumps({"weight": _Evil(marker)}, protocol=2)))
    with pytest.raises(CheckpointError, match=r"refusing to load: its pickle asks for (posix|os)\.system"):
        glassgrad.load(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload, message",
    [
        (pickle.dumps(bytearray(b"x"), protocol=2), "asks for (__builtin__|builtins).bytearray"),  # any other global
        (
            b"\x80\x02(X\x07\x00\x00\x00storageq\x00ctorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQ.",
            "no archive/data/0",
        ),  # fmt: skip
    ],
    ids=["other-global", "missing-storage"],
)
def test_malformed_or_foreign_torch_zips_are_clear_errors(tmp_path, payload, message):
    path = tmp_path / "bad.pth"
    path.write_bytes(_zip_with(payload))
    with pytest.raises(CheckpointError, match=message):
        glassgrad.load(path)


def test_a_tensor_reaching_past_its_storage_is_refused(tmp_path):
    # _rebuild_tensor_v2(storage of 4 floats, offset 2, size (3,), stride (1,)): one element too far.
    payload = (
        b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storageq\x00ctorch\nFloatStorage\n"
        b"X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQK\x02K\x03\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtR."
    )
    path = tmp_path / "far.pth"
    path.write_bytes(_zip_with(payload, [("archive/data/0", np.zeros(4, np.float32).tobytes())]))
    with pytest.raises(CheckpointError, match="reaches past its storage of 4 elements"):
        glassgrad.load(path)


def test_a_zip_that_is_not_from_torch_save_is_still_a_clear_error(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, a=np.zeros(2))
    with pytest.raises(CheckpointError, match=r"zip archive without a torch data.pkl \(a NumPy .npz\?\)"):
        glassgrad.load(path)
