"""Indexing: basic, negative, stepped, integer-array (with repeats) and boolean indices; gather."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import glassgrad
from glassgrad.autograd import gradcheck

FEW = settings(max_examples=10, deadline=None, derandomize=True)  # the same examples on every run


def leaf(shape, seed=0):
    return glassgrad.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def weighted(t):
    """A non-uniform weighting so that gradcheck sees which element went where."""
    return t * glassgrad.arange(1, t.numel() + 1, dtype=glassgrad.float64).reshape(t.shape)


BASIC = [
    (1,),
    (-1,),
    (slice(None, None, 2),),
    (slice(-3, None),),
    (slice(1, None, 2), -1),
    (Ellipsis, 1),
    (None, 0, slice(1, 3)),
    (1, -2),
    (slice(0, 2), slice(None), 0),
]


@pytest.mark.parametrize("index", BASIC, ids=repr)
def test_basic_indexing_values_and_gradcheck(index):
    a = leaf((4, 3, 2))
    np.testing.assert_array_equal(a[index].detach().numpy(), a.detach().numpy()[index])
    assert gradcheck(lambda x: weighted(x[index]), (a,))


@FEW
@given(n=st.integers(1, 5), picks=st.lists(st.integers(0, 4), min_size=1, max_size=8), seed=st.integers(0, 99))
def test_integer_array_index_with_repeats_accumulates(n, picks, seed):
    picks = [p % n for p in picks]
    a = leaf((n, 2), seed)
    index = glassgrad.tensor(picks)
    out = a[index]
    np.testing.assert_array_equal(out.detach().numpy(), a.detach().numpy()[picks])
    out.sum().backward()
    counts = np.bincount(picks, minlength=n).astype(float)
    np.testing.assert_array_equal(a.grad.numpy(), np.repeat(counts[:, None], 2, axis=1))
    assert gradcheck(lambda x: weighted(x[index]), (a,))
    assert gradcheck(lambda x: weighted(x[:, [1, 1, 0]]), (a,))
    assert gradcheck(lambda x: weighted(x[index, glassgrad.zeros(len(picks), dtype=glassgrad.int64)]), (a,))


@FEW
@given(seed=st.integers(0, 999))
def test_boolean_mask(seed):
    a = leaf((3, 4), seed)
    mask = a.detach() > 0
    np.testing.assert_array_equal(a[mask].detach().numpy(), a.detach().numpy()[mask.numpy()])
    a[mask].sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), mask.numpy().astype(float))
    assert gradcheck(lambda x: weighted(x[mask]) if mask.any() else x.sum(), (a,))
    rows = glassgrad.tensor([True, False, True])
    assert gradcheck(lambda x: weighted(x[rows]), (a,))


def test_index_with_lists_and_negative_integers():
    x = glassgrad.arange(12).reshape(3, 4)
    assert x[[0, -1]].tolist() == [[0, 1, 2, 3], [8, 9, 10, 11]]
    assert x[[0, 2], [1, 3]].tolist() == [1, 11]
    assert x[-1, ::2].tolist() == [8, 10]
    assert x[-2:, 1:-1].tolist() == [[5, 6], [9, 10]]
    assert x[x > 9].tolist() == [10, 11]
    assert x[..., -1].tolist() == [3, 7, 11]


def test_gather_and_index_select_accumulate_repeats():
    a = leaf((3, 4))
    index = glassgrad.tensor([[0, 0, 3], [1, 1, 1], [2, 0, 2]])
    out = a.gather(1, index)
    np.testing.assert_array_equal(out.detach().numpy(), np.take_along_axis(a.detach().numpy(), index.numpy(), 1))
    assert gradcheck(lambda x: weighted(x.gather(1, index)), (a,))
    rows = glassgrad.tensor([[2, 2, 0, 1]])
    assert gradcheck(lambda x: weighted(glassgrad.gather(x, 0, rows)), (a,))
    picks = glassgrad.tensor([2, 0, 2])
    np.testing.assert_array_equal(a.index_select(0, picks).detach().numpy(), a.detach().numpy()[[2, 0, 2]])
    assert gradcheck(lambda x: weighted(x.index_select(0, picks)), (a,))
    assert gradcheck(lambda x: weighted(glassgrad.index_select(x, 1, glassgrad.tensor([3, 3]))), (a,))


def test_setitem_with_gradients():
    a = leaf((3, 2))
    v = leaf((2,), seed=1)

    def assign(x, value):
        y = x * 1
        y[1] = value * 2
        return weighted(y)

    assert gradcheck(assign, (a, v))
    y = a * 1
    y[glassgrad.tensor([True, False, True])] = 0.0
    y.sum().backward()
    assert a.grad.tolist() == [[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]


def test_index_errors_explain():
    x = glassgrad.ones(3, 2)
    with pytest.raises(IndexError, match=r"index \[5\] does not fit a tensor of shape \(3, 2\)"):
        x[5]
    with pytest.raises(
        IndexError, match=r"index \[<index tensor of shape \(2,\)>\] does not fit.*index 7 is out of bounds"
    ):
        x[[0, 7]]
    with pytest.raises(IndexError, match=r"index \[1:3, 4\] does not fit"):
        x[1:3, 4]
    with pytest.raises(IndexError, match=r"\[<bool mask of shape \(2,\)>\] does not fit"):
        x[glassgrad.tensor([True, False])]
    with pytest.raises(IndexError, match="must be integer or bool, got float"):
        x[glassgrad.tensor([0.0])]
    with pytest.raises(IndexError, match="gather: index 4 is out of range for dimension 1 of size 2"):
        x.gather(1, glassgrad.tensor([[4, 0]] * 3))
    with pytest.raises(RuntimeError, match="gather: index has 1 dimensions but the input has 2"):
        x.gather(1, glassgrad.tensor([0]))
    with pytest.raises(IndexError, match="index_select: index -4 is out of range for dimension 0 of size 3"):
        x.index_select(0, glassgrad.tensor([-4]))
