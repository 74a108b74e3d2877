"""The number of threads glassgrad's hot paths use (BLAS included)."""

import os

_num_threads = None


def get_num_threads():
    """Threads in use: the value set by ``set_num_threads``, else the cores this process may use."""
    if _num_threads is not None:
        return _num_threads
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def set_num_threads(n):
    """Use ``n`` threads from now on, for NumPy's BLAS too (through threadpoolctl when installed)."""
    global _num_threads
    if int(n) < 1:
        raise ValueError(f"set_num_threads: n must be at least 1, got {n}")
    _num_threads = int(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(_num_threads)
