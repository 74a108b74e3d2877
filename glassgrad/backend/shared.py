"""Arrays in shared memory: files in /dev/shm mapped with mmap, visible to every process that maps them.

A forked child inherits the mapping; a spawned one maps the same file again by name (see
``handle``/``attach``). The process that created a segment deletes its file when the segment is
garbage-collected or when the process exits, so nothing is left in /dev/shm; processes that
already mapped it keep their mapping (deleting a file never unmaps it).
"""

from __future__ import annotations

import atexit
import itertools
import mmap
import os
import secrets
import tempfile
import weakref

import numpy as np

_DIR = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
_PREFIX = "glassgrad_"
_counter = itertools.count()
# Segments by path: every mapping this process made or attached, so is_shared() recognises them
# and each file is mapped once per process however many tensors it backs.
_maps: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_paths: dict[int, str] = {}
# Files this process created (and must delete), by path, with the creating pid (a forked child inherits
# this dict but must not delete its parent's files).
_owned: dict[str, int] = {}


def _unlink(path):
    if _owned.get(path) == os.getpid():
        _owned.pop(path, None)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


@atexit.register
def _unlink_all():
    for path in list(_owned):
        _unlink(path)


def _register(path, mm):
    _maps[path] = mm
    _paths[id(mm)] = path
    # Once no array uses the mapping: forget it, and delete the file if this process made it.
    weakref.finalize(mm, _forget, id(mm), path)


def _forget(key, path):
    _paths.pop(key, None)
    _unlink(path)


def allocate(nbytes: int) -> mmap.mmap:
    """A new shared segment of ``nbytes`` bytes (zeros), owned by this process."""
    path = os.path.join(_DIR, f"{_PREFIX}{os.getpid()}_{next(_counter)}_{secrets.token_hex(4)}")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.ftruncate(fd, max(nbytes, 1))
        mm = mmap.mmap(fd, max(nbytes, 1))
    except BaseException:
        os.unlink(path)
        raise
    finally:
        os.close(fd)
    _owned[path] = os.getpid()
    _register(path, mm)
    return mm


def share(array: np.ndarray) -> np.ndarray:
    """A copy of ``array`` (C-contiguous) in a new shared segment."""
    mm = allocate(array.nbytes)
    out = np.ndarray(array.shape, array.dtype, buffer=mm)
    out[...] = array
    return out


def _segment(array):
    a = array
    while isinstance(a, np.ndarray):
        a = a.base
    return a if isinstance(a, mmap.mmap) and id(a) in _paths else None


def is_shared(array: np.ndarray) -> bool:
    """True when ``array``'s memory lies in a shared segment of this module."""
    return _segment(array) is not None


def handle(array: np.ndarray):
    """What another process needs to map ``array`` again: (path, size, offset, shape, strides, dtype)."""
    mm = _segment(array)
    if mm is None:
        raise ValueError("handle: the array is not in shared memory; call share() first")
    base = np.frombuffer(mm, dtype=np.uint8)
    offset = array.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return (_paths[id(mm)], len(mm), offset, array.shape, array.strides, array.dtype.str)


def attach(path, size, offset, shape, strides, dtype) -> np.ndarray:
    """The array that ``handle`` described, mapped into this process."""
    mm = _maps.get(path)
    if mm is None:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            raise RuntimeError(
                f"shared memory segment {path} is gone: the process that created it has exited or freed "
                "the tensor; keep the shared tensor alive in the parent until its children have started"
            ) from None
        try:
            mm = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        _register(path, mm)
    return np.ndarray(shape, np.dtype(dtype), buffer=mm, offset=offset, strides=strides)
