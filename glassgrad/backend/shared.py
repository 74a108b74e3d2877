"""Arrays in shared memory: files in /dev/shm mapped with mmap, visible to every process that maps them.

A forked child inherits the mapping; a spawned one maps the same file again by name (see
``handle``/``attach``). The process that created a segment deletes its file when the segment is
garbage-collected or when the process exits, so nothing is left in /dev/shm; processes that
already mapped it keep their mapping (deleting a file never unmaps it).

A process killed by a signal deletes nothing, so every name carries its creator's pid and pid
namespace, and ``sweep`` (run by a process's first ``allocate``, by every ``glassgrad.multiprocessing``
start and every DataLoader with workers) deletes what dead creators of this namespace left and
no live process still maps: these segments and the DataLoader's folders alike.
"""

from __future__ import annotations

import atexit
import itertools
import mmap
import os
import re
import secrets
import shutil
import tempfile
import weakref

import numpy as np

_DIR = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
_PREFIX = "glassgrad_"
LOADER_PREFIX = "glassgrad-loader-"


def _namespace() -> str:
    """This pid namespace's id: a pid means something only inside its namespace (containers share /dev/shm)."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "0"


NAMESPACE = _namespace()
# glassgrad_<pid>_<n>_<hex>_<ns> and glassgrad-loader-<pid>-<ns>-<mkdtemp suffix>; names from before
# the namespace was added (no <ns>) are taken as this namespace's, as they were swept before.
_SEGMENT = re.compile(rf"{_PREFIX}(\d+)_\d+_[0-9a-f]+(?:_(\d+))?$")
_LOADER = re.compile(rf"{LOADER_PREFIX}(\d+)-(?:(\d+)-)?[A-Za-z0-9_]+$")
_swept = False
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _mapped(paths) -> set:
    """Those of ``paths`` that some process maps (a child of a dead creator may still use a segment)."""
    if not paths:
        return set()
    try:
        procs = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return set(paths)  # cannot tell: keep them all
    found: set = set()
    for pid in procs:
        try:
            with open(f"/proc/{pid}/maps") as f:
                text = f.read()
        except OSError:
            continue
        found.update(p for p in paths if f"{p}\n" in text or f"{p} (deleted)" in text)
    return found


def sweep(folder: str | None = None) -> list[str]:
    """Delete the shared segments and DataLoader folders whose creator died without deleting them.

    Only names of this pid namespace whose pid is no longer running and that no process maps are
    deleted; returns their paths."""
    global _swept
    _swept = True
    folder = folder or _DIR
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    me, stale = os.getpid(), {}
    for name in names:
        m = _SEGMENT.match(name) or _LOADER.match(name)
        if m and m.group(2) in (NAMESPACE, None) and int(m.group(1)) != me and not _alive(int(m.group(1))):
            path = os.path.join(folder, name)
            try:
                # A loader folder holds slot files that its workers mapped (they die with their parent).
                stale[path] = [os.path.join(path, f) for f in os.listdir(path)] if os.path.isdir(path) else [path]
            except OSError:
                continue
    in_use = _mapped([f for files in stale.values() for f in files])
    removed = []
    for path, files in stale.items():
        if in_use.intersection(files):
            continue
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
        removed.append(path)
    return removed


def allocate(nbytes: int) -> mmap.mmap:
    """A new shared segment of ``nbytes`` bytes (zeros), owned by this process."""
    if not _swept:
        sweep()
    path = os.path.join(_DIR, f"{_PREFIX}{os.getpid()}_{next(_counter)}_{secrets.token_hex(4)}_{NAMESPACE}")
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
