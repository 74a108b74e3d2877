"""Data-parallel training inside the Trainer: join the process group, shard the data, sum the metrics.

Every process runs the same training script; the launcher (``glassgrad train --nproc N``,
``mpirun``, ``srun`` or ``torchrun``) tells each its rank through the environment.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

import glassgrad
from glassgrad import distributed as dist
from glassgrad.utils.data.sampler import Sampler

_MPI_RANK = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK")
_MPI_SIZE = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")


def environment_world():
    """(backend, world size) that a launcher set in the environment; (None, 1) when run alone."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ:
        return "gloo", int(os.environ["WORLD_SIZE"])
    for name in _MPI_SIZE:
        if int(os.environ.get(name, "1")) > 1:
            return "mpi", int(os.environ[name])
    if int(os.environ.get("SLURM_NTASKS", "1")) > 1 and "SLURM_PROCID" in os.environ:
        return "mpi", int(os.environ["SLURM_NTASKS"])
    return None, 1


@dataclass
class World:
    """This process's place in a data-parallel run."""

    rank: int
    size: int
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def join(backend=None, timeout=300.0):
    """Join the process group a launcher prepared; None when this process runs alone.

    ``backend``: "mpi" or "gloo" (None: whichever the launcher implies: MPI's variables, or torchrun's
    RANK/WORLD_SIZE). ``timeout`` (seconds, ``--dist-timeout``) bounds the rendezvous and every collective,
    so a peer that hangs ends the run; one that raises or dies ends it at once (``glassgrad.distributed._faults``).
    """
    implied, size = environment_world()
    if size <= 1:
        return None
    backend = backend or implied
    if backend == "gloo":
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29500")
    dist.init_process_group(backend, timeout=timeout)
    return World(dist.get_rank(), dist.get_world_size(), backend)


class RecordedSampler(Sampler):
    """``sampler``'s indices, kept each epoch: the global order of a one-process epoch, which a
    mid-epoch checkpoint needs to say which samples are left."""

    def __init__(self, sampler):
        self.sampler = sampler
        self.order = None

    def __iter__(self):
        # Drawn all at once, as RandomSampler draws its permutation: the random streams advance alike.
        self.order = list(self.sampler)
        return iter(self.order)

    def __len__(self):
        return len(self.sampler)

    def epoch_order(self):
        return self.order


class RemainderSampler(Sampler):
    """Rank ``rank``'s share of what an interrupted epoch had left (``indices``, in the epoch's global order).

    Shared as ``DistributedSampler`` shares an epoch (rank r takes every num_replicas-th index from
    position r), so that global step j trains ``indices[j*B*N:(j+1)*B*N]``; padded by repeating the
    start only when ``len(indices)`` is not a multiple of ``num_replicas``, as DistributedSampler pads.
    """

    def __init__(self, indices, num_replicas=1, rank=0):
        self.indices = [int(i) for i in indices]
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.num_samples = math.ceil(len(self.indices) / self.num_replicas)

    def __iter__(self):
        total = self.num_samples * self.num_replicas
        order = np.resize(np.asarray(self.indices, np.int64), total) if self.indices else np.zeros(0, np.int64)
        return iter(order[self.rank : total : self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples

    def epoch_order(self):
        return list(self.indices)


def recorded_loader(loader):
    """``loader`` with its sampler recorded (same sampler, generator and workers: the same batches)."""
    from glassgrad.utils.data import DataLoader

    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=RecordedSampler(loader.sampler),
        num_workers=loader.num_workers,
        generator=loader.generator,
    )


def remainder_loader(loader, indices, world_size=1, rank=0):
    """A DataLoader like ``loader`` over this rank's share of an interrupted epoch's ``indices``."""
    from glassgrad.utils.data import DataLoader

    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=RemainderSampler(indices, world_size, rank),
        num_workers=loader.num_workers,
        generator=loader.generator,
    )


def shard_loader(loader, world, seed, generator_seed):
    """A DataLoader over ``loader``'s dataset giving this rank its DistributedSampler share
    (PyTorch's index sequence for ``seed`` and the epoch); same batch size and workers."""
    from glassgrad.utils.data import DataLoader
    from glassgrad.utils.data.distributed import DistributedSampler

    sampler = DistributedSampler(loader.dataset, world.size, world.rank, shuffle=True, seed=seed)
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        num_workers=loader.num_workers,
        generator=glassgrad.Generator().manual_seed(generator_seed),
    )


def reduce_running(running):
    """Replace the epoch's sums in a RunningMetrics by their totals over every rank."""
    sums = glassgrad.tensor(np.array([running.loss_sum, running.top1, running.top5, running.count], dtype=np.float64))
    dist.all_reduce(sums)
    loss_sum, top1, top5, count = sums.numpy().tolist()
    running.loss_sum, running.top1, running.top5, running.count = loss_sum, int(top1), int(top5), int(count)


def epoch_callback():
    """A Trainer callback telling each DistributedSampler the epoch (a new shuffle every epoch)."""
    from glassgrad.train.trainer import Callback

    class SetEpoch(Callback):
        def on_epoch_start(self, trainer, epoch):
            sampler = getattr(trainer.train_loader, "sampler", None)
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch - 1)

    return SetEpoch()
