"""Tensor factories with PyTorch's names and default dtypes."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

import numpy as np

from glassgrad import _dtype, random
from glassgrad.autograd.graph import increment_version
from glassgrad.tensor import Tensor, check_cpu

if TYPE_CHECKING:
    from collections.abc import Sequence

    from glassgrad._dtype import DTypeLike
    from glassgrad.random import Generator


def _size(size, op, keyword=None):
    """``f(2, 3)``, ``f((2, 3))`` or ``f(size=(2, 3))`` as a shape tuple.

    Refuses a float (``nn.Linear(2.0, 3)`` builds its weight here) with PyTorch's TypeError, and a
    negative size by name.
    """
    if keyword is not None:
        if size:
            raise TypeError(f"{op}() got the size both as positional arguments {size} and as size={keyword}")
        size = (keyword,)
    items = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    shape = []
    for position, item in enumerate(items):
        try:
            shape.append(operator.index(item))
        except TypeError:
            raise TypeError(
                f"{op}(): argument 'size' (position 1) must be tuple of ints, but found element of type "
                f"{type(item).__name__} at pos {position}"
            ) from None
    shape = tuple(shape)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"{op}: negative dimension in size {shape}; sizes must be >= 0")
    return shape


def _float(dtype):
    return (_dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()).numpy


def _made(array, requires_grad, device=None, op="tensor", out=None):
    check_cpu(device, op)
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad_(True)  # refuses integer dtypes by name before anything is written to out
    if out is not None:
        return _into(out, array, op)
    return t


def _into(out, array, op):
    """``out=``: ``out`` takes the result's shape and values, keeping its own dtype, as in PyTorch."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if out.requires_grad and out.is_leaf:
        raise RuntimeError(f"{op}(): out= must not be a leaf tensor that requires grad; pass one made under no_grad")
    out.array = np.ascontiguousarray(array, dtype=out.array.dtype)
    increment_version(out, f"{op}(out=...)")
    return out


