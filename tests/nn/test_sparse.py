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
