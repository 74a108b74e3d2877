"""Shape ops: gradcheck on random shapes, values against NumPy, views, and errors that explain."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import glassgrad
from glassgrad.autograd import gradcheck

FEW = settings(max_examples=10, deadline=None, derandomize=True)  # the same examples on every run
SHAPES = array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3)


def leaf(shape, seed=0):
    return glassgrad.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


@FEW
@given(shape=SHAPES, data=st.data())
def test_reshape_view_flatten(shape, data):
    a = leaf(shape)
    n = a.numel()
    assert gradcheck(lambda x: x.reshape(-1, 1) * glassgrad.arange(n, dtype=glassgrad.float64).reshape(n, 1), (a,))
    assert gradcheck(lambda x: x.view(n) ** 2, (a,))
    start = data.draw(st.integers(-len(shape), len(shape) - 1))
    flat = a.flatten(start)
    expected = shape[: start % len(shape)] + (int(np.prod(shape[start % len(shape) :])),)
    assert flat.shape == expected
    assert gradcheck(lambda x: x.flatten(start) ** 2, (a,))


@FEW
@given(shape=SHAPES, data=st.data())
def test_permute_transpose(shape, data):
    a = leaf(shape)
    dims = data.draw(st.permutations(range(len(shape))))
    np.testing.assert_array_equal(a.permute(*dims).detach().numpy(), np.transpose(a.detach().numpy(), dims))
    assert gradcheck(
        lambda x: (
            x.permute(dims)
            * glassgrad.arange(x.numel(), dtype=glassgrad.float64).reshape(tuple(shape[d] for d in dims))
        ),
        (a,),
    )
    d0, d1 = data.draw(st.integers(-len(shape), len(shape) - 1)), data.draw(st.integers(-len(shape), len(shape) - 1))
    np.testing.assert_array_equal(a.transpose(d0, d1).detach().numpy(), np.swapaxes(a.detach().numpy(), d0, d1))
    assert gradcheck(lambda x: x.transpose(d0, d1) ** 2, (a,))
    assert gradcheck(lambda x: x.T**2, (a,))


@FEW
@given(shape=array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=2), data=st.data())
def test_squeeze_unsqueeze(shape, data):
    a = leaf(shape)
    assert a.squeeze().shape == tuple(s for s in shape if s != 1)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    assert a.squeeze(dim).shape == tuple(s for i, s in enumerate(shape) if not (i == dim % len(shape) and s == 1))
    new = data.draw(st.integers(-len(shape) - 1, len(shape)))
    assert a.unsqueeze(new).shape == np.expand_dims(np.zeros(shape), new).shape
    assert gradcheck(lambda x: x.squeeze() ** 2, (a,))
    assert gradcheck(lambda x: x.unsqueeze(new) ** 2, (a,))


@FEW
@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3), data=st.data())
def test_expand_and_repeat(shape, data):
    base = tuple(s if data.draw(st.booleans()) else 1 for s in shape)
    a = leaf(base)
    target = (2,) + shape
    out = a.expand(*target)
    np.testing.assert_array_equal(out.detach().numpy(), np.broadcast_to(a.detach().numpy(), target))
    assert gradcheck(
        lambda x: x.expand(target) * glassgrad.arange(int(np.prod(target)), dtype=glassgrad.float64).reshape(target),
        (a,),
    )
    assert a.expand(*([-1] * len(base))).shape == base  # -1 keeps a size
    reps = tuple(data.draw(st.integers(1, 3)) for _ in range(len(base) + data.draw(st.integers(0, 1))))
    np.testing.assert_array_equal(a.repeat(*reps).detach().numpy(), np.tile(a.detach().numpy(), reps))
    assert gradcheck(lambda x: x.repeat(reps) ** 3, (a,))


@FEW
@given(shape=SHAPES, data=st.data())
def test_cat_stack_split_chunk(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    other = list(shape)
    other[dim] = data.draw(st.integers(1, 3))
    a, b = leaf(shape, 1), leaf(tuple(other), 2)
    joined = glassgrad.cat([a, b], dim)
    np.testing.assert_array_equal(
        joined.detach().numpy(), np.concatenate([a.detach().numpy(), b.detach().numpy()], dim)
    )
    assert gradcheck(lambda x, y: glassgrad.cat((x, y**2), dim=dim), (a, b))
    c = leaf(shape, 3)
    assert glassgrad.stack([a, c], dim).shape == np.stack([np.zeros(shape)] * 2, dim).shape
    assert gradcheck(lambda x, y: glassgrad.stack([x, y * 3], dim=dim) ** 2, (a, c))
    size = data.draw(st.integers(1, 3))
    pieces = joined.split(size, dim)
    assert [p.shape[dim] for p in pieces] == [
        min(size, joined.shape[dim] - i) for i in range(0, joined.shape[dim], size)
    ]
    weights = [float(i + 1) for i in range(len(pieces))]
    assert gradcheck(
        lambda x: sum(
            ((p * w).sum() for p, w in zip(x.split(size, dim), weights)), glassgrad.tensor(0.0, dtype=glassgrad.float64)
        ),
        (joined.detach().requires_grad_(),),
    )
    chunks = data.draw(st.integers(1, 4))
    got = a.chunk(chunks, dim)
    expected = np.array_split(
        np.zeros(shape), range(-(-shape[dim] // chunks), shape[dim], -(-shape[dim] // chunks)), axis=dim
    )
    assert [p.shape for p in got] == [e.shape for e in expected]
    assert gradcheck(lambda x: x.chunk(chunks, dim)[-1] ** 2, (a,))


def test_split_with_sizes_unbind_unflatten():
    x = glassgrad.arange(10).reshape(2, 5)
    parts = x.split([2, 3], dim=1)
    assert parts[0].tolist() == [[0, 1], [5, 6]] and parts[1].tolist() == [[2, 3, 4], [7, 8, 9]]
    assert [r.tolist() for r in x.unbind(0)] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert x.unflatten(1, (5, 1)).shape == (2, 5, 1)
    a = leaf((2, 3))
    assert gradcheck(lambda t: t.unbind(1)[1] * 3, (a,))


@FEW
@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3), data=st.data())
def test_pad(shape, data):
    a = leaf(shape)
    pads = tuple(data.draw(st.integers(0, 2)) for _ in range(2 * data.draw(st.integers(1, len(shape)))))
    out = glassgrad.ops.pad(a, pads, value=0.5)
    widths = [(0, 0)] * len(shape)
    for i in range(len(pads) // 2):
        widths[len(shape) - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    np.testing.assert_array_equal(out.detach().numpy(), np.pad(a.detach().numpy(), widths, constant_values=0.5))
    assert gradcheck(lambda x: glassgrad.ops.pad(x, pads) ** 2, (a,))


def test_negative_pad_crops():
    x = glassgrad.arange(12.0).reshape(3, 4)
    assert glassgrad.ops.pad(x, (-1, 1)).tolist() == [[1, 2, 3, 0], [5, 6, 7, 0], [9, 10, 11, 0]]
    assert glassgrad.ops.pad(x, (0, 0, -2, 0)).tolist() == [[8, 9, 10, 11]]
    assert gradcheck(lambda t: glassgrad.ops.pad(t, (-1, 2, 1, -2)) ** 2, (leaf((3, 4)),))
    with pytest.raises(RuntimeError, match="crops dimension 1 of size 4 below zero"):
        glassgrad.ops.pad(x, (-3, -2))
    with pytest.raises(ValueError, match="nn.functional.pad has the others"):
        glassgrad.ops.pad(x, (1, 1), mode="reflect")


def test_views_share_memory_and_contiguous_copies():
    x = glassgrad.arange(6).reshape(2, 3)
    v = x.view(3, 2)
    v.numpy()[0, 0] = 100
    assert x[0, 0].item() == 100
    t = x.t()
    assert not t.is_contiguous() and t.contiguous().is_contiguous()
    a = leaf((2, 3))
    assert gradcheck(lambda y: y.t().contiguous() ** 2, (a,))
    assert x.contiguous() is x


def test_errors_explain():
    x = glassgrad.ones(2, 3)
    with pytest.raises(
        RuntimeError, match=r"reshape: shape \(4, 2\) is invalid for a tensor of shape \(2, 3\) \(6 elements\)"
    ):
        x.reshape(4, 2)
    with pytest.raises(RuntimeError, match="only one dimension can be -1"):
        x.reshape(-1, -1)
    with pytest.raises(RuntimeError, match=r"view: .*cannot be viewed as \(6,\).*\.reshape"):
        x.t().view(6)
    assert x.t().reshape(6).shape == (6,)
    with pytest.raises(RuntimeError, match=r"cat: tensor 1 has shape \(2, 4\), but tensor 0 has shape \(2, 3\)"):
        glassgrad.cat([x, glassgrad.ones(2, 4)], dim=0)
    with pytest.raises(RuntimeError, match=r"stack: tensor 1 has shape \(3, 2\)"):
        glassgrad.stack([x, glassgrad.ones(3, 2)])
    with pytest.raises(RuntimeError, match=r"expand: the size 3 of dimension 1 of \(2, 3\) must match 4"):
        x.expand(2, 4)
    with pytest.raises(RuntimeError, match="-1 is not allowed for the new leading dimension 0"):
        x.expand(-1, 2, 3)
    with pytest.raises(RuntimeError, match="not a permutation"):
        x.permute(0, 0)
    with pytest.raises(RuntimeError, match="repeat: 1 repeat counts"):
        x.repeat(2)
    with pytest.raises(RuntimeError, match=r"split: sizes \[1, 1\] add up to 2, not to the length 3"):
        x.split([1, 1], dim=1)
    with pytest.raises(IndexError, match="transpose: dimension 5 is out of range"):
        x.transpose(0, 5)


def test_broadcast_shapes_gives_a_size_or_names_the_shapes():
    assert glassgrad.broadcast_shapes((3, 1), (4,), 4) == glassgrad.Size([3, 4])
    with pytest.raises(RuntimeError, match=r"\[\(3,\), \(4,\)\] cannot be broadcast"):
        glassgrad.broadcast_shapes((3,), (4,))


def test_diff_of_bools_is_their_xor():
    assert glassgrad.diff(glassgrad.tensor([True, False, False, True])).tolist() == [True, False, True]
