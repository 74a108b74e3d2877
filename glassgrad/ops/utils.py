"""Argument helpers shared by the ops and the layers above them (conv, pooling, nn.conv)."""

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
