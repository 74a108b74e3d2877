"""PyTorch's legacy tensor types: ``torch.FloatTensor(2, 3)``, ``x.type(torch.LongTensor)``, ``Variable``.

Old tutorials and many research repositories still build tensors through these classes and
compare ``x.type()`` with ``'torch.FloatTensor'``. Each class stands for one dtype: calling it
makes a tensor of that dtype, and ``isinstance`` asks the tensor's dtype, as in PyTorch.
"""

import warnings
from typing import Any

import numpy as np

from glassgrad import _dtype
from glassgrad.tensor import Size, Tensor

# PyTorch's type names, one per dtype.
TYPE_NAMES = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "float16": "HalfTensor",
    "int64": "LongTensor",
    "int32": "IntTensor",
    "int16": "ShortTensor",
    "int8": "CharTensor",
    "uint8": "ByteTensor",
    "bool": "BoolTensor",
}
_DTYPE_OF_NAME = {name: dtype for dtype, name in TYPE_NAMES.items()}


def type_name(dtype) -> str:
    """``'torch.FloatTensor'`` for float32, as ``Tensor.type()`` answers in PyTorch."""
    return f"torch.{TYPE_NAMES[_dtype.to_dtype(dtype).name]}"


def dtype_of_type_name(name: str):
    """The dtype of ``'torch.FloatTensor'`` (or ``'FloatTensor'``); None if ``name`` is no type name."""
    if name.startswith("torch.cuda.") and name.removeprefix("torch.cuda.") in _DTYPE_OF_NAME:
        raise RuntimeError(
            f"Tensor.type({name!r}): CUDA tensors are not available: glassgrad computes on the CPU only; "
            f"use {name.replace('.cuda', '')!r}"
        )
    key = name.removeprefix("torch.").removeprefix("glassgrad.")
    return _dtype.to_dtype(_DTYPE_OF_NAME[key]) if key in _DTYPE_OF_NAME else None


class _LegacyTensorType(type):
    """The metaclass: ``FloatTensor(...)`` makes a float32 tensor; ``isinstance(t, FloatTensor)`` checks the dtype."""

    dtype: Any  # the glassgrad dtype of each legacy type, set where it is made

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __call__(cls, *args, device=None):
        from glassgrad.tensor import check_cpu

        check_cpu(device, cls.__name__)
        np_dtype = cls.dtype.numpy
        if not args:
            return Tensor._wrap(np.empty((0,), dtype=np_dtype))
        if len(args) == 1 and not isinstance(args[0], (int, np.integer, Size)):
            data = args[0]
            if isinstance(data, Tensor):
                if data.dtype != cls.dtype:
                    raise TypeError(
                        f"{cls.__name__}(): expected a tensor of type {cls.dtype}, got one of {data.dtype}; "
                        f"use tensor.type(torch.{cls.__name__}) to convert"
                    )
                return data
            return Tensor(np.array(data, dtype=np_dtype))
        shape = tuple(args[0]) if len(args) == 1 and isinstance(args[0], Size) else args
        if not all(isinstance(s, (int, np.integer)) for s in shape):
            raise TypeError(
                f"{cls.__name__}(): pass data (a list or array) or sizes as ints, got {tuple(type(s).__name__ for s in shape)}"
            )
        # PyTorch leaves the memory uninitialised; zeros keep a glassgrad run reproducible.
        return Tensor._wrap(np.zeros(tuple(int(s) for s in shape), dtype=np_dtype))


def _make(name, dtype_name):
    cls = _LegacyTensorType(name, (), {"__doc__": f"Legacy constructor of {dtype_name} tensors, as torch.{name}."})
    cls.dtype = _dtype.to_dtype(dtype_name)
    cls.__module__ = "glassgrad"
    return cls


FloatTensor = _make("FloatTensor", "float32")
DoubleTensor = _make("DoubleTensor", "float64")
HalfTensor = _make("HalfTensor", "float16")
LongTensor = _make("LongTensor", "int64")
IntTensor = _make("IntTensor", "int32")
ShortTensor = _make("ShortTensor", "int16")
CharTensor = _make("CharTensor", "int8")
ByteTensor = _make("ByteTensor", "uint8")
BoolTensor = _make("BoolTensor", "bool")


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """``torch.autograd.Variable(t, requires_grad=False)``: since PyTorch 0.4 a Variable is a Tensor.

    Returns a leaf tensor sharing ``t``'s memory (as PyTorch's does) with ``requires_grad`` set;
    ``volatile=`` is accepted and, as in PyTorch, has no effect but a warning.
    """

    def __new__(cls, data, requires_grad=False, volatile=False):
        if volatile:
            warnings.warn(
                "volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                UserWarning,
                stacklevel=2,
            )
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        out = Tensor._wrap(data.array)
        if requires_grad:
            out.requires_grad_(True)
        return out
