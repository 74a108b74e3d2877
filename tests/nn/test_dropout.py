"""Dropout: inverted scaling, off in eval, seeded by glassgrad.manual_seed, channel-wise variants."""

import numpy as np
import pytest

import glassgrad
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.autograd import gradcheck


def test_dropout_scales_survivors_and_gradient():
    glassgrad.manual_seed(0)
    x = glassgrad.ones(2000, requires_grad=True)
    out = nn.Dropout(0.25)(x)
    kept = out.array != 0
    np.testing.assert_allclose(out.array[kept], 1 / 0.75, rtol=1e-6)
    assert 0.7 < kept.mean() < 0.8
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.array, out.array)


def test_dropout_repeats_under_manual_seed_and_is_off_in_eval():
    layer = nn.Dropout(0.5)
    glassgrad.manual_seed(3)
    a = layer(glassgrad.ones(50)).array.copy()
    glassgrad.manual_seed(3)
    b = layer(glassgrad.ones(50)).array
    np.testing.assert_array_equal(a, b)
    layer.eval()
    x = glassgrad.ones(50)
    assert layer(x) is x
    assert F.dropout(x, 0.5, training=False) is x


def test_dropout_extremes_and_errors():
    x = glassgrad.ones(10)
    np.testing.assert_array_equal(F.dropout(x, 1.0).array, 0)
    assert F.dropout(x, 0.0) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout2d_drops_whole_channels():
    glassgrad.manual_seed(1)
    out = nn.Dropout2d(0.5)(glassgrad.ones(4, 8, 3, 3)).array
    per_channel = out.reshape(4, 8, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert 0 < (per_channel[..., 0] == 0).sum() < 32
    with pytest.raises(RuntimeError, match="dropout2d"):
        F.dropout2d(glassgrad.ones(2, 3), 0.5)
    out1 = nn.Dropout1d(0.5)(glassgrad.ones(3, 4, 5)).array
    assert np.all((out1 == 0).all(-1) | (out1 == 2.0).all(-1))


def test_dropout_gradcheck_with_a_fixed_mask():
    x = glassgrad.tensor(np.random.default_rng(0).normal(size=(3, 4, 2, 2)), requires_grad=True)

    def seeded(fn):
        def run(x):
            glassgrad.manual_seed(5)  # the same mask at every evaluation
            return fn(x)

        return run

    assert gradcheck(seeded(lambda x: F.dropout(x, 0.4)), (x,))
    assert gradcheck(seeded(lambda x: F.dropout2d(x, 0.5)), (x,))
