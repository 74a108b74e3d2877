"""How a worker hands a batch to the main process: large arrays through reused shared-memory slots.

Each worker owns a ring of slot files in a private folder of ``/dev/shm``, mapped into memory on
both sides. A batch's large arrays are copied into the worker's next slot, the message through the
result queue carries only their offsets, dtypes and shapes, and the main process copies them out
as soon as the message arrives. Reusing slots matters: a fresh shared-memory file per batch costs
page allocation and zeroing on every batch (about 4 ms for 1.5 MB here, ten times the copies).

A slot is written again only after the main process has copied it: the loader never has more
than ``in_flight`` tasks outstanding (sent but not received), so with ``in_flight + 1`` slots the
oldest slot of a worker was always received before the worker comes back to it.
"""

import mmap
import os
import queue
import struct
import time
from multiprocessing.reduction import ForkingPickler

import numpy as np

from glassgrad.tensor import Tensor

# Smaller arrays are pickled into the message itself.
MIN_BYTES = 1 << 16
_ALIGN = 64


class _Boxed:
    """A Tensor or array in transit: ``array`` inline, or ``(slot, offset, dtype, shape)`` in a slot."""

    __slots__ = ("array", "slot", "offset", "dtype", "shape", "is_tensor")

    def __init__(self, array, slot, offset, dtype, shape, is_tensor):
        self.array, self.slot, self.offset = array, slot, offset
        self.dtype, self.shape, self.is_tensor = dtype, shape, is_tensor

    def __reduce__(self):
        return _Boxed, (self.array, self.slot, self.offset, self.dtype, self.shape, self.is_tensor)


def _large(array):
    return array.nbytes >= MIN_BYTES and not array.dtype.hasobject


def _arrays(obj, found):
    if isinstance(obj, Tensor):
        obj = obj.array
    if isinstance(obj, np.ndarray):
        if _large(obj):
            found.append(obj)
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            _arrays(o, found)
    elif isinstance(obj, dict):
        for o in obj.values():
            _arrays(o, found)
    return found


