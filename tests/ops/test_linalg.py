"""matmul: NumPy's 1-D and batched rules, gradcheck on each case, and its error messages."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import glassgrad
from glassgrad.autograd import gradcheck

FEW = settings(max_examples=12, deadline=None, derandomize=True)  # the same examples on every run


def leaf(shape, seed=0):
    return glassgrad.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


@st.composite
def matmul_shapes(draw):
    """Shapes (a, b) covering 1-D @ 1-D, 1-D @ N-D, N-D @ 1-D and broadcast batches."""
    m, k, p = (draw(st.integers(1, 3)) for _ in range(3))
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    kind = draw(st.sampled_from(["vv", "vm", "mv", "mm"]))
    a_batch = tuple(s if draw(st.booleans()) else 1 for s in batch)
    b_batch = tuple(s if draw(st.booleans()) else 1 for s in batch)[draw(st.integers(0, len(batch))) :]
    a = (k,) if kind in ("vv", "vm") else a_batch + (m, k)
    b = (k,) if kind in ("vv", "mv") else b_batch + (k, p)
    return a, b, draw(st.integers(0, 999))


@FEW
@given(case=matmul_shapes())
def test_matmul_values_and_gradcheck(case):
    a_shape, b_shape, seed = case
    a, b = leaf(a_shape, seed), leaf(b_shape, seed + 1)
    out = a @ b
    expected = np.matmul(a.detach().numpy(), b.detach().numpy())
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.detach().numpy(), expected)
    assert gradcheck(glassgrad.matmul, (a, b))


def test_aliases_and_known_values():
    a = glassgrad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = glassgrad.tensor([[5.0], [6.0]], requires_grad=True)
    out = a.mm(b)
    assert out.tolist() == [[17.0], [39.0]]
    out.sum().backward()
    assert a.grad.tolist() == [[5.0, 6.0], [5.0, 6.0]] and b.grad.tolist() == [[4.0], [6.0]]
    assert glassgrad.tensor([1.0, 2.0]).dot(glassgrad.tensor([3.0, 4.0])).item() == 11.0
    assert glassgrad.bmm(glassgrad.ones(2, 1, 3), glassgrad.ones(2, 3, 4)).shape == (2, 1, 4)
    assert (glassgrad.tensor([[1, 2]]) @ glassgrad.tensor([[3], [4]])).tolist() == [[11]]
    assert gradcheck(lambda x, y: x.matmul(y).relu(), (leaf((3, 2)), leaf((2, 3), 1)))


def test_errors_name_both_shapes():
    with pytest.raises(RuntimeError, match=r"^matmul: \(4, 3\) @ \(4, 2\): inner dimensions 3 and 4 differ$"):
        glassgrad.ones(4, 3) @ glassgrad.ones(4, 2)
    with pytest.raises(RuntimeError, match=r"matmul: \(3,\) @ \(2,\): inner dimensions 3 and 2 differ"):
        glassgrad.ones(3) @ glassgrad.ones(2)
    with pytest.raises(RuntimeError, match=r"batch dimensions of \(2, 1, 3\) and \(3, 3, 1\) cannot be broadcast"):
        glassgrad.ones(2, 1, 3) @ glassgrad.ones(3, 3, 1)
    with pytest.raises(RuntimeError, match="need at least 1 dimension"):
        glassgrad.tensor(2.0) @ glassgrad.ones(2)
    with pytest.raises(TypeError, match="both arguments must be tensors"):
        glassgrad.matmul(glassgrad.ones(2), 3.0)


@pytest.mark.parametrize(
    "a_shape, b_shape", [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 2))]
)
@pytest.mark.parametrize("which", [0, 1])
def test_gradient_when_only_one_operand_requires_it(a_shape, b_shape, which):
    a, b = leaf(a_shape), leaf(b_shape, 1)
    (b if which == 0 else a).requires_grad_(False)
    assert gradcheck(glassgrad.matmul, (a, b))
