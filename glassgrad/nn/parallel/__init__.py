"""``torch.nn.parallel``: running one module over several devices.

glassgrad computes on the CPU only, so ``DataParallel`` does what PyTorch's does on a machine
without GPUs: it holds the module and calls it. ``DistributedDataParallel`` lives in
``glassgrad.nn.parallel.distributed`` and loads on first use.
"""

import importlib

from glassgrad.nn.parallel.data_parallel import DataParallel, data_parallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]


def __getattr__(name):
    if name in ("DistributedDataParallel", "distributed"):
        module = importlib.import_module("glassgrad.nn.parallel.distributed")
        return module if name == "distributed" else module.DistributedDataParallel
    raise AttributeError(f"module 'glassgrad.nn.parallel' has no attribute {name!r}")
