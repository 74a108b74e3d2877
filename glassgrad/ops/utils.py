"""Argument helpers shared by the ops and the layers above them (dims, operands, conv and pooling sizes)."""

import numpy as np

from glassgrad.tensor import Tensor


def ntuple(value, n, name, op):
    """``value`` (an int, or a sequence or Tensor of 1 or ``n`` ints) as a tuple of ``n`` ints;
    a clear error naming ``op`` and the argument ``name`` otherwise."""
    if isinstance(value, Tensor):
        value = value.tolist()
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value}")
    return value


def batched(x, ndim, op, what):
    """(x with a batch dimension, whether one was added): an ``ndim``-D Tensor as it is, an
    ``(ndim - 1)``-D one unsqueezed at 0; errors name ``op`` and ``what`` x is."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {what} must be a Tensor, got {type(x).__name__}")
    if x.ndim == ndim - 1:
        return x.unsqueeze(0), True
    if x.ndim != ndim:
        raise RuntimeError(
            f"{op}: expected a {ndim}-D (batched) or {ndim - 1}-D (unbatched) input, got shape {tuple(x.shape)}"
        )
    return x, False


def normalize_dims(dim, ndim, op):
    """Normalise ``dim`` (None, int or tuple) into a tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    limit = ndim if ndim > 1 else 1
    out = []
    for d in dims:
        if not -limit <= d < limit:
            raise IndexError(
                f"{op}: dimension {d} is out of range for a tensor with {ndim} dimensions "
                f"(expected {-limit} to {limit - 1})"
            )
        out.append(d % limit)
    return tuple(out) if ndim else ()


def as_operand(x):
    """A Tensor stays; a Python number stays a (weakly typed) scalar; anything else becomes an array."""
    if isinstance(x, (Tensor, int, float, bool)):
        return x
    if isinstance(x, np.ndarray) or isinstance(x, (list, tuple)):
        return Tensor._of(x)
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"unsupported operand of type {type(x).__name__}; use a Tensor or a number")
