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
        F.dropout2d(glassgrad.ones(5), 0.5)
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


def _varying_dims(out):
    """The dims along which a dropout mask of ones differs (a mask constant along a dim does not)."""
    return [d for d in range(out.ndim) if not (out == np.take(out, [0], axis=d)).all()]


@pytest.mark.parametrize(
    "fn, shape, dims, warns",
    [
        # PyTorch's rules (mnist_rnn applies Dropout2d to (N, features) and relies on the first):
        (F.dropout2d, (40, 30), [0, 1], True),  # 2-D: elementwise, with a warning
        (F.dropout2d, (40, 30, 6), [0, 1], True),  # 3-D: (N, C, L), not unbatched (C, H, W)
        (F.dropout2d, (40, 30, 3, 3), [0, 1], False),
        (F.dropout3d, (40, 3, 3, 3), [0], False),  # 4-D: unbatched (C, D, H, W)
        (F.dropout3d, (40, 30, 2, 2, 2), [0, 1], False),
        (F.dropout3d, (40, 3), [0], True),
    ],
)
def test_feature_dropout_drops_along_the_dims_pytorch_does(fn, shape, dims, warns):
    import warnings

    glassgrad.manual_seed(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(glassgrad.ones(*shape), 0.5).array
    assert _varying_dims(out) == dims
    assert set(np.unique(out)) == {0.0, 2.0}
    assert bool(caught) == warns
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(torch.nn.functional, fn.__name__)(torch.ones(*shape), 0.5).numpy()
    assert _varying_dims(ref) == dims
