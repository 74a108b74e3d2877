"""Embedding: lookup values, gradient accumulation, padding_idx, scale_grad_by_freq, max_norm."""

import numpy as np
import pytest

import glassgrad
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.autograd import gradcheck


def test_lookup_and_gradient_accumulates_repeats(rng):
    weight = glassgrad.tensor(rng.normal(size=(5, 3)), dtype=glassgrad.float64, requires_grad=True)
    idx = glassgrad.tensor([[0, 2], [2, 4]])
    out = F.embedding(idx, weight)
    np.testing.assert_array_equal(out.array, weight.array[idx.array])
    out.sum().backward()
    np.testing.assert_array_equal(weight.grad.array[:, 0], [1, 0, 2, 0, 1])
    weight.grad = None
    assert gradcheck(lambda w: F.embedding(idx, w), (weight,))


def test_padding_idx_gets_no_gradient_and_starts_at_zero():
    glassgrad.manual_seed(0)
    layer = nn.Embedding(4, 2, padding_idx=-1)
    assert layer.padding_idx == 3
    np.testing.assert_array_equal(layer.weight.array[3], 0)
    layer(glassgrad.tensor([3, 1, 3])).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.array[3], 0)
    np.testing.assert_array_equal(layer.weight.grad.array[1], 1)
    assert repr(layer) == "Embedding(4, 2, padding_idx=3)"


def test_scale_grad_by_freq_and_max_norm():
    weight = glassgrad.tensor([[3.0, 4.0], [0.3, 0.4]], requires_grad=True)
    F.embedding(glassgrad.tensor([0, 0, 1]), weight, scale_grad_by_freq=True).sum().backward()
    np.testing.assert_allclose(weight.grad.array, [[1, 1], [1, 1]])
    with glassgrad.no_grad():
        F.embedding(glassgrad.tensor([0]), weight, max_norm=1.0)
    np.testing.assert_allclose(np.linalg.norm(weight.array[0]), 1.0, rtol=1e-6)
    np.testing.assert_allclose(weight.array[1], [0.3, 0.4])


def test_errors_and_from_pretrained():
    with pytest.raises(IndexError, match="out of range"):
        nn.Embedding(3, 2)(glassgrad.tensor([3]))
    with pytest.raises(TypeError, match="integers"):
        nn.Embedding(3, 2)(glassgrad.tensor([1.0]))
    table = glassgrad.arange(6.0).reshape(3, 2)
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(glassgrad.tensor([2])).array, [[4.0, 5.0]])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("form", ["offsets", "last_offset", "rows", "weights"])
def test_embedding_bag_matches_torch_values_and_gradients(mode, form):
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle for EmbeddingBag")
    if form == "weights" and mode != "sum":
        pytest.skip("per_sample_weights is for mode='sum' only (both libraries refuse it otherwise)")
    rng = np.random.default_rng(1)
    w = rng.normal(size=(10, 3))
    inp = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    kwargs = {"mode": mode, "padding_idx": 4}
    if form == "rows":
        inp, offsets = inp.reshape(2, 4), None
    elif form == "last_offset":
        offsets, kwargs["include_last_offset"] = np.array([0, 3, 3, 8]), True
    else:
        offsets = np.array([0, 3, 3])
    psw = rng.uniform(0.5, 2.0, 8) if form == "weights" else None
    results = []
    for lib in (glassgrad, torch):
        weight = lib.tensor(w, requires_grad=True)
        extra = {"per_sample_weights": lib.tensor(psw)} if psw is not None else {}
        off = None if offsets is None else lib.tensor(offsets)
        out = lib.nn.functional.embedding_bag(lib.tensor(inp), weight, off, **kwargs, **extra)
        (out * lib.tensor(np.arange(out.numel(), dtype=np.float64).reshape(out.shape))).sum().backward()
        results.append((out.detach().numpy(), weight.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12, atol=1e-12)


def test_embedding_bag_module_and_its_errors():
    bag = nn.EmbeddingBag(6, 2, mode="sum")
    out = bag(glassgrad.tensor([0, 1, 5]), glassgrad.tensor([0, 2]))
    np.testing.assert_allclose(out.detach().numpy(), [bag.weight.array[0] + bag.weight.array[1], bag.weight.array[5]])
    with pytest.raises(ValueError, match="needs offsets"):
        bag(glassgrad.tensor([0, 1]))
    with pytest.raises(ValueError, match="start at 0 and not decrease"):
        bag(glassgrad.tensor([0, 1]), glassgrad.tensor([1, 0]))
    with pytest.raises(ValueError, match="mode='median'"):
        nn.EmbeddingBag(3, 2, mode="median")
