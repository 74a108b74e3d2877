"""What runs inside a DataLoader worker process, and the seeding shared with the main process.

Repeatability across ``num_workers``: every batch of a map-style dataset is built under its
own seed, ``batch_seed(base_seed, batch_index)``, installed into glassgrad's global generator
(and Python's ``random`` and NumPy's legacy ``np.random``) just for the time it takes to build
that batch. The loader draws ``base_seed`` from its ``generator`` (or the global one) once per
epoch, so batch ``k`` of an epoch is the same bytes whichever process builds it, whether the
loader has 0 workers or 8.
"""

import ctypes
import os
import queue
import random as _pyrandom
import signal
import sys
import traceback
from contextlib import contextmanager

import numpy as np

from glassgrad import random as _random
from glassgrad.utils.data import _transfer


class WorkerInfo:
    """Returned by ``get_worker_info()`` inside a worker: ``id``, ``num_workers``, ``seed``, ``dataset``."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id = id
        self.num_workers = num_workers
        self.seed = seed
        self.dataset = dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_info = None


def get_worker_info():
    """A ``WorkerInfo`` inside a DataLoader worker process, ``None`` in the main process."""
    return _worker_info


def batch_seed(base_seed, batch_index):
    """The seed of batch ``batch_index`` of an epoch whose loader drew ``base_seed``.

    SeedSequence mixes the two numbers, so neighbouring batches get unrelated streams.
    """
    return int(np.random.SeedSequence([int(base_seed), int(batch_index)]).generate_state(1, np.uint64)[0])


def _install_seed(seed):
    gen = _random.default_generator
    gen._seed = seed
    gen.rng = np.random.default_rng(seed)
    _pyrandom.seed(seed)
    np.random.seed(seed % 2**32)


@contextmanager
def seeded_rngs(seed):
    """Run the body with the global random streams seeded by ``seed``, then put the old ones back."""
    gen = _random.default_generator
    saved = (gen._seed, gen.rng, _pyrandom.getstate(), np.random.get_state())
    _install_seed(seed)
    try:
        yield
    finally:
        gen._seed, gen.rng = saved[0], saved[1]
        _pyrandom.setstate(saved[2])
        np.random.set_state(saved[3])


def fetch(dataset, indices, collate_fn, auto_collation):
    """Build one batch: ``indices`` is a list of indices (``auto_collation``) or a single index."""
    if not auto_collation:
        return collate_fn(dataset[indices])
    getitems = getattr(dataset, "__getitems__", None)
    samples = getitems(indices) if getitems is not None else [dataset[i] for i in indices]
    return collate_fn(samples)


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process with its traceback as text."""

    def __init__(self, exc_info, where):
        self.exc_type = exc_info[0]
        self.message = f"Caught {exc_info[0].__name__} {where}.\nOriginal traceback:\n" + "".join(
            traceback.format_exception(*exc_info)
        )

    def reraise(self):
        try:
            error = self.exc_type(self.message)
        except Exception:
            error = RuntimeError(self.message)
        raise error


class IterableEnd:
    """Sent by a worker whose copy of an IterableDataset is exhausted."""


def worker_loop(
    dataset, index_queue, result_queue, done_event, collate_fn, auto_collation, batch_size, drop_last, seed,
    init_fn, worker_id, num_workers, parent_pid, is_iterable, shm_dir=None, slots=1,
):  # fmt: skip
    """Serve tasks until told to stop: ``(iteration, position, seed, indices)`` -> ``(iteration, position, batch)``."""
    global _worker_info
    # Ctrl-C reaches the whole process group; the main process handles it and shuts us down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent_pid)
    result_queue.close_reader()
    _keep_freed_memory()
    _install_seed(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    init_error = None
    if init_fn is not None:
        try:
            init_fn(worker_id)
        except Exception:
            init_error = ExceptionWrapper(sys.exc_info(), f"in worker_init_fn of DataLoader worker {worker_id}")
    writer = _transfer.SlotWriter(shm_dir, worker_id, slots) if shm_dir is not None else None
    pack = writer.box if writer is not None else _transfer.box_inline
    stream = None

    def give_up():
        return done_event.is_set() or os.getppid() != parent_pid

    while True:
        try:
            task = index_queue.get(timeout=1.0)
        except queue.Empty:
            if done_event.is_set() or os.getppid() != parent_pid:
                break
            continue
        except (EOFError, OSError):
            break
        if task is None or done_event.is_set():
            break
        iteration, position, task_seed, indices = task
        if init_error is not None:
            if not _send(result_queue, (iteration, position, init_error), give_up):
                break
            continue
        try:
            if is_iterable:
                if indices == "reset":
                    stream = iter(dataset)
                    continue
                batch = _next_stream_batch(stream, batch_size, drop_last, collate_fn, auto_collation, pack)
            else:
                with seeded_rngs(task_seed):
                    batch = pack(fetch(dataset, indices, collate_fn, auto_collation))
        except Exception:
            what = "" if is_iterable else f" fetching {'indices' if auto_collation else 'index'} {indices}"
            batch = ExceptionWrapper(sys.exc_info(), f"in DataLoader worker {worker_id} (pid {os.getpid()}){what}")
        if not _send(result_queue, (iteration, position, batch), give_up):
            break
        del batch
    _worker_info = None


def _die_with_parent(parent_pid):
    """Have the kernel kill this worker when the main process dies (Linux), so that none is orphaned.

    A worker stuck in a write or a lock never reaches the loop's own parent check.
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _keep_freed_memory():
    """Let glibc's malloc keep freed blocks of up to 64 MiB for reuse instead of unmapping them.

    A worker allocates and frees the same few megabytes for every batch; left to mmap/munmap,
    each batch page-faults its way through them again (measured: ~1,000 faults and twice the CPU
    time per CIFAR batch). Elsewhere than glibc this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def _send(result_queue, message, give_up=None):
    try:
        result_queue.put(message, give_up)
        return True
    except (BrokenPipeError, EOFError, OSError):
        return False  # the main process is gone


def _next_stream_batch(stream, batch_size, drop_last, collate_fn, auto_collation, pack=_transfer.box_inline):
    if not auto_collation:
        try:
            return pack(collate_fn(next(stream)))
        except StopIteration:
            return IterableEnd()
    samples = []
    for sample in stream:
        samples.append(sample)
        if len(samples) == batch_size:
            break
    if not samples or (drop_last and len(samples) < batch_size):
        return IterableEnd()
    return pack(collate_fn(samples))
