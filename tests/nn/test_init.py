"""nn.init: gains, fans, bounds and moments of each initialiser, seeding, no graph recorded."""

import math

import numpy as np
import pytest

import glassgrad
from glassgrad import nn
from glassgrad.nn import init


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1
    assert init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")


def test_fans():
    assert init._calculate_fan_in_and_fan_out(glassgrad.empty(5, 3)) == (3, 5)
    assert init._calculate_fan_in_and_fan_out(glassgrad.empty(8, 4, 3, 3)) == (36, 72)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(glassgrad.empty(4))


def test_uniform_bounds():
    glassgrad.manual_seed(0)
    w = glassgrad.empty(200, 50)
    init.xavier_uniform_(w, gain=2.0)
    bound = 2.0 * math.sqrt(6 / 250)
    assert np.abs(w.array).max() <= bound and np.abs(w.array).max() > 0.95 * bound
    init.kaiming_uniform_(w, a=0, mode="fan_out", nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / 200)
    assert np.abs(w.array).max() <= bound and np.abs(w.array).max() > 0.95 * bound
    init.uniform_(w, -0.1, 0.3)
    assert w.array.min() >= -0.1 and w.array.max() <= 0.3
    assert w.dtype == glassgrad.float32


def test_normal_moments():
    glassgrad.manual_seed(0)
    w = glassgrad.empty(400, 100, dtype=glassgrad.float64)
    init.kaiming_normal_(w, nonlinearity="relu")
    assert w.array.std() == pytest.approx(math.sqrt(2 / 100), rel=0.02)
    init.xavier_normal_(w)
    assert w.array.std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)
    init.normal_(w, 3.0, 0.5)
    assert w.array.mean() == pytest.approx(3.0, abs=0.01) and w.array.std() == pytest.approx(0.5, rel=0.02)
    init.trunc_normal_(w, 0.0, 1.0, -0.5, 1.5)
    assert w.array.min() >= -0.5 and w.array.max() <= 1.5 and w.array.min() < -0.49
    assert w.dtype == glassgrad.float64


def test_constants_eye_dirac_orthogonal():
    w = glassgrad.empty(3, 4)
    np.testing.assert_array_equal(init.zeros_(w).array, 0)
    np.testing.assert_array_equal(init.ones_(w).array, 1)
    np.testing.assert_array_equal(init.constant_(w, 2.5).array, 2.5)
    np.testing.assert_array_equal(init.eye_(w).array, np.eye(3, 4))
    k = init.dirac_(glassgrad.empty(2, 2, 3, 3)).array
    assert k[0, 0, 1, 1] == 1 and k[1, 1, 1, 1] == 1 and k.sum() == 2
    q = init.orthogonal_(glassgrad.empty(3, 5, dtype=glassgrad.float64)).array
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-12)


def test_init_is_seeded_and_records_no_graph():
    glassgrad.manual_seed(7)
    a = nn.Linear(5, 3)
    glassgrad.manual_seed(7)
    b = nn.Linear(5, 3)
    np.testing.assert_array_equal(a.weight.array, b.weight.array)
    np.testing.assert_array_equal(a.bias.array, b.bias.array)
    assert a.weight.is_leaf and a.weight.grad_fn is None and a.weight.requires_grad


def test_linear_default_init_matches_pytorch_bounds():
    glassgrad.manual_seed(0)
    layer = nn.Linear(64, 500)
    bound = 1 / math.sqrt(64)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.array).max() <= bound
        assert np.abs(p.array).max() > 0.95 * bound


def test_skip_init_builds_shapes_without_drawing():
    from glassgrad.nn.utils import skip_init

    glassgrad.manual_seed(0)
    built = skip_init(glassgrad.nn.Linear, 300, 200)
    after = glassgrad.rand(3).numpy()
    glassgrad.manual_seed(0)
    np.testing.assert_array_equal(after, glassgrad.rand(3).numpy())  # the generator was not touched
    assert tuple(built.weight.shape) == (200, 300) and tuple(built.bias.shape) == (200,)
    assert not glassgrad.nn.init.skipping()
    with pytest.raises(TypeError):
        skip_init(glassgrad.nn.Linear, 3)  # a failing constructor leaves initialisation on
    assert not glassgrad.nn.init.skipping() and float(glassgrad.nn.Linear(3, 2).weight.abs().sum()) > 0
