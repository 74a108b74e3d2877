"""dtypes with PyTorch's names, each backed by a NumPy dtype."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from typing import TypeAlias

    # What a ``dtype=`` argument accepts: a glassgrad dtype, a NumPy dtype, ``float``/``int``/``bool``
    # or a name (``"float32"``, ``"torch.long"``).
    DTypeLike: TypeAlias = "dtype | np.dtype[Any] | type | str"


class dtype:
    """A tensor element type: ``glassgrad.float32`` and friends.

    Compares equal to itself and to the NumPy dtype behind it, so that
    ``x.dtype == glassgrad.float32`` and ``x.numpy().dtype == x.dtype`` both hold.
    """

    __slots__ = ("name", "numpy", "is_floating_point", "is_complex", "is_signed", "itemsize")

    def __init__(self, name, np_dtype):
        self.name = name
        self.numpy = np.dtype(np_dtype)
        self.is_floating_point = self.numpy.kind == "f"
        self.is_complex = False
        self.is_signed = self.numpy.kind in "fi"
        self.itemsize = self.numpy.itemsize

    def __repr__(self):
        return f"glassgrad.{self.name}"

    def __eq__(self, other):
        if isinstance(other, _WithoutNumPy):
            return False
        if isinstance(other, dtype):
            return self.numpy == other.numpy
        try:
            return self.numpy == np.dtype(other)
        except TypeError:
            return False

    def __hash__(self):
        return hash(self.numpy)

    def __reduce__(self):
        return (to_dtype, (self.name,))


float16 = dtype("float16", np.float16)
float32 = dtype("float32", np.float32)
float64 = dtype("float64", np.float64)
uint8 = dtype("uint8", np.uint8)
int8 = dtype("int8", np.int8)
int16 = dtype("int16", np.int16)
int32 = dtype("int32", np.int32)
int64 = dtype("int64", np.int64)
bool_ = dtype("bool", np.bool_)


class _WithoutNumPy(dtype):
    """A PyTorch dtype NumPy cannot store (bfloat16): it exists, so programs that only name it
    (``dtype=torch.bfloat16 if ... else torch.float32``, ``autocast(dtype=torch.bfloat16)``)
    import and run; making a tensor of it raises an error that says what to use instead."""

    __slots__ = ()

    def __init__(self, name, itemsize):
        for slot, value in (("name", name), ("is_floating_point", True), ("is_complex", False), ("is_signed", True)):
            object.__setattr__(self, slot, value)
        object.__setattr__(self, "itemsize", itemsize)

    @property
    def numpy(self):
        raise TypeError(
            f"glassgrad.{self.name}: NumPy has no {self.name} type, so glassgrad cannot make {self.name} tensors; "
            "use glassgrad.float32 (or float16) instead. (glassgrad.autocast(dtype=bfloat16) is accepted and "
            "computes in float32.)"
        )

    def __eq__(self, other):
        return self is other or (isinstance(other, str) and other.removeprefix("torch.") == self.name)

    def __hash__(self):
        return hash(self.name)


bfloat16 = _WithoutNumPy("bfloat16", 2)

_BY_NUMPY = {d.numpy: d for d in (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)}
_BY_NAME = {
    "float16": float16,
    "half": float16,
    "float32": float32,
    "float": float32,
    "float64": float64,
    "double": float64,
    "uint8": uint8,
    "int8": int8,
    "int16": int16,
    "short": int16,
    "int32": int32,
    "int": int32,
    "int64": int64,
    "long": int64,
    "bool": bool_,
    "bfloat16": bfloat16,
}

_default_float = float32


def to_dtype(value: DTypeLike) -> dtype:
    """Turn a glassgrad dtype, a NumPy dtype, a Python type or a name into a glassgrad dtype."""
    if isinstance(value, dtype):
        return value
    if isinstance(value, str):
        key = value.removeprefix("glassgrad.").removeprefix("torch.")
        if key in _BY_NAME:
            return _BY_NAME[key]
        raise TypeError(f"unknown dtype {value!r}; use one of {sorted(_BY_NAME)}")
    if value is float:
        return _default_float
    if value is int:
        return int64
    if value is bool:
        return bool_
    try:
        return _BY_NUMPY[np.dtype(value)]
    except (KeyError, TypeError):
        raise TypeError(f"unsupported dtype {value!r}; glassgrad supports {sorted(_BY_NAME)}") from None


def from_numpy_dtype(np_dtype: np.dtype) -> dtype:
    """The glassgrad dtype of a NumPy dtype (fast path for Tensor.dtype)."""
    try:
        return _BY_NUMPY[np_dtype]
    except KeyError:
        raise TypeError(f"NumPy dtype {np_dtype} has no glassgrad equivalent") from None


def get_default_dtype() -> dtype:
    """The dtype that floating-point tensors get when none is given (float32)."""
    return _default_float


def set_default_dtype(d: DTypeLike) -> None:
    """Make ``d`` (float32 or float64) the default floating-point dtype."""
    global _default_float
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: {d} is not a floating-point dtype")
    _default_float = d
