"""The MPI engine: mpi4py's collectives on NumPy buffers, in place (nonblocking ones for ``async_op``)."""

from __future__ import annotations

import os

import numpy as np


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(
            "backend='mpi' needs mpi4py and an MPI library, which are not installed; "
            "install them with `pip install 'glassgrad[mpi]'` (mpi4py and the mpich wheel), "
            "or `pip install mpi4py` built against your cluster's MPI (MPICC=mpicc)"
        ) from e
    return MPI


class _Work:
    def __init__(self, req=None, after=None):
        self._req, self._after = req, after

    def wait(self, timeout=None):
        if self._req is not None:
            self._req.Wait()
            self._req = None
        if self._after is not None:
            self._after()
            self._after = None
        return True

    def is_completed(self):
        return self._req is None or bool(self._req.Test())


class MPIEngine:
    """One communicator's collectives, on NumPy arrays written in place."""

    name = "mpi"

    def __init__(self, rank=None, world_size=None, init_method=None, timeout=None, comm=None):
        self.MPI = MPI = _mpi()
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.world_size = self.comm.Get_rank(), self.comm.Get_size()
        if rank is not None and rank != self.rank:
            raise ValueError(f"init_process_group(rank={rank}) but the MPI launcher gave this process rank {self.rank}")
        if world_size is not None and world_size != self.world_size:
            raise ValueError(
                f"init_process_group(world_size={world_size}) but the MPI launcher started {self.world_size} processes"
            )
        self.ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN, "product": MPI.PROD}
        if comm is None:
            self._unlink_segments()

    def _unlink_segments(self):
        """Delete the names of the MPI library's shared-memory files once every local rank maps them.

        MPICH deletes them only in MPI_Finalize, so a rank killed or aborted leaves them in /dev/shm.
        After the barrier every rank of the machine has mapped them, and a deleted file stays mapped."""
        self.comm.Barrier()
        try:
            with open("/proc/self/maps") as f:
                paths = {line.split()[-1] for line in f if "/dev/shm/mpich_shm_" in line and "(deleted)" not in line}
        except OSError:
            return
        for path in paths:
            try:
                os.unlink(path)
            except OSError:
                pass  # another local rank was first

    def new(self, ranks):
        grp = self.comm.Get_group().Incl(list(ranks))
        comm = self.comm.Create(grp)
        if comm == self.MPI.COMM_NULL:
            return None
        return MPIEngine(comm=comm)

    def _avg(self, a, op):
        return (lambda: np.divide(a, self.world_size, out=a, casting="unsafe")) if op == "avg" else None

    def _mop(self, op):
        return self.ops["sum" if op == "avg" else op]

    def barrier(self):
        self.comm.Barrier()

    def broadcast(self, a, src, async_op):
        if async_op:
            return _Work(self.comm.Ibcast(a, root=src))
        self.comm.Bcast(a, root=src)
        return _Work()

    def all_reduce(self, a, op, async_op):
        if async_op:
            return _Work(self.comm.Iallreduce(self.MPI.IN_PLACE, a, op=self._mop(op)), self._avg(a, op))
        self.comm.Allreduce(self.MPI.IN_PLACE, a, op=self._mop(op))
        w = _Work(None, self._avg(a, op))
        w.wait()
        return w

    def reduce(self, a, dst, op, async_op):
        send = self.MPI.IN_PLACE if self.rank == dst else a
        after = self._avg(a, op) if self.rank == dst else None
        if async_op:
            return _Work(self.comm.Ireduce(send, a, op=self._mop(op), root=dst), after)
        self.comm.Reduce(send, a, op=self._mop(op), root=dst)
        w = _Work(None, after)
        w.wait()
        return w

    def all_gather_into(self, out, a, async_op):
        if async_op:
            return _Work(self.comm.Iallgather(a, out))
        self.comm.Allgather(a, out)
        return _Work()

    def gather(self, a, outs, dst, async_op):
        buf = np.empty((self.world_size,) + a.shape, a.dtype) if self.rank == dst else None
        self.comm.Gather(a, buf, root=dst)
        if buf is not None:
            for o, b in zip(outs, buf):
                o[...] = b
        return _Work()

    def scatter(self, out, ins, src, async_op):
        buf = np.ascontiguousarray(np.stack(ins)) if self.rank == src else None
        self.comm.Scatter(buf, out, root=src)
        return _Work()

    def send(self, a, dst):
        self.comm.Send(a, dest=dst)

    def recv(self, a, src):
        self.comm.Recv(a, source=src)

    def abort(self, line, announce=True):
        """End every rank now: the launcher kills the others when one calls MPI_Abort."""
        self.MPI.COMM_WORLD.Abort(1)

    def destroy(self):
        pass
