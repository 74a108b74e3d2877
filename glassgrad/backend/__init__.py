"""Fast kernels for the hot paths, with a NumPy fallback chosen at import.

The ops call these functions on NumPy arrays. With numba installed they run compiled,
multi-threaded loops (``numba_kernels``); without it, or with the environment variable
``GLASSGRAD_NO_NUMBA=1``, the NumPy reference (``numpy_kernels``) computes the same values.
``BACKEND`` says which one is in use and ``REASON`` why.
"""

import contextlib
import importlib.util
import os
import sys
import threading

import numpy as np

from glassgrad import _threads
from glassgrad.backend import numpy_kernels, pool

NAMES = (
    "sigmoid",
    "sigmoid_backward",
    "relu",
    "relu_backward",
    "tanh_backward",
    "hardtanh_backward",
    "max_pool2d_2x2",
    "max_pool2d_2x2_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "sgd_momentum",
    "batch_norm_train",
    "batch_norm_train_backward",
    "batch_norm_eval",
)


def _numba_cache_dir():
    """Where numba caches compiled kernels: ``NUMBA_CACHE_DIR`` when the user set it, else
    ``$GLASSGRAD_CACHE/numba`` (default ``~/.cache/glassgrad/numba``).

    Never beside the package: a ``__pycache__`` folder left in site-packages after
    ``pip uninstall`` would be imported as a namespace package that hides a later install.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    base = os.environ.get("GLASSGRAD_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "glassgrad")
    path = os.path.join(os.path.expanduser(base), "numba")
    # numba reads the variable when it is first imported, which glassgrad does only later.
    os.environ["NUMBA_CACHE_DIR"] = path
    config = getattr(sys.modules.get("numba"), "config", None)
    if config is not None:  # numba was imported first: tell its config directly
        config.CACHE_DIR = path
    return path


NUMBA_CACHE_DIR = _numba_cache_dir()


def _choose():
    """Which backend to use, decided without importing numba (that costs ~0.2 s; it loads on first use)."""
    if os.environ.get("GLASSGRAD_NO_NUMBA", "0") not in ("", "0"):
        return "numpy", "GLASSGRAD_NO_NUMBA is set"
    if importlib.util.find_spec("numba") is None:
        return "numpy", "numba is not installed; pip install numba for the compiled kernels"
    return "numba", "numba is installed"


BACKEND, REASON = _choose()
_impl = None
_threads_set = None


def _load():
    """The kernel module, importing numba's on first use; falls back to NumPy if that import fails."""
    global _impl, BACKEND, REASON
    if BACKEND == "numba":
        try:
            from glassgrad.backend import numba_kernels as _impl
        except ImportError as error:
            BACKEND, REASON = "numpy", f"numba failed to import ({error})"
    if _impl is None:
        _impl = numpy_kernels
    return _impl


_lock = threading.Lock()


def _dispatch(name):
    def call(*args, **kwargs):
        impl = _impl or _load()
        if impl is numpy_kernels:
            return getattr(impl, name)(*args, **kwargs)
        # One compiled kernel at a time: numba's workqueue pool must not be entered twice.
        with _lock:
            _sync_threads(impl)
            return getattr(impl, name)(*args, **kwargs)

    call.__name__ = name
    call.__doc__ = getattr(numpy_kernels, name).__doc__
    return call


def _sync_threads(impl):
    """Follow glassgrad.set_num_threads in numba's pool (a cheap check per call)."""
    global _threads_set
    wanted = _threads._num_threads
    if wanted != _threads_set:
        _threads_set = wanted
        if wanted is not None:
            impl.threads(wanted)


for _name in NAMES:
    globals()[_name] = _dispatch(_name)
del _name


def col2im(grad_cols, out, stride, top_left, dilation, scratch=None):
    impl = _impl or _load()
    # No lock: the compiled col2im is a plain loop on the calling thread, and the convolution's
    # chunk threads call it at the same time.
    return impl.col2im(grad_cols, out, stride, top_left, dilation, scratch)


col2im.__doc__ = numpy_kernels.col2im.__doc__


# Products between these sizes (in multiply-adds) run on one BLAS thread; see matmul2d.
SINGLE_THREAD_GEMM = (1 << 19, 1 << 24)
_blas = None


def blas_controller():
    """threadpoolctl's controller, found once (it scans the loaded libraries); False without it."""
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController

            _blas = ThreadpoolController()
        except ImportError:
            _blas = False
    return _blas


_blas_libraries = None


@contextlib.contextmanager
def single_threaded_blas():
    """NumPy's BLAS on one thread inside the block, its thread count restored after (a no-op
    without threadpoolctl). The same as threadpoolctl's ``limit(limits=1, user_api="blas")``,
    whose bookkeeping cost many times more per block, paid by every convolution; this gets and
    sets each library's count directly (figures in benchmarks/README.md, "Backend")."""
    global _blas_libraries
    if _blas_libraries is None:
        controller = blas_controller()
        libraries = controller.lib_controllers if controller else []
        _blas_libraries = [library for library in libraries if library.user_api == "blas"]
    saved = [library.get_num_threads() for library in _blas_libraries]
    for library in _blas_libraries:
        library.set_num_threads(1)
    try:
        yield
    finally:
        for library, count in zip(_blas_libraries, saved):
            library.set_num_threads(count)


def matmul2d(a, b):
    """``a @ b`` for 2-D arrays; mid-sized products on one BLAS thread.

    Products of ``SINGLE_THREAD_GEMM`` multiply-adds (512 K up to 16 M) ran faster on one BLAS
    thread than on OpenBLAS's two, whose threads meet at a barrier after every block; larger
    ones keep OpenBLAS's own threads, which on a quiet machine beat any split of ours (figures in
    benchmarks/README.md, "Backend"); tiny ones run single-threaded in OpenBLAS anyway. Without
    threadpoolctl this is plain ``np.dot``.
    """
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"matmul2d: expects 2-D arrays, got shapes {a.shape} and {b.shape}")
    work = a.shape[0] * a.shape[1] * b.shape[1]
    low, high = SINGLE_THREAD_GEMM
    # np.dot: BLAS takes a transposed operand as a flag, no copy.
    if not low <= work < high or not blas_controller():
        return np.dot(a, b)
    with single_threaded_blas():
        return np.dot(a, b)
