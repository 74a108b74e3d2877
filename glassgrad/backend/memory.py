"""A cache of large arrays: the memory of an activation or gradient that died goes to the next
op that asks for the same number of bytes, instead of back to the operating system.

Why: glibc's malloc gives blocks of megabytes back to the kernel when they are freed (unmapping
them, or trimming its heap), so the next array of that size starts as fresh pages, and the
first write to each 4 KiB page is a page fault that zeroes it. A training step frees and asks
for the same few dozen sizes every time, so thousands of page faults per pass, and ops ran
slower inside the network than on their own. With the hot ops' outputs taken from here there
are none (figures in benchmarks/README.md, "Backend").

How: ``empty`` returns an ordinary ndarray viewing a block kept here. NumPy keeps every view
alive through the buffer object the array was made from, so a finalizer on that object learns
when the last view has gone, and puts the block back. Blocks have power-of-two sizes, and a
request takes one of the size it rounds up to. At most ``limit()`` bytes, or twice the peak
of bytes in use if more, are kept idle; past that, the sizes given back least recently are
freed first.

It plays the part of PyTorch's caching allocator (``empty_cache`` as in ``torch.cuda``) for
host memory, and touches nothing but glassgrad's own arrays: malloc's settings stay as they are.
"""

import collections
import math
import os
import threading
import weakref

import numpy as np

MIN_BYTES = 1 << 20  # smaller arrays come from NumPy: malloc keeps and reuses those itself
_DEFAULT_LIMIT = 512 << 20

# Re-entrant: a garbage collection inside a locked section may free a cached array, whose
# finalizer then gives its block back on the same thread.
_lock = threading.RLock()
_idle: collections.OrderedDict[int, list] = (
    collections.OrderedDict()
)  # size in bytes -> [blocks]; the most recently returned sizes last
_idle_bytes = 0
_lent_bytes = 0  # bytes of blocks in use by live arrays
_peak_lent_bytes = 0
_limit = _DEFAULT_LIMIT


def _reset_after_fork():
    # A fork while another thread held the lock would leave the child's copy locked for ever.
    global _lock, _idle, _idle_bytes
    _lock = threading.RLock()
    _idle = collections.OrderedDict()
    _idle_bytes = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def empty(shape, dtype):
    """An uninitialised C-contiguous array of ``shape`` and ``dtype``, as ``np.empty``, with its
    memory reused from an array that died, when one of the same size did."""
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    size = block_bytes(nbytes)
    block = _take(size)
    if block is None:
        block = np.empty(size, np.uint8)
    array = np.frombuffer(memoryview(block), dtype, count=nbytes // dtype.itemsize)
    owner = array.base  # NumPy's own memoryview of the block: every view of ``array`` keeps it alive
    if owner is block or owner is None:  # not so in this NumPy: no reuse, but still correct
        return np.empty(shape, dtype)
    _lend(size)
    weakref.finalize(owner, _give_back, block).atexit = False
    return array.reshape(shape)


def block_bytes(nbytes):
    """The size of the block that serves a request of ``nbytes``: the next power of two.

    Why: DenseNet asks for a new size at every layer (its concatenations grow), so blocks of
    exact sizes were never reused within a step, and a step needed more idle blocks than the
    limit allowed; the pages a request leaves untouched at the block's end cost no memory."""
    return 1 << (nbytes - 1).bit_length()


def zeros(shape, dtype):
    """``np.zeros`` through ``empty``: a cached block, filled with zeros."""
    array = empty(shape, dtype)
    array.fill(0)
    return array


def _take(nbytes):
    global _idle_bytes
    with _lock:
        blocks = _idle.get(nbytes)
        if not blocks:
            return None
        block = blocks.pop()
        if not blocks:
            del _idle[nbytes]
        _idle_bytes -= nbytes
        return block


def _lend(nbytes):
    global _lent_bytes, _peak_lent_bytes
    with _lock:
        _lent_bytes += nbytes
        _peak_lent_bytes = max(_peak_lent_bytes, _lent_bytes)


def _idle_budget():
    """Idle bytes allowed now (lock held): ``_limit``, or twice the most that arrays from here
    have held at once if that is more, since a training step's backward pass frees blocks of
    other sizes than its forward pass asks for (0 keeps nothing)."""
    if _limit == 0:
        return _limit
    return max(_limit, 2 * _peak_lent_bytes)


def _give_back(block):
    global _idle_bytes, _lent_bytes
    with _lock:
        _lent_bytes -= block.nbytes
        budget = _idle_budget()
        if block.nbytes > budget:
            return
        _evict(budget - block.nbytes)
        _idle.setdefault(block.nbytes, []).append(block)
        _idle.move_to_end(block.nbytes)
        _idle_bytes += block.nbytes


def empty_cache():
    """Free every idle block (arrays in use keep theirs) and forget the peak of blocks in use."""
    global _idle_bytes, _peak_lent_bytes
    with _lock:
        _idle.clear()
        _idle_bytes = 0
        _peak_lent_bytes = _lent_bytes


def cached_bytes():
    """Bytes held in idle blocks, waiting to be reused."""
    return _idle_bytes


def limit():
    """The most bytes kept idle (512 MiB unless set)."""
    return _limit


def set_limit(nbytes):
    """Keep at most ``nbytes`` idle, or twice the peak in use if more (0 turns the cache off);
    frees what is over at once."""
    global _limit
    if nbytes < 0:
        raise ValueError(f"set_limit: nbytes must be >= 0, got {nbytes}")
    with _lock:
        _limit = int(nbytes)
        _evict(_idle_budget())


def _evict(budget):
    """Free idle blocks, oldest sizes first, until at most ``budget`` bytes stay idle (lock held)."""
    global _idle_bytes
    while _idle_bytes > budget:
        size, blocks = next(iter(_idle.items()))
        blocks.pop(0)
        if not blocks:
            del _idle[size]
        _idle_bytes -= size
