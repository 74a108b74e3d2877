"""Datasets: the map-style and iterable protocols, and the usual ways of combining them."""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from glassgrad import random as _random

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from glassgrad.random import Generator
    from glassgrad.tensor import Tensor


class Dataset:
    """A map-style dataset: ``dataset[i]`` gives sample ``i`` and ``len(dataset)`` their number.

    Subclasses may also define ``__getitems__(indices)`` returning the list of samples at once;
    the DataLoader then fetches a whole batch with one call (the vision datasets use this to
    augment a batch of uint8 arrays in a few vectorised passes).
    """

    def __getitem__(self, index: int) -> Any:
        raise TypeError(f"{type(self).__name__} is a Dataset but defines no __getitem__: subclasses must implement it")

    def __add__(self, other: Dataset) -> Dataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset read as a stream: subclasses define ``__iter__``.

    With ``num_workers > 0`` every worker iterates its own copy; split the stream between them
    with ``glassgrad.utils.data.get_worker_info()`` (``id`` and ``num_workers``).
    """

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(f"{type(self).__name__} is an IterableDataset but defines no __iter__")

    def __add__(self, other: Dataset) -> Dataset:
        return ChainDataset([self, other])  # type: ignore[list-item]  # raises at iteration if it is not iterable


class TensorDataset(Dataset):
    """Samples are the ``i``-th rows of each tensor: ``dataset[i] == (t[i] for t in tensors)``."""

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        n = tensors[0].shape[0]
        for k, t in enumerate(tensors):
            if t.shape[0] != n:
                shapes = [tuple(t.shape) for t in tensors]
                raise ValueError(
                    f"TensorDataset: all tensors must have the same first dimension; tensor {k} has "
                    f"{t.shape[0]} rows, tensor 0 has {n} (shapes {shapes})"
                )
        self.tensors = tensors

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        # One gather per tensor instead of one index per sample; rows come back as views.
        idx = np.asarray(indices, dtype=np.int64)
        columns = [t[idx] for t in self.tensors]
        return [tuple(c[k] for c in columns) for k in range(len(idx))]

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class StackDataset(Dataset):
    """Datasets of one length side by side: ``StackDataset(a, b)[i] == (a[i], b[i])``, and with
    keywords ``StackDataset(image=a, label=b)[i] == {"image": a[i], "label": b[i]}``."""

    def __init__(self, *args: Dataset, **kwargs: Dataset) -> None:
        if args and kwargs:
            raise ValueError("StackDataset takes datasets as positional arguments or as keywords, not both")
        if not args and not kwargs:
            raise ValueError("StackDataset needs at least one dataset")
        self.datasets: Any = args or kwargs
        named = list(kwargs.items()) if kwargs else list(enumerate(args))
        lengths = {key: len(d) for key, d in named}  # type: ignore[arg-type]
        if len(set(lengths.values())) > 1:
            raise ValueError(f"StackDataset: the datasets must have one length, but they have {lengths}")
        self._length = next(iter(lengths.values()))

    def __getitem__(self, index: int) -> Any:
        if isinstance(self.datasets, dict):
            return {key: d[index] for key, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index: int | list[int]) -> Any:  # type: ignore[override]
        if isinstance(index, list):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        mapped = [self.indices[i] for i in indices]
        if hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(mapped)
        return [self.dataset[i] for i in mapped]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several map-style datasets one after the other."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not take IterableDatasets; use ChainDataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())  # type: ignore[arg-type]  # a map-style dataset defines __len__

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            if -index > len(self):
                raise IndexError(f"ConcatDataset index {index} out of range for length {len(self)}")
            index += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        if which >= len(self.datasets):
            raise IndexError(f"ConcatDataset index {index} out of range for length {len(self)}")
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]


class ChainDataset(IterableDataset):
    """Several iterable datasets read one after the other."""

    def __init__(self, datasets: Iterable[IterableDataset]) -> None:
        self.datasets = list(datasets)

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)  # type: ignore[arg-type, misc]  # when each has a length


def random_split(dataset: Dataset, lengths: Sequence[int | float], generator: Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1: each part then
    gets ``floor(fraction * n)`` samples and the remainder is dealt one by one, round-robin, from
    the first part on (PyTorch's rule). ``generator`` (a ``glassgrad.Generator``) makes the split
    repeatable; without it the global generator (``glassgrad.manual_seed``) is used.
    """
    n = len(dataset)  # type: ignore[arg-type]  # a map-style dataset defines __len__
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1:
        for x in lengths:
            if not 0 <= x <= 1:
                raise ValueError(f"random_split: fraction {x} is not between 0 and 1")
        counts = [int(math.floor(n * x)) for x in lengths]
        for k in range(n - sum(counts)):
            counts[k % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: the lengths {lengths} sum to {sum(lengths)} but the dataset has {n} samples; "
            "give counts summing to len(dataset) or fractions summing to 1"
        )
    order = _random.permutation(n, generator).tolist()
    parts, start = [], 0
    for length in lengths:
        parts.append(Subset(dataset, order[start : start + length]))
        start += length  # type: ignore[assignment]  # counts by now
    return parts
