"""dtypes: names, defaults, conversions, and PyTorch's promotion rules where NumPy differs."""

import numpy as np
import pytest

import glassgrad


def test_defaults_follow_pytorch():
    assert glassgrad.tensor(1.5).dtype == glassgrad.float32
    assert glassgrad.tensor([1, 2]).dtype == glassgrad.int64
    assert glassgrad.tensor([True, False]).dtype == glassgrad.bool
    assert glassgrad.tensor([1, 2.5]).dtype == glassgrad.float32
    assert glassgrad.get_default_dtype() == glassgrad.float32


def test_numpy_arrays_and_scalars_keep_their_dtype():
    assert glassgrad.tensor(np.zeros(2)).dtype == glassgrad.float64
    assert glassgrad.tensor(np.float64(1.0)).dtype == glassgrad.float64
    assert glassgrad.tensor(np.int32(3)).dtype == glassgrad.int32
    assert glassgrad.from_numpy(np.zeros(2, dtype=np.float32)).dtype == glassgrad.float32


def test_aliases_and_equality():
    assert glassgrad.float is glassgrad.float32
    assert glassgrad.double is glassgrad.float64
    assert glassgrad.long is glassgrad.int64
    assert glassgrad.int is glassgrad.int32
    assert glassgrad.float32 == np.float32
    assert glassgrad.float32 != glassgrad.float64
    assert repr(glassgrad.float64) == "glassgrad.float64"
    assert glassgrad.float32.is_floating_point and not glassgrad.int64.is_floating_point
    assert len({glassgrad.float32, glassgrad.float32, glassgrad.int64}) == 2


def test_conversions():
    x = glassgrad.tensor([1.7, -2.2])
    assert x.double().dtype == glassgrad.float64
    assert x.long().tolist() == [1, -2]
    assert x.to(glassgrad.float64).dtype == glassgrad.float64
    assert x.to(glassgrad.zeros(1, dtype=glassgrad.float64)).dtype == glassgrad.float64
    assert x.int().dtype == glassgrad.int32
    assert x.bool().tolist() == [True, True]
    assert glassgrad.tensor([1, 0]).float().tolist() == [1.0, 0.0]
    assert x.float() is x  # no copy when nothing changes
    assert x.type() == "torch.FloatTensor"  # PyTorch's legacy type name, which programs compare with


def test_conversion_keeps_the_graph():
    x = glassgrad.tensor([1.0, 2.0], requires_grad=True)
    (x.double() * 3).sum().backward()
    assert x.grad.dtype == glassgrad.float32
    assert x.grad.tolist() == [3.0, 3.0]


def test_promotion_int_with_python_float_gives_default_float():
    out = glassgrad.tensor([1, 2]) * 1.5
    assert out.dtype == glassgrad.float32
    assert out.tolist() == [1.5, 3.0]
    assert (glassgrad.tensor([1, 2]) / 2).dtype == glassgrad.float32
    assert (glassgrad.tensor([1, 2]) + 1).dtype == glassgrad.int64


def test_float32_stays_float32_with_python_scalars():
    x = glassgrad.ones(3)
    for y in (x * 2.5, x + 1, 2.0 - x, x / 3, x**2, glassgrad.exp(x), x.sum(), x.mean()):
        assert y.dtype == glassgrad.float32


def test_set_default_dtype():
    try:
        glassgrad.set_default_dtype(glassgrad.float64)
        assert glassgrad.tensor(1.0).dtype == glassgrad.float64
        assert glassgrad.zeros(2).dtype == glassgrad.float64
    finally:
        glassgrad.set_default_dtype(glassgrad.float32)
    assert glassgrad.zeros(2).dtype == glassgrad.float32
    with pytest.raises(TypeError, match="not a floating-point dtype"):
        glassgrad.set_default_dtype(glassgrad.int64)


def test_unsupported_dtypes_are_named():
    with pytest.raises(TypeError, match="unknown dtype"):
        glassgrad.zeros(2, dtype="float128")
    with pytest.raises(TypeError, match="complex128"):
        glassgrad.from_numpy(np.zeros(2, dtype=np.complex128))
    with pytest.raises(TypeError, match="cannot make a tensor"):
        glassgrad.tensor(["a", "b"])


def test_only_floating_point_tensors_require_grad():
    with pytest.raises(RuntimeError, match=r"only floating-point.*\.float\(\)"):
        glassgrad.tensor([1, 2], requires_grad=True)


def test_dtype_attributes_like_pytorch():
    assert glassgrad.float64.itemsize == 8 and glassgrad.int32.itemsize == 4
    assert glassgrad.int64.is_signed and not glassgrad.uint8.is_signed and not glassgrad.bool.is_signed
    assert not glassgrad.float32.is_complex
    assert glassgrad.ones(2, dtype=glassgrad.float16).element_size() == 2
