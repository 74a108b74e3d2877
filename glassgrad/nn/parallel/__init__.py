"""``torch.nn.parallel``: one module over several devices or processes.

glassgrad computes on the CPU only, so ``DataParallel`` does what PyTorch's does on a machine
without GPUs: it holds the module and calls it. ``DistributedDataParallel`` trains one replica per
process, its gradients averaged over the processes (``glassgrad.distributed``).
"""

from glassgrad.nn.parallel.data_parallel import DataParallel, data_parallel
from glassgrad.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]
