"""nn.utils: gradient clipping and parameters_to_vector / vector_to_parameters."""

import numpy as np
import pytest

import glassgrad
from glassgrad import nn
from glassgrad.nn.utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters


def _params_with_grads(grads):
    params = []
    for g in grads:
        p = nn.Parameter(glassgrad.zeros(len(g)))
        p.grad = glassgrad.tensor(g)
        params.append(p)
    return params


def test_clip_grad_norm_scales_to_max_norm():
    params = _params_with_grads([[3.0, 0.0], [0.0, 4.0]])
    total = clip_grad_norm_(params, max_norm=1.0)
    assert total.item() == pytest.approx(5.0)
    clipped = np.concatenate([p.grad.array for p in params])
    np.testing.assert_allclose(clipped, np.array([3, 0, 0, 4]) / (5 + 1e-6), rtol=1e-6)
    # Below the limit: unchanged.
    params = _params_with_grads([[0.3, 0.4]])
    clip_grad_norm_(params, 1.0)
    np.testing.assert_allclose(params[0].grad.array, [0.3, 0.4], rtol=1e-6)


def test_clip_grad_norm_inf_and_p1_and_nonfinite():
    params = _params_with_grads([[3.0, -6.0], [2.0]])
    assert clip_grad_norm_(params, 3.0, norm_type=float("inf")).item() == pytest.approx(6.0)
    np.testing.assert_allclose(params[0].grad.array, [1.5, -3.0], rtol=1e-5)
    params = _params_with_grads([[1.0, -1.0], [2.0]])
    assert clip_grad_norm_(params, 100.0, norm_type=1).item() == pytest.approx(4.0)
    params = _params_with_grads([[np.nan, 1.0]])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)


def test_clip_grad_value():
    params = _params_with_grads([[-3.0, 0.5, 2.0]])
    clip_grad_value_(params, 1.0)
    np.testing.assert_array_equal(params[0].grad.array, [-1.0, 0.5, 1.0])


def test_parameters_to_vector_round_trip():
    layer = nn.Linear(3, 2)
    vec = parameters_to_vector(layer.parameters())
    assert vec.shape == (8,)
    np.testing.assert_array_equal(vec.array[:6], layer.weight.array.reshape(-1))
    vector_to_parameters(glassgrad.arange(8.0), layer.parameters())
    np.testing.assert_array_equal(layer.bias.array, [6.0, 7.0])
    with pytest.raises(RuntimeError, match="elements"):
        vector_to_parameters(glassgrad.arange(9.0), layer.parameters())
