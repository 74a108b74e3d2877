"""Collation: a list of samples becomes one batch."""

from __future__ import annotations

import collections.abc
import numbers
from typing import Any

import numpy as np

from glassgrad.tensor import Tensor


def _stack(arrays):
    first = arrays[0]
    for k, a in enumerate(arrays):
        if a.shape != first.shape:
            raise RuntimeError(
                f"default_collate: cannot stack samples of different shapes: sample 0 has {tuple(first.shape)}, "
                f"sample {k} has {tuple(a.shape)}; resize them to one size (e.g. transforms.Resize/CenterCrop) "
                "or pass a collate_fn that pads"
            )
    return np.stack(arrays)


def default_collate(batch: Any) -> Any:
    """Stack a list of samples into a batch, recursing into their structure.

    Tensors and NumPy arrays are stacked along a new first dimension into a Tensor; Python
    ints become an int64 Tensor, floats float32 (PyTorch gives float64 for Python floats; we
    keep glassgrad's float32 default), bools a bool Tensor; strings stay a list; tuples,
    lists, named tuples and dicts are collated field by field.
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return Tensor._wrap(_stack([t.array for t in batch]))
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OSU":
            return batch
        return Tensor._wrap(_stack(batch))
    if isinstance(elem, np.generic):
        return Tensor._wrap(np.array(batch))
    if isinstance(elem, bool):
        return Tensor._wrap(np.array(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return Tensor._wrap(np.array(batch, dtype=np.int64))
    if isinstance(elem, numbers.Real):
        return Tensor._wrap(np.array(batch, dtype=np.float32))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        if type(elem) is dict:
            return collated
        try:
            return type(elem)(collated)  # type: ignore[call-arg]  # a Mapping subclass built from a dict
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("default_collate: each element in the list of samples must have the same length")
        columns = [default_collate(list(field)) for field in zip(*batch)]
        return tuple(columns) if isinstance(elem, tuple) else columns
    raise TypeError(
        f"default_collate: cannot batch samples of type {type(elem).__name__}; it takes Tensors, NumPy arrays, "
        "numbers, strings, dicts and sequences of them. Add transforms.ToTensor() to the dataset's transform "
        "(PIL images) or pass a collate_fn"
    )


def default_convert(data: Any) -> Any:
    """Without batching (``batch_size=None``): NumPy arrays become Tensors, structures are walked."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OSU":
        return Tensor._wrap(data)
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return tuple(default_convert(d) for d in data)
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data
