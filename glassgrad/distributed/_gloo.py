"""The gloo engine: torch.distributed's gloo backend over zero-copy ``torch.from_numpy`` views."""

from __future__ import annotations

import datetime

import numpy as np


def _torch():
    try:
        import torch
        import torch.distributed as td
    except ImportError as e:
        raise RuntimeError(
            "backend='gloo' uses PyTorch's gloo library, which is not installed; "
            "install it with `pip install torch`, or use backend='mpi' (`pip install 'glassgrad[mpi]'`)"
        ) from e
    return torch, td


_OPS = {"sum": "SUM", "max": "MAX", "min": "MIN", "product": "PRODUCT"}


class _Work:
    def __init__(self, work, after=None):
        self._work, self._after = work, after

    def wait(self, timeout=None):
        if self._work is not None:
            self._work.wait()
        if self._after is not None:
            self._after()
            self._after = None
        return True

    def is_completed(self):
        return self._work is None or self._work.is_completed()


class GlooEngine:
    """One process group's collectives, on NumPy arrays written in place."""

    name = "gloo"

    def __init__(self, rank, world_size, init_method, timeout, group=None):
        self.torch, self.td = _torch()
        if group is None:
            if not self.td.is_initialized():
                self.td.init_process_group(
                    "gloo",
                    init_method=init_method,
                    rank=rank,
                    world_size=world_size,
                    timeout=datetime.timedelta(seconds=timeout),
                )
            self.group = None
        else:
            self.group = group
        self.rank = self.td.get_rank(self.group)
        self.world_size = self.td.get_world_size(self.group)

    def new(self, ranks):
        g = self.td.new_group(ranks)
        if self.td.get_rank() not in ranks:
            return None
        eng = GlooEngine.__new__(GlooEngine)
        eng.torch, eng.td, eng.group = self.torch, self.td, g
        eng.rank, eng.world_size = self.td.get_rank(g), len(ranks)
        return eng

    def _t(self, a):
        return self.torch.from_numpy(a)

    def _op(self, op):
        return getattr(self.td.ReduceOp, _OPS[op])

    def _global(self, r):
        return r if self.group is None else self.td.get_global_rank(self.group, r)

    def barrier(self):
        self.td.barrier(group=self.group)

    def broadcast(self, a, src, async_op):
        return _Work(self.td.broadcast(self._t(a), self._global(src), group=self.group, async_op=async_op))

    def all_reduce(self, a, op, async_op):
        avg = op == "avg"
        w = self.td.all_reduce(self._t(a), self._op("sum" if avg else op), group=self.group, async_op=async_op)
        after = (lambda: np.divide(a, self.world_size, out=a, casting="unsafe")) if avg else None
        work = _Work(w, after)
        if not async_op:
            work.wait()
        return work

    def reduce(self, a, dst, op, async_op):
        avg = op == "avg"
        w = self.td.reduce(
            self._t(a), self._global(dst), self._op("sum" if avg else op), group=self.group, async_op=async_op
        )
        after = (lambda: np.divide(a, self.world_size, out=a, casting="unsafe")) if avg and self.rank == dst else None
        work = _Work(w, after)
        if not async_op:
            work.wait()
        return work

    def all_gather_into(self, out, a, async_op):
        # Flat views: gloo wants the output's first dimension to be world_size times the input's.
        flat_out, flat_in = self._t(out.reshape(-1)), self._t(a.reshape(-1))
        return _Work(self.td.all_gather_into_tensor(flat_out, flat_in, group=self.group, async_op=async_op))

    def gather(self, a, outs, dst, async_op):
        lst = [self._t(o) for o in outs] if outs is not None else None
        return _Work(self.td.gather(self._t(a), lst, self._global(dst), group=self.group, async_op=async_op))

    def scatter(self, out, ins, src, async_op):
        lst = [self._t(i) for i in ins] if ins is not None else None
        return _Work(self.td.scatter(self._t(out), lst, self._global(src), group=self.group, async_op=async_op))

    def send(self, a, dst):
        self.td.send(self._t(a), self._global(dst), group=self.group)

    def recv(self, a, src):
        self.td.recv(self._t(a), self._global(src), group=self.group)

    def destroy(self):
        if self.group is None and self.td.is_initialized():
            self.td.destroy_process_group()