def tensor(data: Any, dtype: DTypeLike | None = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (numbers, nested lists, arrays or tensors).

    Python floats become float32, Python ints int64, as in PyTorch.
    """
    if isinstance(data, Tensor):
        data = data.array
    array = Tensor._of(np.array(data, copy=True) if isinstance(data, np.ndarray) else data, dtype=dtype).array
    return _made(array, requires_grad, device, "tensor")


def as_tensor(data: Any, dtype: DTypeLike | None = None, device: Any = None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array when the dtype allows."""
    check_cpu(device, "as_tensor")
    if isinstance(data, Tensor) and dtype is None:
        return data
    return Tensor._of(data, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (changes to one show in the other)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a NumPy array, got {type(array).__name__}")
    _dtype.from_numpy_dtype(array.dtype)
    return Tensor._wrap(array)


def from_dlpack(ext_tensor: Any) -> Tensor:
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


def zeros(
    *size: int | Sequence[int],
    out: Tensor | None = None,
    dtype: DTypeLike | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
    **kw: Any,
) -> Tensor:
    shape = _size(size, "zeros", _size_keyword(kw, "zeros"))
    return _made(np.zeros(shape, dtype=_float(dtype)), requires_grad, device, "zeros", out)


def ones(
    *size: int | Sequence[int],
    out: Tensor | None = None,
    dtype: DTypeLike | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
    **kw: Any,
) -> Tensor:
    shape = _size(size, "ones", _size_keyword(kw, "ones"))
    return _made(np.ones(shape, dtype=_float(dtype)), requires_grad, device, "ones", out)


def empty(
    *size: int | Sequence[int],
    out: Tensor | None = None,
    dtype: DTypeLike | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
    **kw: Any,
) -> Tensor:
    shape = _size(size, "empty", _size_keyword(kw, "empty"))
    return _made(np.empty(shape, dtype=_float(dtype)), requires_grad, device, "empty", out)


def full(
    size: Sequence[int],
    fill_value: float,
    *,
    out: Tensor | None = None,
    dtype: DTypeLike | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    if dtype is None:
        dtype = Tensor._of(fill_value).dtype
    shape = _size((size,), "full")
    return _made(np.full(shape, fill_value, dtype=_dtype.to_dtype(dtype).numpy), requires_grad, device, "full", out)


def zeros_like(
    other: Tensor, dtype: DTypeLike | None = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return _made(np.zeros(other.shape, dtype=_like(other, dtype)), requires_grad, device, "zeros_like")


def ones_like(other: Tensor, dtype: DTypeLike | None = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _made(np.ones(other.shape, dtype=_like(other, dtype)), requires_grad, device, "ones_like")


def empty_like(
    other: Tensor, dtype: DTypeLike | None = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return _made(np.empty(other.shape, dtype=_like(other, dtype)), requires_grad, device, "empty_like")


def full_like(
    other: Tensor, fill_value: float, dtype: DTypeLike | None = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return _made(np.full(other.shape, fill_value, dtype=_like(other, dtype)), requires_grad, device, "full_like")


def rand_like(other: Tensor, dtype: DTypeLike | None = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _made(random.random(tuple(other.shape), dtype=_like(other, dtype)), requires_grad, device, "rand_like")


def randn_like(
    other: Tensor, dtype: DTypeLike | None = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return _made(
        random.standard_normal(tuple(other.shape), dtype=_like(other, dtype)), requires_grad, device, "randn_like"
    )


def randint_like(
    other: Tensor, low: int = 0, high: int | None = None, dtype: DTypeLike | None = None, device: Any = None
) -> Tensor:
    check_cpu(device, "randint_like")
    if high is None:
        low, high = 0, low
    return Tensor._wrap(random.integers(low, high, tuple(other.shape)).astype(_like(other, dtype)))


def _like(other, dtype):
    return _dtype.to_dtype(dtype).numpy if dtype is not None else other.array.dtype


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    *,
    out: Tensor | None = None,
    dtype: DTypeLike | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
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
    return _made(np.arange(start, end, step).astype(np_dtype), requires_grad, device, "arange", out)


def linspace(
    start: float,
    end: float,
    steps: int,
    *,
    out: Tensor | None = None,
    dtype: DTypeLike | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    return _made(np.linspace(start, end, steps).astype(_float(dtype)), requires_grad, device, "linspace", out)


def logspace(
    start: float,
    end: float,
    steps: int,
    base: float = 10.0,
    dtype: DTypeLike | None = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    return _made(np.logspace(start, end, steps, base=base).astype(_float(dtype)), requires_grad, device, "logspace")


def eye(
    n: int,
    m: int | None = None,
    *,
    out: Tensor | None = None,
    dtype: DTypeLike | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    return _made(np.eye(n, m, dtype=_float(dtype)), requires_grad, device, "eye", out)


def rand(
    *size: int | Sequence[int],
    generator: Generator | None = None,
    out: Tensor | None = None,
    dtype: DTypeLike | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    **kw: Any,
) -> Tensor:
    """Uniform samples in [0, 1) from the global (or given) generator."""
    shape = _size(size, "rand", _size_keyword(kw, "rand"))
    return _made(random.random(shape, generator, dtype=_float(dtype)), requires_grad, device, "rand", out)


def randn(
    *size: int | Sequence[int],
    generator: Generator | None = None,
    out: Tensor | None = None,
    dtype: DTypeLike | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    **kw: Any,
) -> Tensor:
    """Standard normal samples from the global (or given) generator."""
    shape = _size(size, "randn", _size_keyword(kw, "randn"))
    return _made(random.standard_normal(shape, generator, dtype=_float(dtype)), requires_grad, device, "randn", out)


def randint(
    low: int = 0,
    high: Any = None,  # an int, or the size in randint(high, size)
    size: Any = None,
    *,
    generator: Generator | None = None,
    out: Tensor | None = None,
    dtype: DTypeLike | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers in [low, high) as int64 (or ``dtype``): ``randint(high, size)`` starts at 0.

    Takes PyTorch's forms: ``randint(10, (3,))``, ``randint(10, size=(3,))``,
    ``randint(2, 10, (3,))`` and ``randint(low=2, high=10, size=(3,))``.
    """
    if high is None:
        low, high = 0, low
    elif size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint() missing the required argument 'size' (a tuple of ints): randint(high, size=(n,))")
    if low >= high:
        raise RuntimeError(f"randint: low ({low}) must be less than high ({high}); values are drawn from [low, high)")
    array = random.integers(low, high, _size((size,), "randint"), generator)
    array = array if dtype is None else array.astype(_dtype.to_dtype(dtype).numpy)
    return _made(array, requires_grad, device, "randint", out)


def _size_keyword(kw, op):
    """The ``size=`` keyword of the factories that otherwise take sizes as ``*size``."""
    unknown = set(kw) - {"size", "memory_format"}
    if unknown:
        raise TypeError(f"{op}() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    return kw.get("size")


def randperm(
    n: int,
    *,
    generator: Generator | None = None,
    out: Tensor | None = None,
    dtype: DTypeLike | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A random permutation of 0..n-1 (int64 unless ``dtype`` says otherwise)."""
    array = random.permutation(n, generator)
    array = array if dtype is None else array.astype(_dtype.to_dtype(dtype).numpy)
    return _made(array, requires_grad, device, "randperm", out)


def bernoulli(probabilities: Tensor, generator: Generator | None = None) -> Tensor:
    p = probabilities.array
    return Tensor._wrap((random.random(p.shape, generator, dtype=np.float64) < p).astype(p.dtype))


def multinomial(
    probabilities: Tensor, num_samples: int, replacement: bool = False, generator: Generator | None = None
) -> Tensor:
    p = probabilities.array.astype(np.float64)
    rng = random._rng(generator)
    rows = p.reshape(-1, p.shape[-1])
    out = np.stack([rng.choice(rows.shape[1], num_samples, replace=replacement, p=r / r.sum()) for r in rows])
    return Tensor._wrap(out.reshape(p.shape[:-1] + (num_samples,)).astype(np.int64))
