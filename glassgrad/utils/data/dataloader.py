"""DataLoader: batches from a dataset, built in this process or prefetched by worker processes."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from glassgrad import random as _random
from glassgrad.backend import shared
from glassgrad.utils.data import _transfer, _worker
from glassgrad.utils.data.collate import default_collate, default_convert
from glassgrad.utils.data.dataset import IterableDataset
from glassgrad.utils.data.sampler import BatchSampler, RandomSampler, SequentialSampler

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from glassgrad.random import Generator
    from glassgrad.utils.data.dataset import Dataset
    from glassgrad.utils.data.sampler import Sampler

_POLL_S = 1.0  # how often a waiting main process checks that its workers are alive


_SHM_ROOT = "/dev/shm"
_SHM_PREFIX = shared.LOADER_PREFIX
_live_shm_dirs: set = set()
_previous_sigterm = None


def _on_sigterm(signum, frame):
    for folder in list(_live_shm_dirs):
        shutil.rmtree(folder, ignore_errors=True)
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    # Die of the signal as before, so that the exit status still says SIGTERM.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _remove_on_sigterm():
    """Clean the live folders on SIGTERM too (where this is the main thread and nobody else handles it)."""
    global _previous_sigterm
    if threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGTERM)
    if current is _on_sigterm or current is None or current is signal.SIG_IGN:
        return
    _previous_sigterm = current
    signal.signal(signal.SIGTERM, _on_sigterm)


def _forget_shm_dir(folder):
    _live_shm_dirs.discard(folder)
    shutil.rmtree(folder, ignore_errors=True)


def _shared_memory_dir():
    """A private folder in RAM (/dev/shm) for the batches workers hand over, or None where there is none.

    Named after this process's pid and pid namespace, so that the next loader (``shared.sweep``)
    can tell and delete a dead process's folder.
    """
    if not os.path.isdir(_SHM_ROOT) or not os.access(_SHM_ROOT, os.W_OK):
        return None
    shared.sweep(_SHM_ROOT)
    try:
        folder = tempfile.mkdtemp(prefix=f"{_SHM_PREFIX}{os.getpid()}-{shared.NAMESPACE}-", dir=_SHM_ROOT)
    except OSError:
        return None
    _live_shm_dirs.add(folder)
    _remove_on_sigterm()
    return folder


class _InfiniteConstantSampler:
    def __iter__(self) -> Iterator[Any]:
        return itertools.repeat(None)


class DataLoader:
    """Iterate over ``dataset`` in batches (PyTorch's ``torch.utils.data.DataLoader``).

    Args:
        dataset: a map-style ``Dataset`` (``__getitem__`` and ``__len__``) or an ``IterableDataset``.
        batch_size (int or None): samples per batch (1); ``None`` yields samples one by one, unbatched.
        shuffle (bool): a new random order every epoch (through a ``RandomSampler``).
        sampler, batch_sampler: the order of indices, or of lists of indices, instead of ``shuffle``.
        num_workers (int): 0 builds batches in this process; ``n > 0`` starts ``n`` worker processes
            that build batches ahead of time (``prefetch_factor`` each, 2 by default) and hands them
            out in order.
        collate_fn: turns a list of samples into a batch (``default_collate``).
        pin_memory, pin_memory_device: accepted for compatibility and ignored (there is no GPU).
        drop_last (bool): drop the last, incomplete batch.
        timeout (float): seconds to wait for a worker's batch before raising (0: wait for ever).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker when it starts.
        multiprocessing_context: ``"fork"`` (Linux default), ``"spawn"``, ``"forkserver"`` or a context.
        generator (glassgrad.Generator): the source of the shuffle and of the per-epoch base seed.
        persistent_workers (bool): keep the workers alive between epochs.
        in_order (bool): deliver batches in sampler order (default); ``False`` hands out whichever is ready.

    Randomness: each epoch draws a base seed from ``generator`` (or from the global generator that
    ``glassgrad.manual_seed`` seeds). Batch ``k`` of a map-style dataset is built with the global random
    streams (glassgrad's, Python's ``random``, NumPy's ``np.random``) seeded from (base seed, k), in the
    main process as in a worker; so random augmentation gives the same batches for any ``num_workers``,
    and building batches in the main process does not disturb its own random stream.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable[Any] | None = None,
        batch_sampler: Sampler | Iterable[list[int]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative integer, got {num_workers!r}")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be non-negative, got {timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor only applies with num_workers > 0; leave it unset")
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError(f"DataLoader: prefetch_factor must be at least 1, got {prefetch_factor}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers needs num_workers > 0")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = (2 if prefetch_factor is None else prefetch_factor) if num_workers > 0 else None
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.multiprocessing_context = multiprocessing_context
        self._is_iterable = isinstance(dataset, IterableDataset)

        if self._is_iterable:
            if shuffle:
                raise ValueError("DataLoader: shuffle=True does not apply to an IterableDataset; shuffle inside it")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader: an IterableDataset takes no sampler or batch_sampler")
            sampler = _InfiniteConstantSampler()
        else:
            if shuffle and sampler is not None:
                raise ValueError("DataLoader: give either shuffle=True or a sampler, not both")
            if sampler is None:
                sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_sampler is not None:
            if (
                batch_size != 1
                or shuffle
                or sampler is not None
                and not isinstance(sampler, (SequentialSampler, _InfiniteConstantSampler))
                or drop_last
            ):
                raise ValueError(
                    "DataLoader: batch_sampler already decides batch_size, shuffle, sampler and drop_last; "
                    "leave those at their defaults"
                )
            batch_size, drop_last = None, False
        elif batch_size is not None and not self._is_iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._iterator: _MultiProcessIter | None = None

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None or (self._is_iterable and self.batch_size is not None)

    @property
    def _index_sampler(self):
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def __len__(self) -> int:
        if self._is_iterable:
            n = len(self.dataset)  # type: ignore[arg-type]  # a map-style dataset defines __len__
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def _mp_context(self):
        ctx = self.multiprocessing_context
        if ctx is None:
            methods = multiprocessing.get_all_start_methods()
            ctx = "fork" if "fork" in methods and sys.platform != "darwin" else "spawn"
        return multiprocessing.get_context(ctx) if isinstance(ctx, str) else ctx

    def __iter__(self) -> Iterator[Any]:
        base_seed = int(_random.integers(0, 2**63 - 1, (), self.generator))
        if self.num_workers == 0:
            return _SingleProcessIter(self, base_seed)
        if self.persistent_workers:
            if self._iterator is None or self._iterator._closed:
                self._iterator = _MultiProcessIter(self, base_seed)
            else:
                self._iterator._reset(self, base_seed)
            return self._iterator
        return _MultiProcessIter(self, base_seed)


class _SingleProcessIter:
    def __init__(self, loader: Any, base_seed: Any) -> None:
        self._loader = loader
        self._base_seed = base_seed
        self._indices = iter(loader._index_sampler)
        self._stream = iter(loader.dataset) if loader._is_iterable else None
        self._position = 0

    def __iter__(self) -> Iterator[Any]:
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def __next__(self):
        loader = self._loader
        if self._stream is not None:
            batch = _worker._next_stream_batch(
                self._stream, loader.batch_size, loader.drop_last, loader.collate_fn, loader._auto_collation
            )
            if isinstance(batch, _worker.IterableEnd):
                raise StopIteration
            return _transfer.unbox(batch)
        indices = next(self._indices)
        with _worker.seeded_rngs(_worker.batch_seed(self._base_seed, self._position)):
            batch = _worker.fetch(loader.dataset, indices, loader.collate_fn, loader._auto_collation)
        self._position += 1
        return batch


class _MultiProcessIter:
    """Hands tasks round-robin to the workers, keeps ``prefetch_factor`` per worker in flight, reorders results."""

    def __init__(self, loader: Any, base_seed: Any) -> None:
        self._closed = False
        self._num_workers = loader.num_workers
        self._timeout = loader.timeout
        self._in_order = loader.in_order
        self._persistent = loader.persistent_workers
        self._is_iterable = loader._is_iterable
        ctx = loader._mp_context()
        self._result_queue = _transfer.ResultPipe(ctx)
        self._done_event = ctx.Event()
        self._shm_dir = _shared_memory_dir()
        if self._shm_dir is not None:
            # Removed at garbage collection or at interpreter exit, whichever comes first.
            weakref.finalize(self, _forget_shm_dir, self._shm_dir)
        # Tasks in flight never exceed num_workers * prefetch_factor; in order, round-robin, a worker
        # has at most prefetch_factor of them (see _transfer for why this bounds the slots).
        in_flight = loader.prefetch_factor * (self._num_workers if self._is_iterable or not self._in_order else 1)
        slots = in_flight + 1
        self._readers = (
            [_transfer.SlotReader(self._shm_dir, w, slots) for w in range(self._num_workers)] if self._shm_dir else None
        )
        self._index_queues = []
        self._workers = []
        for worker_id in range(self._num_workers):
            index_queue = ctx.Queue()
            # The main process must never block on exit because a task was not read.
            index_queue.cancel_join_thread()
            process = ctx.Process(
                target=_worker.worker_loop,
                args=(
                    loader.dataset, index_queue, self._result_queue, self._done_event, loader.collate_fn,
                    loader._auto_collation, loader.batch_size, loader.drop_last, (base_seed + worker_id) % 2**63,
                    loader.worker_init_fn, worker_id, self._num_workers, os.getpid(), self._is_iterable, self._shm_dir, slots,
                ),
                daemon=True,
            )  # fmt: skip
            process.start()
            self._index_queues.append(index_queue)
            self._workers.append(process)
        self._result_queue.close_writer()
        self._iteration = -1
        self._reset(loader, base_seed)

    def _reset(self, loader, base_seed):
        self._loader = loader
        self._base_seed = base_seed
        self._iteration += 1
        self._indices = iter(loader._index_sampler)
        self._send_position = 0
        self._next_position = 0
        self._pending = {}  # position -> worker id, for the tasks in flight
        self._ready = {}  # position -> result that came early
        self._active = [True] * self._num_workers
        self._next_worker = itertools.cycle(range(self._num_workers))
        if self._is_iterable:
            for q in self._index_queues:
                q.put((self._iteration, None, None, "reset"))
        for _ in range(self._num_workers * loader.prefetch_factor):
            self._send_task()

    def __iter__(self) -> Iterator[Any]:
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def _send_task(self):
        if not any(self._active):
            return
        if self._is_iterable:
            task_indices, seed = "next", None
        else:
            task_indices = next(self._indices, None)
            if task_indices is None:
                return
            seed = _worker.batch_seed(self._base_seed, self._send_position)
        worker_id = next(self._next_worker)
        while not self._active[worker_id]:
            worker_id = next(self._next_worker)
        self._index_queues[worker_id].put((self._iteration, self._send_position, seed, task_indices))
        self._pending[self._send_position] = worker_id
        self._send_position += 1

    def __next__(self):
        try:
            position, batch = self._take()
            self._send_task()
            if isinstance(batch, _worker.ExceptionWrapper):
                batch.reraise()
            return batch
        except StopIteration:
            if not self._persistent:
                self._shutdown()
            raise
        except BaseException:
            # A dead or stuck worker must not delay the error by the full grace period.
            self._shutdown(grace_s=1.0)
            raise

    def _take(self):
        """The next result to hand out: in order, or (``in_order=False``) the first that arrives."""
        while True:
            if self._in_order:
                if self._next_position in self._ready:
                    position = self._next_position
                    self._next_position += 1
                    return position, self._ready.pop(position)
                if not self._pending and not self._ready:
                    raise StopIteration
                if self._next_position not in self._pending:
                    # A slot that an exhausted IterableDataset worker will never fill.
                    self._next_position += 1
                    continue
            else:
                if self._ready:
                    position = next(iter(self._ready))
                    return position, self._ready.pop(position)
                if not self._pending:
                    raise StopIteration
            iteration, position, batch = self._receive()
            if iteration != self._iteration or position not in self._pending:
                continue  # left over from an epoch that was abandoned
            worker_id = self._pending.pop(position)
            if isinstance(batch, _worker.IterableEnd):
                self._active[worker_id] = False
                self._send_task()
                continue
            if not isinstance(batch, _worker.ExceptionWrapper):
                # Copied out now, so that the worker may reuse its slot.
                batch = _transfer.unbox(batch, self._readers[worker_id] if self._readers else None)
            self._ready[position] = batch

    def _receive(self):
        waited = 0.0
        while True:
            wait = _POLL_S if not self._timeout else min(_POLL_S, self._timeout - waited)
            start = time.monotonic()
            try:
                return self._result_queue.get(timeout=max(wait, 0.01))
            except EOFError:
                time.sleep(0.01)  # every worker is gone: reported below once they have exited
            except queue.Empty:
                waited += time.monotonic() - start
            dead = [w for w in self._workers if not w.is_alive()]
            if dead:
                codes = ", ".join(f"pid {w.pid} exit code {w.exitcode}" for w in dead)
                raise RuntimeError(
                    f"DataLoader worker(s) exited unexpectedly ({codes}); a negative code is the signal that killed "
                    "it (-9, SIGKILL, is often the out-of-memory killer). Run with num_workers=0 to see the error here"
                )
            if self._timeout and waited >= self._timeout:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds waiting for a batch")

    def _shutdown(self, grace_s=5.0):
        if self._closed:
            return
        self._closed = True
        try:
            self._done_event.set()
            for q in self._index_queues:
                try:
                    q.put(None)
                except (OSError, ValueError):
                    pass
            deadline = time.monotonic() + grace_s
            for w in self._workers:
                w.join(timeout=max(0.0, deadline - time.monotonic()))
            for w in self._workers:
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=1.0)
            for q in self._index_queues:
                q.cancel_join_thread()
                q.close()
            self._result_queue.close()
            for reader in self._readers or ():
                reader.close()
            if self._shm_dir is not None:
                _forget_shm_dir(self._shm_dir)
        except Exception:
            # Shutting down during interpreter exit: the daemonic workers die with us anyway.
            pass

    def __del__(self):
        self._shutdown()
