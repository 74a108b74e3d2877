"""Fast kernels for the hot paths, with a NumPy fallback chosen at import.

The ops call these functions on NumPy arrays. With numba installed they run compiled,
multi-threaded loops (``numba_kernels``); without it, or with the environment variable
``GLASSGRAD_NO_NUMBA=1``, the NumPy reference (``numpy_kernels``) computes the same values.
``BACKEND`` says which one is in use and ``REASON`` why.
"""

import importlib.util
import os

from glassgrad import _threads
from glassgrad.backend import numpy_kernels

NAMES = (
    "sigmoid",
    "sigmoid_backward",
    "relu",
    "relu_backward",
    "tanh_backward",
    "max_pool2d_2x2",
    "max_pool2d_2x2_backward",
)


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


def _dispatch(name):
    def call(*args, **kwargs):
        impl = _impl or _load()
        if impl is not numpy_kernels:
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
