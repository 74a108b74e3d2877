"""Elementwise ops: gradcheck in float64 on random broadcast shapes, values, dtypes and errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import glassgrad
from glassgrad.autograd import gradcheck

FEW = settings(max_examples=10, deadline=None, derandomize=True)  # the same examples on every run


def leaf(shape, seed, low=None, away_from=None):
    """A float64 leaf of random values; ``low`` makes them >= low + U(0, 1); ``away_from`` keeps
    them at least 0.05 from a kink so that central differences never straddle it."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape)
    if low is not None:
        values = low + rng.random(shape) + 0.1
    if away_from is not None:
        for k in away_from:
            close = np.abs(values - k) < 0.05
            values = np.where(close, k + 0.1, values)
    return glassgrad.tensor(values, requires_grad=True)


BINARY = {
    "add": (lambda a, b: a + b, {}),
    "add_alpha": (lambda a, b: glassgrad.add(a, b, alpha=-2.5), {}),
    "sub": (lambda a, b: a - b, {}),
    "sub_alpha": (lambda a, b: a.sub(b, alpha=3), {}),
    "mul": (lambda a, b: a * b, {}),
    "div": (lambda a, b: a / b, {"b_low": 0.5}),
    "pow": (lambda a, b: a**b, {"a_low": 0.5}),
    "maximum": (glassgrad.maximum, {}),
    "minimum": (glassgrad.minimum, {}),
    "where": (lambda a, b: glassgrad.where(a > b, a * 2, b), {}),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@FEW
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seed=st.integers(0, 2**16))
def test_binary_gradcheck_with_broadcasting(name, shapes, seed):
    fn, domain = BINARY[name]
    a = leaf(shapes.input_shapes[0], seed, low=domain.get("a_low"))
    b = leaf(shapes.input_shapes[1], seed + 1, low=domain.get("b_low"))
    out = fn(a, b)
    assert out.shape == shapes.result_shape
    assert gradcheck(fn, (a, b))


