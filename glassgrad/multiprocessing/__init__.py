"""Python's multiprocessing with tensors that travel through shared memory, as ``torch.multiprocessing``.

A tensor sent to another process (a ``Process`` argument under the spawn start method, an item on
a ``Queue``) is moved into shared memory first, and the receiver maps the same memory: writes on
either side are seen by both, which is what Hogwild training needs. ``spawn(fn, args, nprocs)``
starts ``fn(i, *args)`` in ``nprocs`` processes and re-raises a child's error in the parent,
naming its rank.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import sys
import time
import traceback
from multiprocessing import (
    Manager,
    Pipe,
    Pool,
    Process,
    Queue,
    SimpleQueue,
    cpu_count,
    current_process,
    get_all_start_methods,
    get_context,
    get_start_method,
    set_start_method,
)

from glassgrad.backend import shared
from glassgrad.multiprocessing import reductions

__all__ = [
    "Manager",
    "Pipe",
    "Pool",
    "Process",
    "ProcessContext",
    "ProcessException",
    "ProcessExitedException",
    "ProcessRaisedException",
    "Queue",
    "SimpleQueue",
    "cpu_count",
    "current_process",
    "get_all_start_methods",
    "get_context",
    "get_start_method",
    "set_start_method",
    "spawn",
    "start_processes",
]

reductions.init_reductions()


class ProcessException(Exception):
    """A child of ``spawn`` failed; ``error_index`` is its rank, ``pid`` its process id."""

    def __init__(self, msg: str, error_index: int, pid: int):
        super().__init__(msg)
        self.msg, self.error_index, self.pid = msg, error_index, pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid)


class ProcessRaisedException(ProcessException):
    """A child raised an exception; the message holds its traceback."""


class ProcessExitedException(ProcessException):
    """A child exited with a non-zero code or was killed by a signal."""

    def __init__(self, msg, error_index, error_pid, exit_code, signal_name=None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code, self.signal_name = exit_code, signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid, self.exit_code, self.signal_name)


def _wrap(fn, i, args, error_queue):
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass
    except Exception:
        error_queue.put(traceback.format_exc())
        sys.exit(1)


class ProcessContext:
    """The processes of one ``spawn``; ``join`` waits for them and raises the first failure."""

    def __init__(self, processes, error_queues):
        self.processes = processes
        self.error_queues = error_queues
        self.sentinels = {p.sentinel: i for i, p in enumerate(processes)}

    def pids(self):
        return [p.pid for p in self.processes]

    def join(self, timeout: float | None = None, grace_period: float = 5.0) -> bool:
        """Wait up to ``timeout`` seconds; True once every process exited cleanly. When one
        fails the others are terminated (SIGTERM, then SIGKILL after ``grace_period``) and its
        error is raised as ProcessRaisedException or ProcessExitedException."""
        if not self.sentinels:
            return True
        ready = multiprocessing.connection.wait(list(self.sentinels), timeout=timeout)
        failed = None
        for sentinel in ready:
            i = self.sentinels.pop(sentinel)
            p = self.processes[i]
            p.join()
            if p.exitcode != 0 and failed is None:
                failed = i
        if failed is None:
            return not self.sentinels
        self._stop_others(grace_period)
        p = self.processes[failed]
        if not self.error_queues[failed].empty():
            trace = self.error_queues[failed].get()
            raise ProcessRaisedException(
                f"\n\n-- Process {failed} terminated with the following error:\n{trace}", failed, p.pid
            )
        if p.exitcode < 0:
            name = signal.Signals(-p.exitcode).name
            raise ProcessExitedException(
                f"process {failed} terminated with signal {name}", failed, p.pid, p.exitcode, name
            )
        raise ProcessExitedException(
            f"process {failed} terminated with exit code {p.exitcode}", failed, p.pid, p.exitcode
        )

    def _stop_others(self, grace_period):
        alive = [p for p in self.processes if p.is_alive()]
        for p in alive:
            p.terminate()
        deadline = time.monotonic() + grace_period
        for p in alive:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join()
        self.sentinels.clear()


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Run ``fn(i, *args)`` for i in 0..nprocs-1, each in its own process started by ``start_method``.

    With ``join`` waits for all and returns None; otherwise returns the ProcessContext.
    """
    if nprocs < 1:
        raise ValueError(f"nprocs={nprocs}: start at least one process")
    shared.sweep()  # what earlier runs killed by a signal left in /dev/shm
    ctx = get_context(start_method)
    processes, queues = [], []
    for i in range(nprocs):
        q = ctx.SimpleQueue()
        p = ctx.Process(target=_wrap, args=(fn, i, args, q), daemon=daemon)
        p.start()
        processes.append(p)
        queues.append(q)
    context = ProcessContext(processes, queues)
    if not join:
        return context
    while not context.join():
        pass
    return None


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """``start_processes`` with the spawn start method (fresh interpreters, as torch's ``spawn``)."""
    return start_processes(fn, args, nprocs, join, daemon, start_method)
