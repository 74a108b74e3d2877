"""Tensor factories: values, shapes, default dtypes and seeding."""

import numpy as np
import pytest

import glassgrad


def test_tensor_copies_its_data():
    data = np.array([1.0, 2.0])
    t = glassgrad.tensor(data)
    data[0] = 9.0
    assert t.tolist() == [1.0, 2.0]
    nested = glassgrad.tensor([[1, 2, 3], [4, 5, 6]])
    assert nested.shape == (2, 3) and nested.dtype == glassgrad.int64
    assert glassgrad.tensor(nested).tolist() == [[1, 2, 3], [4, 5, 6]]


def test_from_numpy_and_as_tensor_share_memory():
    data = np.zeros(3, dtype=np.float32)
    t = glassgrad.from_numpy(data)
    data[1] = 4.0
    assert t.tolist() == [0.0, 4.0, 0.0]
    assert glassgrad.as_tensor(data).numpy() is data
    with pytest.raises(TypeError, match="expects a NumPy array"):
        glassgrad.from_numpy([1, 2])


@pytest.mark.parametrize("name, value", [("zeros", 0.0), ("ones", 1.0)])
def test_zeros_ones(name, value):
    factory = getattr(glassgrad, name)
    for t in (factory(2, 3), factory((2, 3)), factory([2, 3])):
        assert t.shape == (2, 3) and t.dtype == glassgrad.float32
        assert np.all(t.numpy() == value)
    assert factory(2, dtype=glassgrad.int64).dtype == glassgrad.int64
    assert factory(()).shape == ()
    assert factory(3, requires_grad=True).requires_grad


def test_full_infers_dtype_from_the_value():
    assert glassgrad.full((2,), 7).dtype == glassgrad.int64
    assert glassgrad.full((2,), 7.0).dtype == glassgrad.float32
    assert glassgrad.full((2,), True).dtype == glassgrad.bool
    assert glassgrad.full((2, 2), 1.5).tolist() == [[1.5, 1.5], [1.5, 1.5]]
    assert glassgrad.empty(4, 5).shape == (4, 5)


def test_like_factories_follow_the_model():
    model = glassgrad.ones(2, 3, dtype=glassgrad.float64)
    for t in (glassgrad.zeros_like(model), glassgrad.ones_like(model), glassgrad.empty_like(model)):
        assert t.shape == (2, 3) and t.dtype == glassgrad.float64
    assert glassgrad.full_like(model, 3).tolist() == [[3.0] * 3] * 2
    assert glassgrad.zeros_like(model, dtype=glassgrad.int64).dtype == glassgrad.int64
    assert glassgrad.rand_like(model).dtype == glassgrad.float64
    assert glassgrad.randn_like(model).shape == (2, 3)
    ints = glassgrad.randint_like(glassgrad.zeros(50, dtype=glassgrad.int64), 3, 6)
    assert ints.dtype == glassgrad.int64 and 3 <= ints.min().item() and ints.max().item() < 6


def test_arange():
    assert glassgrad.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert glassgrad.arange(5).dtype == glassgrad.int64
    assert glassgrad.arange(1, 7, 2).tolist() == [1, 3, 5]
    floats = glassgrad.arange(0, 1, 0.25)
    assert floats.dtype == glassgrad.float32 and floats.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert glassgrad.arange(3, dtype=glassgrad.float64).dtype == glassgrad.float64


def test_linspace_eye():
    assert glassgrad.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert glassgrad.linspace(0, 1, 5).dtype == glassgrad.float32
    assert glassgrad.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert glassgrad.eye(2, 3).shape == (2, 3)


def test_random_factories_shapes_ranges_dtypes():
    glassgrad.manual_seed(1)
    u = glassgrad.rand(1000)
    assert u.dtype == glassgrad.float32 and 0 <= u.min().item() and u.max().item() < 1
    n = glassgrad.randn(20000, dtype=glassgrad.float64)
    assert n.dtype == glassgrad.float64
    assert abs(n.mean().item()) < 0.05 and abs(n.std().item() - 1) < 0.05
    ints = glassgrad.randint(0, 10, (1000,))
    assert ints.dtype == glassgrad.int64 and set(ints.tolist()) == set(range(10))
    assert glassgrad.randint(4, (3, 2)).shape == (3, 2)
    assert sorted(glassgrad.randperm(6).tolist()) == list(range(6))


def test_manual_seed_repeats_and_generators_are_independent():
    glassgrad.manual_seed(42)
    a = glassgrad.randn(5).tolist()
    glassgrad.manual_seed(42)
    assert glassgrad.randn(5).tolist() == a
    g = glassgrad.Generator().manual_seed(42)
    glassgrad.manual_seed(0)
    assert glassgrad.randn(5, generator=g).tolist() == a
    state = glassgrad.get_rng_state()
    b = glassgrad.rand(3).tolist()
    glassgrad.set_rng_state(state)
    assert glassgrad.rand(3).tolist() == b


def test_rng_fixture_seeds_both_generators(rng):
    first = (glassgrad.rand(2).tolist(), np.random.rand(2).tolist(), rng.random())
    glassgrad.manual_seed(0)
    np.random.seed(0)
    assert (glassgrad.rand(2).tolist(), np.random.rand(2).tolist()) == first[:2]


def test_bad_arguments_explain():
    with pytest.raises(RuntimeError, match=r"zeros: negative dimension in size \(2, -1\)"):
        glassgrad.zeros(2, -1)
    with pytest.raises(RuntimeError, match=r"randint: low \(5\) must be less than high \(2\)"):
        glassgrad.randint(5, 2, (3,))
    with pytest.raises(RuntimeError, match="arange: step must be nonzero"):
        glassgrad.arange(0, 3, 0)
    with pytest.raises(RuntimeError, match="chunk: chunks must be positive"):
        glassgrad.ones(4).chunk(0)


def test_in_place_random_fills_keep_full_precision():
    glassgrad.manual_seed(3)
    t = glassgrad.zeros(1000, dtype=glassgrad.float64).normal_(2.0, 0.5)
    values = t.numpy()
    assert np.any(values != values.astype(np.float32))  # drawn in float64, not float32 upcast
    assert abs(values.mean() - 2.0) < 0.1 and abs(values.std() - 0.5) < 0.05
    u = glassgrad.zeros(1000).uniform_(-1, 3)
    assert u.dtype == glassgrad.float32 and -1 <= u.min().item() and u.max().item() < 3
