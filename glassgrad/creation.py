"""Tensor factories with PyTorch's names and default dtypes."""

import numpy as np

from glassgrad import _dtype, random
from glassgrad.tensor import Tensor, _check_cpu, _shape_args


def _size(size, op):
    """``f(2, 3)`` or ``f((2, 3))`` as a shape tuple, refusing negative sizes by name."""
    shape = _shape_args(size)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"{op}: negative dimension in size {shape}; sizes must be >= 0")
    return shape


def _float(dtype):
    return (_dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()).numpy


def _made(array, requires_grad, device=None, op="tensor"):
    _check_cpu(device, op)
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (numbers, nested lists, arrays or tensors).

    Python floats become float32, Python ints int64, as in PyTorch.
    """
    if isinstance(data, Tensor):
        data = data.array
    array = Tensor(np.array(data, copy=True) if isinstance(data, np.ndarray) else data, dtype=dtype).array
    return _made(array, requires_grad, device, "tensor")


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a NumPy array when the dtype allows."""
    _check_cpu(device, "as_tensor")
    if isinstance(data, Tensor) and dtype is None:
        return data
    return Tensor(data, dtype=dtype)


def from_numpy(array):
    """A tensor sharing memory with ``array`` (changes to one show in the other)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a NumPy array, got {type(array).__name__}")
    _dtype.from_numpy_dtype(array.dtype)
    return Tensor._wrap(array)


def from_dlpack(ext_tensor):
    """A tensor sharing memory with any CPU object that speaks DLPack (a torch tensor, a NumPy array, ...)."""
    if not hasattr(ext_tensor, "__dlpack__"):
        raise TypeError(
            f"from_dlpack expects an object with __dlpack__ (e.g. a torch tensor), got {type(ext_tensor).__name__}"
        )
    try:
        array = np.from_dlpack(ext_tensor)
    except (BufferError, RuntimeError, TypeError) as error:
        raise RuntimeError(
            f"from_dlpack: cannot share the memory of this {type(ext_tensor).__name__} ({error}); glassgrad reads "
            "CPU memory only (move it with .cpu(), and .detach() a tensor that requires grad)"
        ) from None
    _dtype.from_numpy_dtype(array.dtype)
    return Tensor._wrap(array)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _made(np.zeros(_size(size, "zeros"), dtype=_float(dtype)), requires_grad, device, "zeros")


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _made(np.ones(_size(size, "ones"), dtype=_float(dtype)), requires_grad, device, "ones")


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _made(np.empty(_size(size, "empty"), dtype=_float(dtype)), requires_grad, device, "empty")


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = Tensor(fill_value).dtype
    return _made(np.full(tuple(size), fill_value, dtype=_dtype.to_dtype(dtype).numpy), requires_grad, device, "full")


def zeros_like(other, dtype=None, device=None, requires_grad=False):
    return _made(np.zeros(other.shape, dtype=_like(other, dtype)), requires_grad, device, "zeros_like")


def ones_like(other, dtype=None, device=None, requires_grad=False):
    return _made(np.ones(other.shape, dtype=_like(other, dtype)), requires_grad, device, "ones_like")


def empty_like(other, dtype=None, device=None, requires_grad=False):
    return _made(np.empty(other.shape, dtype=_like(other, dtype)), requires_grad, device, "empty_like")


def full_like(other, fill_value, dtype=None, device=None, requires_grad=False):
    return _made(np.full(other.shape, fill_value, dtype=_like(other, dtype)), requires_grad, device, "full_like")


def rand_like(other, dtype=None, device=None, requires_grad=False):
    return _made(random.random(tuple(other.shape), dtype=_like(other, dtype)), requires_grad, device, "rand_like")


def randn_like(other, dtype=None, device=None, requires_grad=False):
    return _made(
        random.standard_normal(tuple(other.shape), dtype=_like(other, dtype)), requires_grad, device, "randn_like"
    )


def randint_like(other, low=0, high=None, dtype=None, device=None):
    _check_cpu(device, "randint_like")
    if high is None:
        low, high = 0, low
    return Tensor._wrap(random.integers(low, high, tuple(other.shape)).astype(_like(other, dtype)))


def _like(other, dtype):
    return _dtype.to_dtype(dtype).numpy if dtype is not None else other.array.dtype


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from ``start`` up to (not including) ``end`` by ``step``; int64 unless a bound is a float."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        floats = any(isinstance(v, float) for v in (start, end, step))
        np_dtype = _dtype.get_default_dtype().numpy if floats else np.int64
    else:
        np_dtype = _dtype.to_dtype(dtype).numpy
    return _made(np.arange(start, end, step).astype(np_dtype), requires_grad, device, "arange")


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    return _made(np.linspace(start, end, steps).astype(_float(dtype)), requires_grad, device, "linspace")


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    return _made(np.logspace(start, end, steps, base=base).astype(_float(dtype)), requires_grad, device, "logspace")


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _made(np.eye(n, m, dtype=_float(dtype)), requires_grad, device, "eye")


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1) from the global (or given) generator."""
    return _made(random.random(_size(size, "rand"), generator, dtype=_float(dtype)), requires_grad, device, "rand")


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal samples from the global (or given) generator."""
    return _made(
        random.standard_normal(_size(size, "randn"), generator, dtype=_float(dtype)), requires_grad, device, "randn"
    )


def randint(low, high=None, size=None, generator=None, dtype=None, device=None):
    """Integers in [low, high); ``randint(high, size)`` starts at 0."""
    _check_cpu(device, "randint")
    if size is None:
        low, high, size = 0, low, high
    if low >= high:
        raise RuntimeError(f"randint: low ({low}) must be less than high ({high}); values are drawn from [low, high)")
    array = random.integers(low, high, _size(tuple(size), "randint"), generator)
    return Tensor._wrap(array if dtype is None else array.astype(_dtype.to_dtype(dtype).numpy))


def randperm(n, generator=None, dtype=None, device=None):
    """A random permutation of 0..n-1 (int64 unless ``dtype`` says otherwise)."""
    _check_cpu(device, "randperm")
    array = random.permutation(n, generator)
    return Tensor._wrap(array if dtype is None else array.astype(_dtype.to_dtype(dtype).numpy))


def bernoulli(probabilities, generator=None):
    p = probabilities.array
    return Tensor._wrap((random.random(p.shape, generator, dtype=np.float64) < p).astype(p.dtype))


def multinomial(probabilities, num_samples, replacement=False, generator=None):
    p = probabilities.array.astype(np.float64)
    rng = random._rng(generator)
    rows = p.reshape(-1, p.shape[-1])
    out = np.stack([rng.choice(rows.shape[1], num_samples, replace=replacement, p=r / r.sum()) for r in rows])
    return Tensor._wrap(out.reshape(p.shape[:-1] + (num_samples,)).astype(np.int64))
