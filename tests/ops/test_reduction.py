"""Reductions, softmax and log_softmax: gradcheck over random shapes and dims, values, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import glassgrad
from glassgrad.autograd import gradcheck

FEW = settings(max_examples=10, deadline=None, derandomize=True)  # the same examples on every run


@st.composite
def shape_and_dim(draw, tuple_dims=True):
    """A shape with at least one dimension, a dim (int, negative int or tuple) and keepdim."""
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    ndim = len(shape)
    if tuple_dims and draw(st.booleans()):
        dims = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        dim = tuple(d - ndim if draw(st.booleans()) else d for d in dims)
    else:
        dim = draw(st.integers(-ndim, ndim - 1))
    return shape, dim, draw(st.booleans()), draw(st.integers(0, 2**16))


def leaf(shape, seed, positive=False):
    rng = np.random.default_rng(seed)
    values = rng.random(shape) + 0.5 if positive else rng.standard_normal(shape)
    return glassgrad.tensor(values, requires_grad=True)


REDUCTIONS = {
    "sum": lambda a, dim, keep: a.sum(dim=dim, keepdim=keep),
    "mean": lambda a, dim, keep: a.mean(dim, keep),
    "prod": lambda a, dim, keep: glassgrad.prod(a, dim, keep),
    "amax": lambda a, dim, keep: a.amax(dim, keep),
    "amin": lambda a, dim, keep: a.amin(dim, keep),
    "var": lambda a, dim, keep: a.var(dim, keepdim=keep),
    "var_biased": lambda a, dim, keep: a.var(dim, unbiased=False, keepdim=keep),
    "std": lambda a, dim, keep: a.std(dim, keepdim=keep),
    "logsumexp": lambda a, dim, keep: glassgrad.logsumexp(a, dim, keep),
    "norm": lambda a, dim, keep: a.norm(dim=dim, keepdim=keep),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@FEW
@given(case=shape_and_dim())
def test_reduction_gradcheck(name, case):
    shape, dim, keepdim, seed = case
    a = leaf(shape, seed, positive=name in ("prod", "norm"))
    fn = REDUCTIONS[name]
    if name in ("var", "std"):  # needs more than one element per reduced group
        dims = (dim,) if isinstance(dim, int) else dim
        if np.prod([shape[d] for d in dims]) < 2:
            return
    out = fn(a, dim, keepdim)
    dims = {d % len(shape) for d in ((dim,) if isinstance(dim, int) else dim)}
    expected = tuple(1 if i in dims else s for i, s in enumerate(shape)) if keepdim else None
    if keepdim:
        assert out.shape == expected
    else:
        assert out.shape == tuple(s for i, s in enumerate(shape) if i not in dims)
    assert gradcheck(lambda x: fn(x, dim, keepdim), (a,))


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min", "var", "std", "norm"])
@FEW
@given(shape=array_shapes(min_dims=0, max_dims=3, max_side=4), seed=st.integers(0, 2**16))
def test_full_reduction_gradcheck(name, shape, seed):
    a = leaf(shape, seed, positive=name in ("prod", "norm"))
    if name in ("var", "std") and a.numel() < 2:
        return
    fn = getattr(glassgrad.Tensor, name)
    assert fn(a).shape == ()
    assert gradcheck(fn, (a,))


@pytest.mark.parametrize("largest", [True, False])
@FEW
@given(case=shape_and_dim(tuple_dims=False))
def test_max_min_dim_return_values_and_indices(largest, case):
    shape, dim, keepdim, seed = case
    a = leaf(shape, seed)
    op = glassgrad.max if largest else glassgrad.min
    values, indices = op(a, dim, keepdim)
    ref = a.detach().numpy()
    expected = ref.max(axis=dim, keepdims=keepdim) if largest else ref.min(axis=dim, keepdims=keepdim)
    np.testing.assert_array_equal(values.detach().numpy(), expected)
    assert indices.dtype == glassgrad.int64
    arg = np.argmax(ref, axis=dim, keepdims=keepdim) if largest else np.argmin(ref, axis=dim, keepdims=keepdim)
    np.testing.assert_array_equal(indices.numpy(), arg)
    assert (a.argmax(dim, keepdim) if largest else a.argmin(dim, keepdim)).tolist() == arg.tolist()
    assert gradcheck(lambda x: op(x, dim, keepdim)[0], (a,))


def test_max_dim_is_a_named_tuple():
    x = glassgrad.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    out = x.max(dim=1)
    assert out.values.tolist() == [5.0, 7.0] and out.indices.tolist() == [1, 0]
    values, indices = x.min(0)
    assert values.tolist() == [1.0, 0.0, 2.0] and indices.tolist() == [0, 1, 0]
    assert x.argmax().item() == 3 and x.argmin().item() == 4
    assert glassgrad.max(x, glassgrad.full((2, 3), 3.0)).tolist() == [[3.0, 5.0, 3.0], [7.0, 3.0, 7.0]]


def test_max_ties_follow_pytorch():
    x = glassgrad.tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()  # a full reduction splits the gradient among the ties
    assert x.grad.tolist() == [0.0, 0.5, 0.5]
    x.grad = None
    x.max(dim=0).values.backward()  # max(dim) sends it to the returned index
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_prod_with_zeros_has_exact_gradient():
    x = glassgrad.tensor(
        [[2.0, 0.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 3.0]], dtype=glassgrad.float64, requires_grad=True
    )
    x.prod(dim=1).sum().backward()
    assert x.grad.tolist() == [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [6.0, 3.0, 2.0]]
    assert gradcheck(lambda t: t.prod(1), (x,))
    assert gradcheck(lambda t: t.prod(), (x,))


def test_values():
    x = glassgrad.tensor([[1.0, 2.0], [3.0, 6.0]])
    assert x.sum().item() == 12.0 and x.sum(0).tolist() == [4.0, 8.0]
    assert x.mean(dim=1, keepdim=True).tolist() == [[1.5], [4.5]]
    assert x.var().item() == pytest.approx(4.6666667)
    assert x.var(unbiased=False).item() == pytest.approx(3.5)
    assert x.var(correction=0).item() == pytest.approx(3.5)
    assert x.std(dim=0).tolist() == pytest.approx([np.sqrt(2), np.sqrt(8)])
    assert x.prod().item() == 36.0
    assert glassgrad.tensor([True, True, False]).sum().item() == 2
    assert glassgrad.tensor([1, 2]).sum().dtype == glassgrad.int64
    assert glassgrad.tensor([[1.0, 0.0]]).any().item() and not glassgrad.tensor([[1.0, 0.0]]).all().item()


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@FEW
@given(case=shape_and_dim(tuple_dims=False))
def test_softmax_gradcheck(op, case):
    shape, dim, _, seed = case
    a = leaf(shape, seed)
    fn = getattr(glassgrad, op)
    out = fn(a, dim)
    if op == "softmax":
        np.testing.assert_allclose(out.detach().numpy().sum(axis=dim), 1.0)
    assert gradcheck(lambda x: fn(x, dim), (a,))


def test_softmax_and_logsumexp_are_stable_for_huge_inputs():
    x = glassgrad.tensor([1000.0, 1000.0, -1000.0], requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        probs = x.softmax(0)
        logp = x.log_softmax(dim=0)
        lse = glassgrad.logsumexp(x, 0)
        (logp[0] + lse).backward()
    assert probs.tolist() == [0.5, 0.5, 0.0]
    assert logp.tolist()[:2] == pytest.approx([-np.log(2)] * 2)
    assert np.isfinite(logp.tolist()[2])
    assert lse.item() == pytest.approx(1000 + np.log(2))
    assert x.grad.tolist() == pytest.approx([1.0, 0.0, 0.0], abs=1e-4)  # float32 rounding of 1000.69


def test_mean_of_integers_and_bad_dims_explain():
    with pytest.raises(RuntimeError, match=r"mean\(\): needs a floating-point tensor.*\.float\(\)"):
        glassgrad.tensor([1, 2]).mean()
    with pytest.raises(IndexError, match=r"sum: dimension 2 is out of range for a tensor with 2 dimensions"):
        glassgrad.ones(2, 3).sum(2)
    with pytest.raises(TypeError, match="pass dim="):
        glassgrad.softmax(glassgrad.ones(3))
    with pytest.raises(RuntimeError, match="empty"):
        glassgrad.ones(0).max()


def test_sort_and_topk_carry_gradients():
    x = glassgrad.tensor([3.0, 1.0, 2.0], dtype=glassgrad.float64, requires_grad=True)
    values, indices = x.sort(descending=True)
    assert values.tolist() == [3.0, 2.0, 1.0] and indices.tolist() == [0, 2, 1]
    top = x.topk(2)
    assert top.values.tolist() == [3.0, 2.0] and top.indices.tolist() == [0, 2]
    assert gradcheck(lambda t: t.topk(2).values * glassgrad.tensor([1.0, 10.0], dtype=glassgrad.float64), (x,))
