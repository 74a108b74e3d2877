"""The helper threads that split work which runs with the GIL released (BLAS products, NumPy
loops, nogil kernels): the convolution's chunks and float64 sigmoid's exp share one pool."""

import os
from concurrent.futures import ThreadPoolExecutor

_pool = None
_pool_pid = None
_pool_size = 0


def run(jobs):
    """Call each of ``jobs``, the first on this thread and the others at once on the pool's
    threads; their results, in order."""
    global _pool, _pool_pid, _pool_size
    helpers = len(jobs) - 1
    if helpers > 0 and (_pool_pid != os.getpid() or _pool_size < helpers):
        # A forked child has none of its parent's threads; a larger thread count needs more.
        if _pool is not None and _pool_pid == os.getpid():
            _pool.shutdown(wait=False)
        _pool = ThreadPoolExecutor(max_workers=helpers, thread_name_prefix="glassgrad-worker")
        _pool_pid, _pool_size = os.getpid(), helpers
    futures = [_pool.submit(job) for job in jobs[1:]]
    results = [jobs[0]()]
    results.extend(f.result() for f in futures)
    return results
