"""When a rank fails, every rank stops within the timeout with an error naming it.

``init_process_group`` installs an excepthook. A rank whose exception is not caught prints
``glassgrad.distributed: rank R failed: <exception>`` on stderr and tells the others:

- MPI: ``MPI_Abort``, after which the launcher (mpiexec, srun) ends every rank at once. Without it
  a raising rank would finalize MPI on its way out and leave its peers blocked in a collective.
- gloo: the failure goes into the rendezvous store, then the process group is destroyed, which
  closes its connections: the peers' pending collective fails at once, and their
  ``DistBackendError`` names rank R and its exception (read back from the store). A rank killed by
  a signal cannot say anything; its peers then name the ranks of this machine whose process is gone,
  else quote gloo's message, which names the peer's address.

A rank stopped by a peer's failure says so (``rank 0 stopped because rank 1 failed``) and is not
announced as a new failure. ``GLASSGRAD_FAILURE_DIR`` (set by ``glassgrad train --nproc``) also
receives ``rank{R}.pid`` at start and ``rank{R}.txt`` with the failure, so that the local launcher can
name the rank behind mpiexec's report, which gives only a pid.
"""

from __future__ import annotations

import os
import sys
import time
import traceback

_FAILED_KEY = "glassgrad/failed"
_ACKS_KEY = "glassgrad/failed-acks"


class DistBackendError(RuntimeError):
    """A collective failed because a peer failed or is gone; ``failed_rank`` is that peer (None: unknown)."""

    __module__ = "glassgrad.distributed"

    def __init__(self, message: str, failed_rank: int | None = None):
        super().__init__(message)
        self.failed_rank = failed_rank


_installed: dict = {}


def install(engine, timeout: float) -> None:
    """Make an uncaught exception on this rank end every rank (see the module docstring)."""
    if not _installed:
        _installed["previous"] = sys.excepthook
        sys.excepthook = _hook
    _installed["engine"], _installed["timeout"] = engine, timeout
    folder = os.environ.get("GLASSGRAD_FAILURE_DIR")
    if folder:
        _write(os.path.join(folder, f"rank{engine.rank}.pid"), str(os.getpid()))


def uninstall() -> None:
    if _installed:
        if sys.excepthook is _hook:
            sys.excepthook = _installed["previous"]
        _installed.clear()


def _write(path, text):
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError:
        pass  # the folder of a launcher that has gone: nobody left to read it


def describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def fail(error: BaseException) -> None:
    """End this rank's part in the group because of ``error``, telling the others; MPI never returns."""
    engine = _installed.get("engine")
    if engine is None:
        return
    rank = engine.rank
    if isinstance(error, DistBackendError):  # a consequence of a peer's failure, not a new one
        who = f"rank {error.failed_rank} failed" if error.failed_rank is not None else "a peer failed"
        line = f"glassgrad.distributed: rank {rank} stopped because {who}"
    else:
        line = f"glassgrad.distributed: rank {rank} failed: {describe(error)}"
        folder = os.environ.get("GLASSGRAD_FAILURE_DIR")
        if folder:
            _write(os.path.join(folder, f"rank{rank}.txt"), line)
    print(line, file=sys.stderr, flush=True)
    uninstall()
    try:
        engine.abort(line, announce=not isinstance(error, DistBackendError))
    except Exception:  # the group may be half gone already; exiting non-zero still tells the launcher
        pass


def _hook(etype, value, tb):
    previous = _installed.get("previous", sys.__excepthook__)
    try:
        previous(etype, value, tb)
    except Exception:
        traceback.print_exception(etype, value, tb)
    fail(value)


def pid_alive(pid: int) -> bool:
    """False once ``pid`` has exited (a zombie waiting for its parent counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True  # no /proc: kill(0) said it exists


def wait_for_acks(store, expected: int, seconds: float) -> None:
    """Keep the store up until ``expected`` peers have read the failure, for at most ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if int(store.add(_ACKS_KEY, 0)) >= expected:
                return
        except Exception:
            return
        time.sleep(0.05)
