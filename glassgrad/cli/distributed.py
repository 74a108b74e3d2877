"""``glassgrad train --nproc N``: start N local training processes and watch them.

gloo: N processes with torchrun's variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT).
mpi: one ``mpiexec -n N`` (from the MPI wheel beside Python, or on PATH). Each process runs
``python -m glassgrad.cli.distributed SETTINGS.json``, i.e. ``glassgrad train`` with the same settings.
When one process fails, the others are stopped and the error names its rank (the failing rank
writes its reason into a folder this launcher reads, see ``glassgrad.distributed._faults``; for a
rank killed by a signal under MPI, the pid in mpiexec's report is mapped back to its rank); the
launcher never leaves a process behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from glassgrad.cli import CLIError

_NOT_SENT = ("handler", "extra_callbacks", "nproc", "command")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mpiexec():
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


def _stop(procs, grace=5.0):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _describe(rc):
    return f"was killed by {signal.Signals(-rc).name}" if rc < 0 else f"exited with code {rc}"


def _failed_rank(folder, codes, mpiexec_output):
    """Which rank failed first and why, from the ranks' own reports, else the exit codes or mpiexec's."""
    reports = sorted(Path(folder).glob("rank*.txt"), key=lambda p: p.stat().st_mtime)
    if reports:
        rank = int(reports[0].stem[len("rank") :])
        return f"rank {rank} failed ({reports[0].read_text().split(': ', 2)[-1]}; its traceback is above)"
    killed = [(r, c) for r, c in enumerate(codes) if c is not None and c < 0]
    if killed:  # gloo: a rank killed by a signal beats the peers that stopped because of it
        return f"rank {killed[0][0]} {_describe(killed[0][1])}"
    pids = {}
    for f in Path(folder).glob("rank*.pid"):
        try:
            pids[int(f.read_text())] = int(f.stem[len("rank") :])
        except ValueError:
            continue
    for pid, code in re.findall(r"PID (\d+) RUNNING AT .*?EXIT CODE: (\d+)", "".join(mpiexec_output), re.S):
        if int(pid) in pids:
            name = signal.Signals(int(code)).name if 0 < int(code) < 32 else f"code {code}"
            return f"rank {pids[int(pid)]} (pid {pid}) ended with {name}"
    failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
    if len(codes) > 1 and failed:
        return f"rank {failed[0][0]} {_describe(failed[0][1])}"
    return "a rank failed"


def _relay(stream, sink, keep):
    """Copy mpiexec's output through, keeping it to find the pid its failure report names."""
    for line in iter(stream.readline, ""):
        sink.write(line)
        sink.flush()
        keep.append(line)
    stream.close()


def _mpich_segments():
    return set(Path("/dev/shm").glob("mpich_shm_*")) if Path("/dev/shm").is_dir() else set()


def _remove_orphan_segments(before):
    """Delete MPICH's shared-memory files that this run created and no live process maps.

    MPICH removes them on a clean exit; when a rank is killed nobody does."""
    new = _mpich_segments() - before
    if not new:
        return
    mapped = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        try:
            text = maps.read_text()
        except OSError:
            continue
        mapped.update(str(p) for p in new if str(p) in text)
    for p in new:
        if str(p) not in mapped:
            p.unlink(missing_ok=True)


def launch_local(args) -> int:
    """Run ``glassgrad train`` with ``args`` on ``args.nproc`` local processes; 0 when all succeed."""
    n, backend = args.nproc, (args.backend or "gloo")
    if backend == "gloo":
        try:
            import torch.distributed  # noqa: F401
        except ImportError:
            raise CLIError("--backend gloo needs torch (pip install torch), or use --backend mpi") from None
    elif backend == "mpi":
        if _mpiexec() is None:
            raise CLIError("--backend mpi needs mpiexec: pip install 'glassgrad[mpi]' (mpi4py and the mpich wheel)")
    else:
        raise CLIError(f"--backend must be mpi or gloo, got {backend!r}")
    settings = {k: v for k, v in vars(args).items() if k not in _NOT_SENT}
    settings["backend"] = backend
    fd, path = tempfile.mkstemp(prefix="glassgrad_train_", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(settings, f)
    child = [sys.executable, "-m", "glassgrad.cli.distributed", path]
    # Each process computes on one core: N processes must not each start a thread per core.
    env = dict(os.environ, GLASSGRAD_NUM_THREADS=os.environ.get("GLASSGRAD_NUM_THREADS", "1"))
    env.setdefault("OMP_NUM_THREADS", "1")
    reports = tempfile.mkdtemp(prefix="glassgrad_failures_")
    env["GLASSGRAD_FAILURE_DIR"] = reports
    procs: list[subprocess.Popen] = []
    output: list[str] = []
    relay = None
    segments = _mpich_segments() if backend == "mpi" else set()
    try:
        if backend == "gloo":
            env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE=str(n))
            for r in range(n):
                procs.append(subprocess.Popen(child, env=dict(env, RANK=str(r), LOCAL_RANK=str(r))))
        else:
            procs.append(
                subprocess.Popen([_mpiexec(), "-n", str(n), *child], env=env, stdout=subprocess.PIPE, text=True)
            )
            relay = threading.Thread(target=_relay, args=(procs[0].stdout, sys.stdout, output), daemon=True)
            relay.start()
        while True:
            codes = [p.poll() for p in procs]
            if any(c not in (None, 0) for c in codes):
                # The ranks stopped by this failure end within moments; their codes help to tell who began.
                deadline = time.monotonic() + 2.0
                while time.monotonic() < deadline and any(p.poll() is None for p in procs):
                    time.sleep(0.05)
                codes = [p.poll() for p in procs]
                _stop(procs)
                if relay is not None:
                    relay.join(5.0)
                who = _failed_rank(reports, codes, output)
                raise CLIError(f"{who}; every rank was stopped")
            if all(c == 0 for c in codes):
                return 0
            time.sleep(0.1)
    except KeyboardInterrupt:
        _stop(procs)
        raise
    finally:
        _stop(procs, grace=1.0)
        if relay is not None:
            relay.join(5.0)
        os.unlink(path)
        shutil.rmtree(reports, ignore_errors=True)
        if backend == "mpi":
            _remove_orphan_segments(segments)


def _child(path) -> int:
    import argparse

    from glassgrad.cli import train

    with open(path) as f:
        args = argparse.Namespace(**json.load(f), nproc=None, command="train", extra_callbacks=[])
    try:
        return train.run(args) or 0
    except CLIError as error:
        rank = os.environ.get("RANK", os.environ.get("PMI_RANK", "?"))
        print(f"glassgrad train (rank {rank}): error: {error}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
