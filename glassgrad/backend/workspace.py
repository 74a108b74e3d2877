"""Scratch memory and the chunk scheduler of the convolution (glassgrad.ops.conv).

Workspaces: per-thread scratch arrays reused from call to call, and zero-bordered ones for padded
inputs. The scheduler: a batch cut into chunks of a few images, shared out among threads.
"""

import itertools
import math
import threading
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from glassgrad import backend
from glassgrad.backend import pool

_scratch = threading.local()


def workspace(tag, shape, dtype):
    """A scratch array reused from call to call (one per tag, dtype and thread).

    The big temporaries (columns, their gradient, the col2im buffer) are tens of MB;
    fresh memory costs a page fault per 4 KiB on first touch, which takes longer than
    the copy itself. A workspace never leaves the op that asked for it.
    """
    buffers = _scratch.__dict__.setdefault("buffers", {})
    size = math.prod(shape)
    key = (tag, np.dtype(dtype))
    buffer = buffers.get(key)
    if buffer is None or buffer.size < size:
        buffers[key] = buffer = np.empty(size, dtype=dtype)
    return buffer[:size].reshape(shape)


MAX_BORDERED = 32  # geometries kept per thread; a network with more drops the oldest


def bordered(key, images, per_image, dtype, inside):
    """A zero-bordered scratch array for padded inputs: (images, *per_image), one per ``key``
    (layout and padding), image shape, the shape ``inside`` of what callers write into each
    image, dtype and thread, grown to the most images asked for.

    Its zeros are written once, when it is made; callers write the inside only, and nothing
    writes the border after. Hence ``inside`` in the key: where a buffer's shape is rounded up
    (whole tiles, stride phases), two image sizes can share ``per_image``, and the larger one's
    values would stay in what is the smaller one's border. Zeroing the border again for every chunk (five small strided
    fills, hundreds of chunks per forward pass) cost a measurable part of ResNet-20's forward
    pass (benchmarks/README.md, "Convolution").
    """
    buffers = _scratch.__dict__.setdefault("bordered", {})
    key = (key, tuple(per_image), tuple(inside), np.dtype(dtype))
    buffer = buffers.get(key)
    if buffer is None or buffer.shape[0] < images:
        buffers.pop(key, None)
        if len(buffers) >= MAX_BORDERED:
            buffers.pop(next(iter(buffers)))  # the oldest: dicts keep insertion order
        buffers[key] = buffer = np.zeros((images, *per_image), dtype=dtype)
    return buffer[:images]


def clear_workspaces():
    """Free this thread's convolution workspaces (they are kept at the largest size used so far)."""
    _scratch.__dict__.pop("buffers", None)
    _scratch.__dict__.pop("bordered", None)


# -- the work, in chunks of images shared out among threads ----------------------------------------
#
# The columns of a whole batch are tens of MB, so
# building them and then multiplying streams them through main memory twice. Cut into chunks of
# a few images, each chunk's columns are built, multiplied and done with while they are still in
# the core's cache (benchmarks/README.md, "Convolution"). Every chunk is also self-contained (pad, columns, product, NCHW result), so the
# chunks are shared out among threads with no barrier between the steps.
#
# Each product runs single-threaded BLAS on its own thread. OpenBLAS's own threading has its
# threads meet at a barrier after every block; on a machine whose cores are also busy with other
# work (DataLoader workers, other processes) a descheduled thread stalls the others at each one.
#
# The chunks depend on the shapes only, never on the number of threads, and the weight gradient
# sums one partial product per chunk in chunk order: the results are the same bits whatever the
# thread count.

CHUNK_BYTES = 3 << 20  # of columns per chunk: about one core's share of cache (sizes measured: benchmarks/README.md)


def _parts():
    from glassgrad import _threads

    return _threads.get_num_threads()


MIN_CHUNKS = 16  # at least, when the batch allows: threads taking chunks end together
MIN_SPLIT_WORK = 1 << 22  # multiply-adds; below this, handing chunks out costs more than it saves


def threads_for(work):
    """How many threads to share ``work`` multiply-adds among (one without threadpoolctl, which
    keeps each thread's BLAS single-threaded)."""
    parts = _parts()
    if parts < 2 or work < MIN_SPLIT_WORK or not backend.blas_controller():
        return 1
    return parts


def chunks(n, image_bytes, least=1):
    """Image ranges [(lo, hi)] with about ``CHUNK_BYTES`` of columns each, and at least
    ``MIN_CHUNKS`` of them when there are enough images (ResNet-20's 8x8 layers fit 21 images in
    a chunk: 7 chunks shared by 2 threads left one idle for a seventh of the time); but ``least``
    images a chunk where that leaves two chunks or more (a pass whose every chunk writes a
    partial result of its own, summed after, wants few chunks of many images)."""
    per = max(1, min(n, CHUNK_BYTES // max(image_bytes, 1), -(-n // MIN_CHUNKS)))
    per = max(per, min(least, -(-n // 2)))
    return [(lo, min(lo + per, n)) for lo in range(0, n, per)]


def each_chunk(chunks, work, job):
    """job(index, lo, hi) for every chunk, each thread taking the next chunk not yet taken."""
    parts = min(threads_for(work), len(chunks))
    if parts < 2:
        for index, (lo, hi) in enumerate(chunks):
            job(index, lo, hi)
        return
    # Taken one at a time rather than dealt out in fixed runs: a thread that wakes late or is
    # descheduled (the cores are shared) leaves its chunks to the others instead of making them wait.
    # next() on a count is atomic under the GIL.
    claim = itertools.count()

    def run():
        while (index := next(claim)) < len(chunks):
            job(index, *chunks[index])

    with backend.single_threaded_blas():
        pool.run([run] * parts)


class Job(NamedTuple):
    """One pass over the chunks of a batch: ``chunk(index, lo, hi, shared)`` does images
    [lo, hi) (``shared`` is a dict the chunk's jobs share, for a layout two passes read), and
    ``result()`` gives the pass's array once every chunk is done."""

    chunk: Callable
    result: Callable


def whole_batch(compute):
    """A pass that shares out its own chunks (``compute()`` gives the array) as a ``Job``:
    nothing runs per chunk of the other passes, and ``result()`` computes it."""
    return Job(chunk=lambda index, lo, hi, shared: None, result=compute)


def run_jobs(chunks, work, jobs):
    """Every job's ``chunk`` on every chunk, the jobs one after the other within a chunk: the
    passes of one backward share the chunk's scan of the output gradient, and its layouts."""

    def chunk(index, lo, hi):
        shared = {}
        for job in jobs:
            job.chunk(index, lo, hi, shared)

    each_chunk(chunks, work, chunk)