UNARY = {
    "neg": (lambda a: -a, {}),
    "abs": (glassgrad.abs, {"away_from": (0.0,)}),
    "exp": (glassgrad.exp, {}),
    "log": (glassgrad.log, {"low": 0.0}),
    "sqrt": (glassgrad.sqrt, {"low": 0.0}),
    "rsqrt": (glassgrad.rsqrt, {"low": 0.0}),
    "sin": (glassgrad.sin, {}),
    "cos": (glassgrad.cos, {}),
    "tanh": (glassgrad.tanh, {}),
    "sigmoid": (glassgrad.sigmoid, {}),
    "relu": (glassgrad.relu, {"away_from": (0.0,)}),
    "clamp": (lambda a: glassgrad.clamp(a, -0.5, 0.5), {"away_from": (-0.5, 0.5)}),
    "clamp_min": (lambda a: a.clamp(min=0.2), {"away_from": (0.2,)}),
    "clip_max": (lambda a: a.clip(max=-0.2), {"away_from": (-0.2,)}),
    "clamp_tensor_bounds": (
        lambda a: a.clamp(glassgrad.tensor(-0.3), glassgrad.tensor(0.3)),
        {"away_from": (-0.3, 0.3)},
    ),
    "pow_scalar": (lambda a: a**3, {}),
    "pow_half": (lambda a: a**0.5, {"low": 0.0}),
    "scalar_rsub": (lambda a: 2.0 - a, {}),
    "scalar_rdiv": (lambda a: 2.0 / a, {"low": 0.0}),
    "scalar_rpow": (lambda a: 2.0**a, {}),
    "square_by_mul": (lambda a: a * a, {}),
    "cast_roundtrip": (lambda a: a.float().double() * 1.0, {}),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@FEW
@given(shape=array_shapes(min_dims=0, max_dims=3, max_side=4), seed=st.integers(0, 2**16))
def test_unary_gradcheck(name, shape, seed):
    fn, domain = UNARY[name]
    a = leaf(shape, seed, **domain)
    if name == "cast_roundtrip":  # float32 rounding: only a loose check is meaningful
        assert gradcheck(fn, (a,), eps=1e-3, atol=1e-3, rtol=1e-2)
    else:
        assert gradcheck(fn, (a,))


def test_values_match_numpy():
    x = np.array([-2.0, -0.5, 0.5, 3.0])
    t = glassgrad.tensor(x, dtype=glassgrad.float64)
    np.testing.assert_allclose(glassgrad.sigmoid(t).numpy(), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(glassgrad.relu(t).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(glassgrad.rsqrt(t.abs()).numpy(), 1 / np.sqrt(np.abs(x)))
    np.testing.assert_allclose(t.clamp(-1, 1).numpy(), np.clip(x, -1, 1))
    np.testing.assert_allclose((t**2).numpy(), x**2)
    assert glassgrad.sign(t).tolist() == [-1.0, -1.0, 1.0, 1.0]
    assert t.floor().tolist() == [-2.0, -1.0, 0.0, 3.0]


def test_sigmoid_is_stable_at_extremes():
    x = glassgrad.tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = glassgrad.sigmoid(x)
        y.sum().backward()
    assert y.tolist() == [0.0, 0.5, 1.0]
    assert x.grad.tolist() == [0.0, 0.25, 0.0]


def test_maximum_ties_split_the_gradient():
    a = glassgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = glassgrad.tensor([2.0, 2.0, 2.0], requires_grad=True)
    glassgrad.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.0, 0.5, 1.0] and b.grad.tolist() == [1.0, 0.5, 0.0]


def test_pow_gradients_at_zero_follow_pytorch():
    x = glassgrad.tensor([0.0, 2.0], requires_grad=True)
    (x**0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    e = glassgrad.tensor([2.0, 2.0], requires_grad=True)
    (x.detach() ** e).sum().backward()
    assert e.grad.tolist() == pytest.approx([0.0, 4 * np.log(2)])


def test_where_broadcasts_condition_and_scalars():
    x = glassgrad.tensor([[1.0, -1.0], [-2.0, 2.0]], requires_grad=True)
    y = glassgrad.where(x > 0, x, 0.0)
    assert y.dtype == glassgrad.float32 and y.tolist() == [[1.0, 0.0], [0.0, 2.0]]
    y.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert x.masked_fill(x < 0, 9.0).tolist() == [[1.0, 9.0], [9.0, 2.0]]


def test_python_scalar_operands_in_both_positions():
    x = glassgrad.tensor([1.0, 2.0])
    assert (1 + x).tolist() == [2.0, 3.0]
    assert (1 - x).tolist() == [0.0, -1.0]
    assert (2 * x).tolist() == [2.0, 4.0]
    assert (2 / x).tolist() == [2.0, 1.0]
    assert (2**x).tolist() == [2.0, 4.0]
    assert (np.float32(2) * x).tolist() == [2.0, 4.0]
    assert (x // 2).tolist() == [0.0, 1.0] and (x % 2).tolist() == [1.0, 0.0]
    assert (x + [1.0, 1.0]).tolist() == [2.0, 3.0]


def test_integer_math_promotes_like_pytorch():
    i = glassgrad.tensor([1, 4])
    assert glassgrad.sqrt(i).dtype == glassgrad.float32 and glassgrad.sqrt(i).tolist() == [1.0, 2.0]
    assert (i / i).dtype == glassgrad.float32
    assert (i * i).dtype == glassgrad.int64


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum"])
def test_broadcast_errors_name_the_op_and_both_shapes(op):
    a, b = glassgrad.ones(2, 3), glassgrad.ones(4, 3)
    fn = getattr(glassgrad, op)
    with pytest.raises(RuntimeError, match=rf"{op}: shapes \(2, 3\) and \(4, 3\) cannot be broadcast"):
        fn(a, b)
    with pytest.raises(RuntimeError, match=r"where: shapes \(2, 3\) and \(4, 3\)"):
        glassgrad.where(a > 0, a, b)


def test_unsupported_operand_is_named():
    with pytest.raises(TypeError, match="unsupported operand of type str"):
        glassgrad.ones(2) + "a"


def test_integer_and_logical_functions():
    assert glassgrad.remainder(glassgrad.tensor([5, -7]), 3).tolist() == [2, 2]  # sign of the divisor
    assert glassgrad.floor_divide(glassgrad.tensor([5, -7]), 2).tolist() == [2, -4]
    a, b = glassgrad.tensor([True, False, True]), glassgrad.tensor([True, True, False])
    assert glassgrad.logical_xor(a, b).tolist() == [False, True, True]
    assert glassgrad.logical_and(a, b).tolist() == [True, False, False]
    assert glassgrad.logical_not(a).tolist() == [False, True, False]
    assert glassgrad.concatenate([glassgrad.ones(1), glassgrad.zeros(1)]).tolist() == [1.0, 0.0]


def test_nan_to_num_defaults_are_the_dtype_extremes():
    x = glassgrad.tensor([float("nan"), float("inf"), -float("inf"), 1.5], dtype=glassgrad.float32)
    out = glassgrad.nan_to_num(x)
    big = np.finfo(np.float32).max
    np.testing.assert_array_equal(out.numpy(), np.array([0.0, big, -big, 1.5], dtype=np.float32))
    assert glassgrad.nan_to_num(glassgrad.tensor([1, 2])).tolist() == [1, 2]
