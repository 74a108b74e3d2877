"""Hostile checkpoints for glassgrad.load and hostile objects/paths for glassgrad.save.

Every crafted file must raise CheckpointError (never TypeError, ValueError from deep inside,
RecursionError, MemoryError), quickly and without reading or allocating what the header claims.
"""

import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import glassgrad
from glassgrad.io import CheckpointError, checkpoint


def _file(header, data=b""):
    text = json.dumps(header).encode() if isinstance(header, dict) else header
    return struct.pack("<Q", len(text)) + text + data


def _entry(dtype="F32", shape=(1,), offsets=(0, 4)):
    return {"w": {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}}


def _glassgrad_file(structure):
    """A file with a valid checksum whose structure is ``structure`` (JSON text), one U8 tensor 'a'."""
    table = {"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}
    array = np.zeros(1, np.uint8)
    digest = checkpoint._digest(table, structure, [array]).hexdigest()
    metadata = {"format": "glassgrad", "glassgrad.version": "1", "glassgrad.structure": structure}
    metadata["glassgrad.sha256"] = digest
    return _file({**table, "__metadata__": metadata}, b"\0")


def _many_empty_tensors(n):
    entries = ",".join(f'"t{i}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}' for i in range(n))
    return _file(("{" + entries + "}").encode())


_NESTED = '{"list":[' * 300 + "1" + "]}" * 300

HOSTILE = {
    "dtype-as-list": (_file(_entry(dtype=["F32"]), b"abcd"), "dtype"),
    "dtype-as-dict": (_file(_entry(dtype={"F32": 1}), b"abcd"), "dtype"),
    "unknown-dtype": (_file(_entry(dtype="C64"), b"abcd"), "dtype 'C64'"),
    "5000-digit-int": (_file(b'{"w":{"dtype":"F32","shape":[' + b"1" * 5000 + b'],"data_offsets":[0,4]}}'), "JSON"),
    "65-dimensions": (_file(_entry(shape=[1] * 65), b"abcd"), "shape"),
    "shape-0-by-2**64": (_file(_entry(shape=[0, 2**64], offsets=(0, 0))), "shape"),
    "shape-too-big-for-numpy": (_file(_entry(shape=[0, 2**62, 2**62], offsets=(0, 0))), "cannot be allocated"),
    "nan-literal": (_file(b'{"w":{"dtype":"F32","shape":[NaN],"data_offsets":[0,4]}}', b"abcd"), "NaN"),
    "infinity-literal": (_file(b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,Infinity]}}', b"abcd"), "Infinity"),
    "metadata-not-strings": (_file({"__metadata__": {"format": 1}}), "must be strings"),
    "too-many-tensors": (_many_empty_tensors(200_001), "more than the 200,000"),
    "tuple-key-holding-a-list": (_glassgrad_file('{"dict":[[{"tuple":[{"list":[]}]},1]]}'), "not hashable"),
    "5000-digit-int-in-structure": (_glassgrad_file('{"int":"' + "7" * 5000 + '"}'), "5,000 digits"),
    "nested-structure": (_glassgrad_file(_NESTED), "nested more than"),
    "tensor-name-as-list": (_glassgrad_file('{"tensor":["a"]}'), "refers to a tensor"),
    "dtype-tag-as-list": (_glassgrad_file('{"dtype":["float32"]}'), "unknown dtype"),
    "nan-in-structure": (_glassgrad_file('{"list":[NaN]}'), "NaN"),
}


@pytest.mark.parametrize("content, message", list(HOSTILE.values()), ids=list(HOSTILE))
def test_crafted_files_raise_checkpoint_error(tmp_path, content, message):
    path = tmp_path / "hostile.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        glassgrad.load(path)


def test_a_header_over_safetensors_bound_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge-header.pt"
    size = 100_000_000 + 16
    with open(path, "wb") as f:  # sparse: the bound is checked before any of it is read
        f.write(struct.pack("<Q", size - 8) + b"{")
        f.truncate(size)
    with pytest.raises(CheckpointError, match="announce a"):
        glassgrad.load(path)


def test_saving_through_a_symlink_writes_its_target(tmp_path):
    target = tmp_path / "real.pt"
    link = tmp_path / "link.pt"
    glassgrad.save({"v": 1}, target)
    link.symlink_to(target)
    glassgrad.save({"v": 2}, link)
    assert link.is_symlink()
    assert glassgrad.load(target) == {"v": 2}


def _recursive_dict():
    d = {"a": 1}
    d["self"] = d
    return d


def _recursive_list():
    items = [1]
    items.append([items])
    return items


def _deep(levels):
    obj = 1
    for _ in range(levels):
        obj = [obj]
    return obj


@pytest.mark.parametrize(
    "obj, message",
    [(_recursive_dict(), "contains itself"), (_recursive_list(), "contains itself"), (_deep(5000), "nested more than")],
    ids=["dict-holding-itself", "list-holding-itself", "5000-levels"],
)
def test_saving_a_recursive_or_too_deep_structure_raises_a_clear_error(tmp_path, obj, message):
    with pytest.raises(ValueError, match=message):
        glassgrad.save(obj, tmp_path / "x.pt")
    assert os.listdir(tmp_path) == []


def test_a_deep_but_allowed_structure_round_trips(tmp_path):
    glassgrad.save(_deep(150), tmp_path / "deep.pt")
    assert glassgrad.load(tmp_path / "deep.pt") == _deep(150)


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_of_killed_saves_are_swept_by_the_next_save(tmp_path):
    dead = tmp_path / f".model.pt.{_dead_pid()}.abc123.tmp"
    alive = tmp_path / f".model.pt.{os.getppid()}.def456.tmp"  # a save still running elsewhere
    other = tmp_path / f".other.pt.{_dead_pid()}.x.tmp"  # another checkpoint's: not ours to judge
    for path in (dead, alive, other):
        path.write_bytes(b"partial")
    glassgrad.save({"v": 1}, tmp_path / "model.pt")
    assert sorted(os.listdir(tmp_path)) == sorted([alive.name, other.name, "model.pt"])
