"""nn.DataParallel on a machine without GPUs: a wrapper that calls its module, as PyTorch's."""

import numpy as np
import pytest

import glassgrad
from glassgrad import nn


def test_wraps_and_calls_the_module_with_prefixed_state_dict(rng):
    inner = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model = nn.DataParallel(inner, device_ids=[0, 1], output_device=0)
    x = glassgrad.tensor(rng.standard_normal((5, 3)), dtype=glassgrad.float32)
    np.testing.assert_array_equal(model(x).detach().numpy(), inner(x).detach().numpy())
    assert model.module is inner and model.device_ids == []
    assert list(model.state_dict()) == ["module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias"]
    model(x).sum().backward()
    assert inner[0].weight.grad is not None
    # Saved from a DataParallel, loaded into the bare model through .module.
    fresh = nn.DataParallel(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)))
    fresh.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(fresh.module(x).detach().numpy(), inner(x).detach().numpy())


def test_keyword_arguments_pass_through():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    out = nn.DataParallel(Scale())(glassgrad.ones(2), factor=3.0)
    np.testing.assert_array_equal(out.numpy(), [3.0, 3.0])


def test_rejects_a_non_module_and_functional_form_needs_a_gpu():
    with pytest.raises(TypeError, match="must be an nn.Module, got int"):
        nn.DataParallel(3)
    with pytest.raises(RuntimeError, match="device type could not be determined"):
        nn.parallel.data_parallel(nn.Linear(2, 2), glassgrad.ones(1, 2))


def test_matches_pytorch():
    torch = pytest.importorskip("torch", reason="parity needs PyTorch")
    ours = nn.DataParallel(nn.Linear(2, 3))
    theirs = torch.nn.DataParallel(torch.nn.Linear(2, 3))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.device_ids == theirs.device_ids
    assert repr(ours).replace("glassgrad", "torch") == repr(theirs)
