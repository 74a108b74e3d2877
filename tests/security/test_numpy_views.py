"""A NumPy view of a tensor autograd tracks must not let a write silently change its gradient."""

import numpy as np
import pytest

import glassgrad


def test_asarray_of_a_tensor_that_requires_grad_raises_as_in_pytorch():
    x = glassgrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    for convert in (np.asarray, np.array, lambda t: np.asarray(t, dtype=np.float64)):
        with pytest.raises(RuntimeError, match=r"requires grad\. Use tensor\.detach\(\)\.numpy\(\)"):
            convert(x)
    y.backward()
    np.testing.assert_allclose(x.grad.array, [2.0, 4.0])


def test_asarray_of_a_detached_tensor_shares_memory_and_honours_dtype_and_copy():
    x = glassgrad.tensor([1.0, 2.0], requires_grad=True)
    view = np.asarray(x.detach())
    assert np.shares_memory(view, x.array)
    assert np.asarray(x.detach(), dtype=np.float64).dtype == np.float64
    copied = np.array(x.detach(), copy=True)
    copied[0] = 100.0
    assert x.detach().array[0] == 1.0


def test_torch_agrees():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(torch.ones(2, requires_grad=True))
