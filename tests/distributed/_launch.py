"""Launch a script on 2 local processes for one engine, with a hard timeout."""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def needs(backend: str) -> None:
    if backend == "mpi":
        pytest.importorskip("mpi4py", reason="backend='mpi' needs mpi4py (pip install 'glassgrad[mpi]')")
        if _mpiexec() is None:
            pytest.skip("no mpiexec on PATH or beside the Python executable")
    else:
        pytest.importorskip("torch.distributed", reason="backend='gloo' needs torch")


def _mpiexec():
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


def launch(backend: str, script: str, *args: str, n: int = 2, timeout: float = 180, check: bool = True):
    """Run ``script backend *args`` on ``n`` ranks; returns the CompletedProcess list (one, for mpi)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", GLASSGRAD_NUM_THREADS="1")
    path = str(Path(__file__).parent / script)
    if backend == "mpi":
        cmd = [_mpiexec(), "-n", str(n), sys.executable, path, backend, *args]
        res = [subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)]
    else:
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), WORLD_SIZE=str(n))
        procs = [
            subprocess.Popen(
                [sys.executable, path, backend, *args],
                env=dict(env, RANK=str(r), LOCAL_RANK=str(r)),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for r in range(n)
        ]
        res = []
        try:
            for p in procs:
                out, err = p.communicate(timeout=timeout)
                res.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
    if check:
        for r in res:
            assert r.returncode == 0, f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr[-4000:]}"
    return res
