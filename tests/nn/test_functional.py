"""nn.functional helpers that are not layers: linear, one_hot, pad, normalize, cosine_similarity."""

import numpy as np
import pytest

import glassgrad
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.autograd import gradcheck


def _t(array, grad=True):
    return glassgrad.tensor(array, dtype=glassgrad.float64, requires_grad=grad)


def test_linear_values_gradcheck_and_shape_error(rng):
    x, w, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(5, 4)), rng.normal(size=5)
    np.testing.assert_allclose(F.linear(_t(x, False), _t(w, False), _t(b, False)).array, x @ w.T + b, rtol=1e-12)
    assert gradcheck(F.linear, (_t(x), _t(w), _t(b)))
    assert gradcheck(lambda w: F.linear(_t(x, False), w), (_t(w),))
    assert gradcheck(F.linear, (_t(x[0, 0]), _t(w)))  # unbatched (in,) -> (out,)
    with pytest.raises(RuntimeError, match="same dtype"):
        F.linear(glassgrad.ones(2, 4), _t(w, False))
    with pytest.raises(RuntimeError, match="in_features"):
        F.linear(glassgrad.ones(2, 3), glassgrad.ones(5, 4))


def test_one_hot():
    out = F.one_hot(glassgrad.tensor([[0, 2], [1, 0]]))
    assert out.dtype == glassgrad.int64 and out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.array[0], [[1, 0, 0], [0, 0, 1]])
    assert F.one_hot(glassgrad.tensor([1]), num_classes=5).shape == (1, 5)
    with pytest.raises(RuntimeError, match="class values"):
        F.one_hot(glassgrad.tensor([3]), num_classes=2)


def test_pad_and_normalize(rng):
    x = _t(rng.normal(size=(2, 3)))
    padded = F.pad(x, (1, 2), value=0.5)
    assert padded.shape == (2, 6) and padded.array[0, 0] == 0.5
    n = F.normalize(x, dim=1)
    np.testing.assert_allclose(np.linalg.norm(n.array, axis=1), 1.0, rtol=1e-12)
    assert gradcheck(lambda x: F.normalize(x, dim=0), (x,))
    y = _t(rng.normal(size=(2, 3)))
    expected = (x.array * y.array).sum(1) / np.linalg.norm(x.array, axis=1) / np.linalg.norm(y.array, axis=1)
    np.testing.assert_allclose(F.cosine_similarity(x, y).array, expected, rtol=1e-12)


def test_padding_layers(rng):
    x = _t(rng.normal(size=(1, 2, 3, 3)))
    out = nn.ZeroPad2d((1, 0, 2, 1))(x)
    assert out.shape == (1, 2, 6, 4)
    np.testing.assert_array_equal(out.array[..., 2:5, 1:], x.array)
    assert out.array[..., :2, :].sum() == 0
    assert gradcheck(nn.ConstantPad2d(1, 3.0), (x,))
    assert nn.ConstantPad1d((2, 1), -1.0)(glassgrad.zeros(2, 3)).array[0].tolist() == [-1, -1, 0, 0, 0, -1]
    assert repr(nn.ZeroPad2d(1)) == "ZeroPad2d((1, 1, 1, 1))"
    assert repr(nn.ConstantPad1d((1, 2), 3.5)) == "ConstantPad1d(padding=(1, 2), value=3.5)"
    with pytest.raises(ValueError, match="4 ints"):
        nn.ZeroPad2d((1, 2))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes_values_and_gradcheck(rng, mode):
    row = _t(np.array([[[1.0, 2.0, 3.0]]]), False)
    expected = {"reflect": [3, 2, 1, 2, 3, 2], "replicate": [1, 1, 1, 2, 3, 3], "circular": [2, 3, 1, 2, 3, 1]}
    np.testing.assert_array_equal(F.pad(row, (2, 1), mode=mode).array[0, 0], expected[mode])
    x = _t(rng.normal(size=(1, 2, 3, 4)))
    assert gradcheck(lambda x: F.pad(x, (2, 1, 1, 2), mode=mode), (x,))
    layer = {"reflect": nn.ReflectionPad2d, "replicate": nn.ReplicationPad2d, "circular": nn.CircularPad2d}[mode]
    assert layer(1)(x).shape == (1, 2, 5, 6)
    assert layer(1)(x[0]).shape == (2, 5, 6)  # unbatched


def test_pad_mode_errors():
    with pytest.raises(ValueError, match="between 0 and 2"):
        F.pad(glassgrad.ones(1, 1, 3), (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="needs a 2-D"):
        F.pad(glassgrad.ones(1, 1, 1, 3), (1, 1), mode="replicate")
    with pytest.raises(ValueError, match="not one of"):
        F.pad(glassgrad.ones(1, 1, 3), (1, 1), mode="symmetric")


def test_other_spellings_match_their_functions():
    x = glassgrad.tensor([[[[-2.0, 0.5, 3.0, -0.25], [1.0, -1.5, 0.75, 2.5]]]])
    for inplace, reference in [
        (lambda t: F.elu_(t, 0.5), lambda t: F.elu(t, 0.5)),
        (F.selu_, F.selu),
        (lambda t: F.celu_(t, 2.0), lambda t: F.celu(t, 2.0)),
        (lambda t: F.hardtanh_(t, -1.0, 1.0), F.hardtanh),
        (lambda t: F.threshold_(t, 0.6, -9.0), lambda t: F.threshold(t, 0.6, -9.0)),
    ]:
        y = x.clone()
        assert inplace(y) is y
        np.testing.assert_array_equal(y.numpy(), reference(x).numpy())
    out, idx = F.max_pool2d_with_indices(x, 2)
    expected_out, expected_idx = F.max_pool2d(x, 2, return_indices=True)
    assert out.tolist() == expected_out.tolist() == [[[[1.0, 3.0]]]] and idx.tolist() == expected_idx.tolist()
    out, idx = F.adaptive_max_pool2d_with_indices(x, 1)
    assert out.item() == 3.0 and idx.item() == 2
    assert F.upsample_nearest(x, scale_factor=2).shape == (1, 1, 4, 8)
    np.testing.assert_allclose(
        F.upsample_bilinear(x, size=(3, 5)).numpy(),
        F.interpolate(x, size=(3, 5), mode="bilinear", align_corners=True).numpy(),
    )


def test_identity_affine_grid_resamples_the_image_exactly():
    image = glassgrad.tensor(np.random.default_rng(0).normal(size=(2, 3, 5, 4)), requires_grad=True)
    theta = glassgrad.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]] * 2, dtype=glassgrad.float64, requires_grad=True)
    for align in (False, True):
        grid = F.affine_grid(theta, image.shape, align_corners=align)
        out = F.grid_sample(image, grid, align_corners=align)
        np.testing.assert_allclose(out.detach().numpy(), image.detach().numpy(), atol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(image.grad.numpy(), np.ones((2, 3, 5, 4)), atol=1e-12)
    assert theta.grad.shape == (2, 2, 3)
    with pytest.raises(ValueError, match="padding_mode='reflection' is not supported"):
        F.grid_sample(image, grid, padding_mode="reflection")
