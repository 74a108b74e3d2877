"""``glassgrad.Tensor(...)`` as PyTorch's legacy constructor: sizes, data, ``size=``, ``Tensor()``."""

import numpy as np
import pytest

import glassgrad

torch = pytest.importorskip("torch", reason="PyTorch is the oracle for the constructor's forms")


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((3, 4), {}),
        ((5,), {}),
        ((0,), {}),
        (([1, 2],), {}),
        (((2, 3),), {}),
        (([[1.5], [2]],), {}),
        ((), {}),
        ((), {"size": (2, 3)}),
        ((), {"size": [4]}),
    ],
)
def test_forms_match_pytorch(args, kwargs):
    theirs = torch.Tensor(*args, **kwargs)
    mine = glassgrad.Tensor(*args, **kwargs)
    assert tuple(mine.shape) == tuple(theirs.shape)
    assert str(mine.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1] == "float32"
    if args and isinstance(args[0], (list, tuple)):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_size_object_and_default_dtype():
    assert glassgrad.Tensor(glassgrad.Size([2, 3])).shape == (2, 3)
    glassgrad.set_default_dtype(glassgrad.float64)
    try:
        assert glassgrad.Tensor(2, 2).dtype == glassgrad.float64
        assert glassgrad.Tensor([1, 2]).dtype == glassgrad.float64
    finally:
        glassgrad.set_default_dtype(glassgrad.float32)


def test_library_forms_keep_their_meaning():
    assert glassgrad.Tensor(np.array([1, 2])).dtype == glassgrad.int64  # arrays keep their dtype
    assert glassgrad.Tensor(0, dtype="int64").shape == ()  # dtype= makes it data
    assert glassgrad.tensor(3).shape == () and (glassgrad.tensor(2) + 3).item() == 5
    assert glassgrad.tensor([1, 2]).dtype == glassgrad.int64


def test_bad_forms_raise():
    with pytest.raises(TypeError, match="sizes as ints"):
        glassgrad.Tensor(2, "a")
    with pytest.raises(TypeError, match="size="):
        glassgrad.Tensor(2, size=(2,))
    with pytest.raises(RuntimeError, match="negative dimension"):
        glassgrad.Tensor(2, -1)
    with pytest.raises(RuntimeError, match="CPU only"):
        glassgrad.Tensor(2, device="cuda")
