"""Data parallelism across processes: ``nn.parallel.DistributedDataParallel``."""

from glassgrad.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