class SlotWriter:
    """The worker's ring of ``count`` slot files in ``folder``."""

    def __init__(self, folder, worker_id, count):
        self.paths = [os.path.join(folder, f"worker{worker_id}-slot{k}") for k in range(count)]
        self.maps = [None] * count
        self.next = 0

    def _reserve(self, nbytes):
        k = self.next
        self.next = (self.next + 1) % len(self.paths)
        current = self.maps[k]
        if current is None or len(current) < nbytes:
            if current is not None:
                current.close()
            fd = os.open(self.paths[k], os.O_RDWR | os.O_CREAT, 0o600)
            try:
                os.ftruncate(fd, nbytes)
                self.maps[k] = mmap.mmap(fd, nbytes)
            finally:
                os.close(fd)
        return k

    def box(self, obj):
        """``obj`` with its large arrays copied into the next slot, ready to pickle."""
        arrays = _arrays(obj, [])
        total = sum(-(-a.nbytes // _ALIGN) * _ALIGN for a in arrays)
        if not total:
            return box_inline(obj)
        k = self._reserve(total)
        cursor = [0]
        return self._box(obj, k, self.maps[k], cursor)

    def _box(self, obj, k, mm, cursor):
        if isinstance(obj, (Tensor, np.ndarray)):
            is_tensor = isinstance(obj, Tensor)
            array = obj.array if is_tensor else obj
            if not _large(array):
                return _Boxed(array, None, None, None, None, is_tensor)
            offset = cursor[0]
            np.frombuffer(mm, array.dtype, array.size, offset).reshape(array.shape)[...] = array
            cursor[0] += -(-array.nbytes // _ALIGN) * _ALIGN
            return _Boxed(None, k, offset, array.dtype.str, array.shape, is_tensor)
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):
            return type(obj)(*(self._box(o, k, mm, cursor) for o in obj))
        if isinstance(obj, (tuple, list)):
            return type(obj)(self._box(o, k, mm, cursor) for o in obj)
        if isinstance(obj, dict):
            return {key: self._box(v, k, mm, cursor) for key, v in obj.items()}
        return obj


def box_inline(obj):
    """``obj`` with Tensors replaced by their arrays, for pickling whole (no shared memory)."""
    if isinstance(obj, Tensor):
        return _Boxed(obj.array, None, None, None, None, True)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(box_inline(o) for o in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(box_inline(o) for o in obj)
    if isinstance(obj, dict):
        return {k: box_inline(v) for k, v in obj.items()}
    return obj


class SlotReader:
    """The main process's view of the workers' slots: ``unbox`` copies a batch out of them."""

    def __init__(self, folder, worker_id, count):
        self.paths = [os.path.join(folder, f"worker{worker_id}-slot{k}") for k in range(count)]
        self.maps = [None] * count

    def _map(self, k, end):
        current = self.maps[k]
        if current is None or len(current) < end:
            if current is not None:
                current.close()
            fd = os.open(self.paths[k], os.O_RDONLY)
            try:
                self.maps[k] = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
            finally:
                os.close(fd)
        return self.maps[k]

    def close(self):
        for m in self.maps:
            if m is not None:
                m.close()
        self.maps = [None] * len(self.maps)


def unbox(obj, reader=None):
    """The batch with its Tensors and arrays back, copied out of the slots (which may then be reused)."""
    if isinstance(obj, _Boxed):
        array = obj.array
        if obj.slot is not None:
            dtype = np.dtype(obj.dtype)
            count = int(np.prod(obj.shape, dtype=np.int64))
            mm = reader._map(obj.slot, obj.offset + count * dtype.itemsize)
            array = np.frombuffer(mm, dtype, count, obj.offset).reshape(obj.shape).copy()
        return Tensor._wrap(array) if obj.is_tensor else array
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(unbox(o, reader) for o in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(unbox(o, reader) for o in obj)
    if isinstance(obj, dict):
        return {k: unbox(v, reader) for k, v in obj.items()}
    return obj


class ResultPipe:
    """Workers -> main process: a pipe with a lock for the writers, and no feeder thread.

    ``multiprocessing.Queue`` sends from a background thread, which in a busy worker waits for
    the GIL (up to the 5 ms switch interval) before each batch goes out; here the worker writes
    the message itself, framed by its length. The main process reads whatever bytes have arrived
    and waits with a deadline, so a worker killed halfway through a message leaves a partial frame
    behind, never a blocked read; a worker waiting for the lock that a dead one holds gives up
    when ``give_up()`` says so.
    """

    _HEADER = struct.Struct("!Q")

    def __init__(self, ctx):
        self._reader, self._writer = ctx.Pipe(duplex=False)
        self._lock = ctx.Lock()
        self._buffer = bytearray()

    def put(self, obj, give_up=None):
        data = ForkingPickler.dumps(obj)
        while not self._lock.acquire(timeout=0.5):
            if give_up is not None and give_up():
                raise BrokenPipeError("gave up waiting for the result pipe")
        try:
            view = memoryview(self._HEADER.pack(len(data)) + data)
            fd = self._writer.fileno()
            while view:
                view = view[os.write(fd, view) :]
        finally:
            self._lock.release()

    def _frame(self):
        if len(self._buffer) < self._HEADER.size:
            return None
        (size,) = self._HEADER.unpack_from(self._buffer)
        end = self._HEADER.size + size
        if len(self._buffer) < end:
            return None
        data = bytes(self._buffer[self._HEADER.size : end])
        del self._buffer[:end]
        return data

    def get(self, timeout):
        """The next message; ``queue.Empty`` after ``timeout`` seconds, EOFError once every writer is gone."""
        deadline = time.monotonic() + timeout
        fd = self._reader.fileno()
        while True:
            data = self._frame()
            if data is not None:
                return ForkingPickler.loads(data)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._reader.poll(remaining):
                raise queue.Empty
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise EOFError("every writer of the result pipe is gone")
            self._buffer += chunk

    def close_reader(self):
        """In a worker: so that a dead main process shows as a broken pipe, not a blocked write."""
        self._reader.close()

    def close_writer(self):
        """In the main process once the workers have started: so that their deaths show as EOF."""
        self._writer.close()

    def close(self):
        for end in (self._reader, self._writer):
            if not end.closed:
                end.close()
