"""torch.save(model) / torch.load: whole modules, rebuilt only for classes the program allows."""

import json
import struct

import numpy as np
import pytest

import glassgrad
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.io import CheckpointError
from glassgrad.serialization import add_safe_globals, clear_safe_globals, get_safe_globals, safe_globals


class TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.rnn = nn.LSTM(4, 5, batch_first=True)
        self.head = nn.Linear(5, 10)
        self.register_buffer("scale", glassgrad.tensor([2.0]))
        self.activation = F.relu  # a function attribute, as TransformerEncoderLayer keeps one
        self.tags = {"a", "b"}

    def forward(self, x):
        out, _ = self.rnn(self.embed(x))
        return self.head(self.activation(out)) * self.scale


def test_a_whole_model_round_trips_inside_safe_globals(tmp_path):
    glassgrad.manual_seed(0)
    model = TinyLM().eval()
    x = glassgrad.tensor([[1, 2, 3]])
    path = tmp_path / "model.pt"
    with open(path, "wb") as f:
        glassgrad.save(model, f)
    with pytest.raises(CheckpointError, match=r"a whole model of class .*TinyLM.*safe_globals\(\[TinyLM"):
        glassgrad.load(path)
    with safe_globals([TinyLM]):
        loaded = glassgrad.load(path)
    assert get_safe_globals() == []  # the block's allowance ends with it
    assert type(loaded) is TinyLM and not loaded.training and loaded.activation is F.relu
    assert isinstance(loaded.rnn, nn.LSTM) and isinstance(loaded.head.weight, nn.Parameter)
    assert loaded.tags == {"a", "b"} and loaded.rnn.batch_first
    np.testing.assert_array_equal(loaded(x).array, model(x).array)
    assert list(loaded.state_dict()) == list(model.state_dict())
    loaded.rnn.flatten_parameters()
    # and it trains: parameters are leaves that take gradients
    loaded(x).sum().backward()
    assert loaded.head.weight.grad is not None


def test_add_safe_globals_allows_for_the_whole_process(tmp_path):
    path = tmp_path / "m.pt"
    glassgrad.save(TinyLM(), path)
    try:
        add_safe_globals([TinyLM])
        assert type(glassgrad.load(path)) is TinyLM
    finally:
        clear_safe_globals()
    glassgrad.save(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), path)
    assert isinstance(glassgrad.load(path)[0], nn.Linear)  # glassgrad's own layers need no allowance


def _file_with_structure(tmp_path, structure):
    # A well-formed file (right checksum) whose structure names what the test wants.
    from glassgrad.io.checkpoint import _digest

    text = json.dumps(structure)
    meta = {"format": "glassgrad", "glassgrad.structure": text, "glassgrad.sha256": _digest({}, text, []).hexdigest()}
    header = json.dumps({"__metadata__": meta}).encode()
    path = tmp_path / "crafted.pt"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    return path


@pytest.mark.parametrize(
    "structure, message",
    [
        ({"module": ["os:system", {"dict": []}]}, "a whole model of class os.system"),
        ({"global": "os:system"}, "a function or class os.system"),
        ({"global": "glassgrad.io.checkpoint:save"}, "glassgrad.io.checkpoint.save"),  # only layers and ops
        ({"module": ["glassgrad.nn.functional:relu", {"dict": []}]}, "is not a Module class"),
    ],
)
def test_a_file_cannot_name_what_the_program_did_not_allow(tmp_path, structure, message):
    path = _file_with_structure(tmp_path, structure)
    with pytest.raises(CheckpointError, match=message):
        glassgrad.load(path)


def test_local_functions_and_other_objects_are_still_refused_on_save(tmp_path):
    model = nn.Linear(2, 2)
    model.fn = lambda x: x
    with pytest.raises(TypeError, match=r"obj\['__dict__'\]\['fn'\]"):
        glassgrad.save(model, tmp_path / "x.pt")
