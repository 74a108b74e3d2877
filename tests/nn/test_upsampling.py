"""F.interpolate / Upsample: known small cases, interpolation matrices, gradcheck for every mode."""

import numpy as np
import pytest

import glassgrad
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.autograd import gradcheck
from glassgrad.ops.interpolate import interpolation_matrix


def _t(array, grad=True):
    return glassgrad.tensor(array, dtype=glassgrad.float64, requires_grad=grad)


def test_nearest_and_linear_on_a_ramp():
    x = _t(np.array([[[0.0, 1.0, 2.0]]]), False)
    np.testing.assert_array_equal(F.interpolate(x, scale_factor=2).array[0, 0], [0, 0, 1, 1, 2, 2])
    aligned = F.interpolate(x, size=5, mode="linear", align_corners=True).array[0, 0]
    np.testing.assert_allclose(aligned, [0, 0.5, 1, 1.5, 2])
    half_pixel = F.interpolate(x, size=6, mode="linear").array[0, 0]
    np.testing.assert_allclose(half_pixel, [0, 0.25, 0.75, 1.25, 1.75, 2])


def test_interpolation_matrices_rows_sum_to_one():
    for mode in ("nearest", "nearest-exact", "area", "linear", "bicubic"):
        for align in (False, True) if mode in ("linear", "bicubic") else (False,):
            a = interpolation_matrix(5, 8, mode, align, None, np.float64)
            assert a.shape == (8, 5)
            np.testing.assert_allclose(a.sum(1), 1.0, rtol=1e-12)


def test_area_is_average_pooling():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    out = F.interpolate(_t(x, False), size=(2, 2), mode="area").array
    np.testing.assert_allclose(out[0, 0], x[0, 0].reshape(2, 2, 2, 2).mean((1, 3)))


@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((1, 2, 3), {"scale_factor": 2, "mode": "nearest"}),
        ((1, 2, 3), {"size": 5, "mode": "linear"}),
        ((1, 1, 3, 3), {"scale_factor": 1.5, "mode": "bilinear"}),
        ((1, 1, 3, 3), {"size": (4, 5), "mode": "bilinear", "align_corners": True}),
        ((1, 1, 3, 3), {"size": (5, 4), "mode": "bicubic"}),
        ((1, 1, 4, 6), {"size": (2, 3), "mode": "area"}),
        ((1, 1, 2, 2, 3), {"scale_factor": 2, "mode": "trilinear"}),
        ((1, 1, 3, 3), {"size": (5, 2), "mode": "nearest-exact"}),
    ],
)
def test_gradcheck_every_mode(rng, shape, kwargs):
    x = _t(rng.normal(size=shape))
    assert gradcheck(lambda x: F.interpolate(x, **kwargs), (x,))


def test_layers_and_errors():
    x = glassgrad.ones(1, 2, 3, 3)
    assert nn.Upsample(scale_factor=2)(x).shape == (1, 2, 6, 6)
    assert nn.UpsamplingBilinear2d(size=(4, 7))(x).shape == (1, 2, 4, 7)
    assert nn.UpsamplingNearest2d(scale_factor=3)(x).dtype == glassgrad.float32
    with pytest.raises(ValueError, match="needs a 4-D input"):
        F.interpolate(glassgrad.ones(1, 2, 3), size=4, mode="bilinear")
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, size=4, mode="nearest", align_corners=True)
    with pytest.raises(ValueError, match="exactly one"):
        F.interpolate(x)
