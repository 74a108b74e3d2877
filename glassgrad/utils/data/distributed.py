"""``DistributedSampler``: each process's share of a dataset, with PyTorch's index sequence."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from glassgrad.utils.data.sampler import Sampler

if TYPE_CHECKING:
    from collections.abc import Iterator

    from glassgrad.utils.data.dataset import Dataset


def _torch_randperm(n: int, seed: int) -> np.ndarray:
    """``torch.randperm(n, generator=torch.Generator().manual_seed(seed))`` without torch.

    torch's CPU generator is MT19937 with the classic 32-bit seeding (NumPy's legacy RandomState), and
    its randperm is a forward Fisher-Yates shuffle taking each swap partner as a raw 32-bit draw mod (n - i).
    """
    r = np.arange(n, dtype=np.int64)
    if n < 2:
        return r
    raw = np.random.RandomState(seed & 0xFFFFFFFF)._bit_generator.random_raw(n - 1)
    partner = np.arange(n - 1) + raw.astype(np.int64) % (n - np.arange(n - 1))
    # The swaps depend on each other, so they run in order; once per epoch, on integers.
    lst = r.tolist()
    for i, j in enumerate(partner.tolist()):
        lst[i], lst[j] = lst[j], lst[i]
    return np.asarray(lst, dtype=np.int64)


class DistributedSampler(Sampler):
    """Rank ``rank``'s indices out of ``num_replicas`` equal shares of ``dataset``.

    With ``shuffle`` the order is ``randperm(len(dataset))`` seeded by ``seed + epoch`` (call ``set_epoch``
    each epoch), the same on every rank and the same as PyTorch's; the list is padded by repeating its start
    (or, with ``drop_last``, cut) to a multiple of ``num_replicas``, and rank r takes every num_replicas-th
    index from position r.
    """

    def __init__(
        self,
        dataset: Dataset,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            from glassgrad import distributed as dist

            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank={rank} is outside [0, num_replicas={num_replicas})")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.epoch = 0
        n = len(dataset)  # type: ignore[arg-type]  # a map-style dataset defines __len__
        if drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def epoch_order(self) -> list:
        """The epoch's order over every rank, before padding (the same on all ranks): global step j of
        batch B per rank trains positions [j*B*num_replicas, (j+1)*B*num_replicas) of it."""
        n = len(self.dataset)  # type: ignore[arg-type]  # a map-style dataset defines __len__
        order = _torch_randperm(n, self.seed + self.epoch) if self.shuffle else np.arange(n, dtype=np.int64)
        return order[: self.total_size].tolist() if self.drop_last else order.tolist()

    def __iter__(self) -> Iterator[Any]:
        order = np.asarray(self.epoch_order(), dtype=np.int64)
        if self.total_size > len(order):
            order = np.resize(order, self.total_size)
        return iter(order[self.rank : self.total_size : self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use a new shuffle for ``epoch`` (the same on every rank)."""
        self.epoch = int(epoch)
