"""What runs inside a DataLoader worker process, and the seeding shared with the main process.

Repeatability across ``num_workers``: every batch of a map-style dataset is built under its
own seed, ``batch_seed(base_seed, batch_index)``, installed into glassgrad's global generator
(and Python's ``random`` and NumPy's legacy ``np.random``) just for the time it takes to build
that batch. The loader draws ``base_seed`` from its ``generator`` (or the global one) once per
epoch, so batch ``k`` of an epoch is the same bytes whichever process builds it, whether the
loader has 0 workers or 8.
"""

import os
import queue
import random as _pyrandom
import signal
import sys
import traceback
from contextlib import contextmanager

import numpy as np

from glassgrad import random as _random
from glassgrad.tensor import Tensor


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


# Arrays at least this large travel through a file in shared memory (/dev/shm) instead of the
# result pipe: one copy in, one copy out, instead of pickling through a 64 KiB pipe buffer.
SHM_MIN_BYTES = 1 << 16


class _Boxed:
    """A Tensor or array on its way between processes: inline, or as a file in ``shm_dir``."""

    __slots__ = ("array", "path", "dtype", "shape", "is_tensor")

    def __init__(self, array, path, dtype, shape, is_tensor):
        self.array, self.path, self.dtype, self.shape, self.is_tensor = array, path, dtype, shape, is_tensor

    def __reduce__(self):
        return _Boxed, (self.array, self.path, self.dtype, self.shape, self.is_tensor)


_file_counter = 0


def _box_array(array, is_tensor, shm_dir):
    global _file_counter
    if shm_dir is None or array.nbytes < SHM_MIN_BYTES or array.dtype.hasobject:
        return _Boxed(array, None, None, None, is_tensor)
    _file_counter += 1
    path = os.path.join(shm_dir, f"{os.getpid()}-{_file_counter}")
    array.tofile(path)
    return _Boxed(None, path, array.dtype.str, array.shape, is_tensor)


def box(obj, shm_dir=None):
    """Replace the Tensors and arrays in a batch by ``_Boxed`` leaves, ready to pickle."""
    if isinstance(obj, Tensor):
        return _box_array(obj.array, True, shm_dir)
    if isinstance(obj, np.ndarray):
        return _box_array(obj, False, shm_dir)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(box(o, shm_dir) for o in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(box(o, shm_dir) for o in obj)
    if isinstance(obj, dict):
        return {k: box(v, shm_dir) for k, v in obj.items()}
    return obj


def unbox(obj):
    """The batch a worker boxed, with its Tensors and arrays back (their shared-memory files removed)."""
    if isinstance(obj, _Boxed):
        array = obj.array
        if obj.path is not None:
            array = np.fromfile(obj.path, np.dtype(obj.dtype)).reshape(obj.shape)
            os.unlink(obj.path)
        return Tensor._wrap(array) if obj.is_tensor else array
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(unbox(o) for o in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(unbox(o) for o in obj)
    if isinstance(obj, dict):
        return {k: unbox(v) for k, v in obj.items()}
    return obj


def discard(obj):
    """Remove the shared-memory files of a boxed batch nobody will read."""
    if isinstance(obj, _Boxed):
        if obj.path is not None and os.path.exists(obj.path):
            os.unlink(obj.path)
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            discard(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            discard(o)


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
    init_fn, worker_id, num_workers, parent_pid, is_iterable, shm_dir=None,
):  # fmt: skip
    """Serve tasks until told to stop: ``(iteration, position, seed, indices)`` -> ``(iteration, position, batch)``."""
    global _worker_info
    # Ctrl-C reaches the whole process group; the main process handles it and shuts us down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Never block exit on a result the main process will not read any more.
    result_queue.cancel_join_thread()
    _install_seed(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    init_error = None
    if init_fn is not None:
        try:
            init_fn(worker_id)
        except Exception:
            init_error = ExceptionWrapper(sys.exc_info(), f"in worker_init_fn of DataLoader worker {worker_id}")
    stream = None
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
            result_queue.put((iteration, position, init_error))
            continue
        try:
            if is_iterable:
                if indices == "reset":
                    stream = iter(dataset)
                    continue
                batch = _next_stream_batch(stream, batch_size, drop_last, collate_fn, auto_collation, shm_dir)
            else:
                with seeded_rngs(task_seed):
                    batch = box(fetch(dataset, indices, collate_fn, auto_collation), shm_dir)
        except Exception:
            batch = ExceptionWrapper(sys.exc_info(), f"in DataLoader worker {worker_id} (pid {os.getpid()})")
        result_queue.put((iteration, position, batch))
        del batch
    _worker_info = None


def _next_stream_batch(stream, batch_size, drop_last, collate_fn, auto_collation, shm_dir=None):
    if not auto_collation:
        try:
            return box(collate_fn(next(stream)), shm_dir)
        except StopIteration:
            return IterableEnd()
    samples = []
    for sample in stream:
        samples.append(sample)
        if len(samples) == batch_size:
            break
    if not samples or (drop_last and len(samples) < batch_size):
        return IterableEnd()
    return box(collate_fn(samples), shm_dir)
