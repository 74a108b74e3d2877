"""The gloo engine: torch.distributed's gloo backend over zero-copy ``torch.from_numpy`` views."""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import time

import numpy as np

from glassgrad.distributed import _faults


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
    def __init__(self, work, after=None, engine=None, what=""):
        self._work, self._after = work, after
        self._engine, self._what = engine, what

    def wait(self, timeout=None):
        if self._work is not None:
            with self._engine.guard(self._what):
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
        self.timeout, self.global_rank = timeout, self.td.get_rank()
        self.store, self.peers = None, {}
        if group is None:
            self._publish_peers()

    def _publish_peers(self):
        """Tell every rank where this one runs, so that a peer killed by a signal can be named."""
        try:
            self.store = self.td.distributed_c10d._get_default_store()
            self.store.set(f"glassgrad/peer/{self.rank}", f"{socket.gethostname()} {os.getpid()}")
            for r in range(self.world_size):
                host, pid = self.store.get(f"glassgrad/peer/{r}").decode().split()
                self.peers[r] = (host, int(pid))
        except Exception:  # a store without these calls: failures are then named by address only
            self.store = None

    def _explain(self, what, error):
        """Why ``what`` failed: the rank that announced its failure, else the local rank whose process is gone."""
        # gloo's first sentence names the peer's address; the rest is generic advice.
        gloo = (str(error).strip().splitlines() or [type(error).__name__])[0].split(". This is typically")[0]
        failed, why = None, None
        if self.store is not None:
            try:
                self.store.set_timeout(datetime.timedelta(seconds=2))
                if self.store.check([_faults._FAILED_KEY]):
                    why = self.store.get(_faults._FAILED_KEY).decode()
                    failed = int(why.split()[1])
                    self.store.add(_faults._ACKS_KEY, 1)
            except Exception:
                pass  # the store lived in the process that is gone
        if failed is None:
            here = socket.gethostname()
            local = {r: pid for r, (host, pid) in self.peers.items() if host == here and r != self.global_rank}
            # A killed process closes its sockets while it is still being torn down: give it a moment.
            deadline = time.monotonic() + 1.0
            while True:
                gone = [r for r, pid in local.items() if not _faults.pid_alive(pid)]
                if gone or not local or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            if gone:
                failed = gone[0]
                why = ", ".join(f"rank {r} (pid {self.peers[r][1]})" for r in gone) + " is gone"
        if why:
            cause = f"because {why}"
        elif "timed out" in gloo.lower():
            cause = f"because a peer did not answer within the timeout ({self.timeout:g} s)"
        else:
            cause = "because a peer failed or is gone"
        return _faults.DistBackendError(
            f"glassgrad.distributed: {what} on rank {self.global_rank} failed {cause} (gloo: {gloo})", failed
        )

    @contextlib.contextmanager
    def guard(self, what):
        """Turn gloo's error about a lost peer into one naming the peer's rank."""
        try:
            yield
        except RuntimeError as error:
            if isinstance(error, _faults.DistBackendError):
                raise
            raise self._explain(what, error) from error

    def abort(self, line, announce=True):
        """Announce this rank's failure (``line``) to the others, then close every connection."""
        if announce and self.store is not None:
            try:
                if not self.store.check([_faults._FAILED_KEY]):
                    self.store.set(_faults._FAILED_KEY, line.split(": ", 1)[1])
            except Exception:
                pass
        self.destroy()
        # Rank 0 hosts the store unless torchrun's agent does: keep it up until the peers have read it.
        hosts_store = self.rank == 0 and os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True"
        if announce and self.store is not None and hosts_store:
            _faults.wait_for_acks(self.store, self.world_size - 1, min(5.0, self.timeout))

    def new(self, ranks):
        g = self.td.new_group(ranks)
        if self.td.get_rank() not in ranks:
            return None
        eng = GlooEngine.__new__(GlooEngine)
        eng.torch, eng.td, eng.group = self.torch, self.td, g
        eng.rank, eng.world_size = self.td.get_rank(g), len(ranks)
        # Failures are explained with the world's store and peers (ranks in the messages are global).
        eng.timeout, eng.global_rank, eng.store, eng.peers = self.timeout, self.global_rank, self.store, self.peers
        return eng

    def _t(self, a):
        return self.torch.from_numpy(a)

    def _op(self, op):
        return getattr(self.td.ReduceOp, _OPS[op])

    def _global(self, r):
        return r if self.group is None else self.td.get_global_rank(self.group, r)

    def _call(self, what, fn, *args, after=None, **kwargs):
        """Run one torch.distributed call, its errors explained; a work handle for async ones."""
        with self.guard(what):
            w = fn(*args, group=self.group, **kwargs)
        return _Work(w, after, self, what)

    def barrier(self):
        self._call("barrier", self.td.barrier)

    def broadcast(self, a, src, async_op):
        return self._call("broadcast", self.td.broadcast, self._t(a), self._global(src), async_op=async_op)

    def all_reduce(self, a, op, async_op):
        avg = op == "avg"
        after = (lambda: np.divide(a, self.world_size, out=a, casting="unsafe")) if avg else None
        work = self._call(
            "all_reduce", self.td.all_reduce, self._t(a), self._op("sum" if avg else op), after=after, async_op=async_op
        )
        if not async_op:
            work.wait()
        return work

    def reduce(self, a, dst, op, async_op):
        avg = op == "avg"
        after = (lambda: np.divide(a, self.world_size, out=a, casting="unsafe")) if avg and self.rank == dst else None
        work = self._call(
            "reduce",
            self.td.reduce,
            self._t(a),
            self._global(dst),
            self._op("sum" if avg else op),
            after=after,
            async_op=async_op,
        )
        if not async_op:
            work.wait()
        return work

    def all_gather_into(self, out, a, async_op):
        # Flat views: gloo wants the output's first dimension to be world_size times the input's.
        flat_out, flat_in = self._t(out.reshape(-1)), self._t(a.reshape(-1))
        return self._call("all_gather", self.td.all_gather_into_tensor, flat_out, flat_in, async_op=async_op)

    def gather(self, a, outs, dst, async_op):
        lst = [self._t(o) for o in outs] if outs is not None else None
        return self._call("gather", self.td.gather, self._t(a), lst, self._global(dst), async_op=async_op)

    def scatter(self, out, ins, src, async_op):
        lst = [self._t(i) for i in ins] if ins is not None else None
        return self._call("scatter", self.td.scatter, self._t(out), lst, self._global(src), async_op=async_op)

    def send(self, a, dst):
        self._call("send", self.td.send, self._t(a), self._global(dst))

    def recv(self, a, src):
        self._call("recv", self.td.recv, self._t(a), self._global(src))

    def destroy(self):
        if self.group is None and self.td.is_initialized():
            self.td.destroy_process_group()
