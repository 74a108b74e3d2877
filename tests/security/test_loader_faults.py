"""DataLoader workers killed, stuck or failing: always an error in bounded time, never a hang or an orphan.

Each case runs its loader in a child Python process under a hard timeout, so that a regression
shows as a failed test instead of a hung suite.
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

import glassgrad
from glassgrad.backend import shared
from glassgrad.utils.data import DataLoader, Dataset
from glassgrad.utils.data import dataloader as dl

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="fork, /proc and /dev/shm faults are Linux-only")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The child: a 2-worker loader whose worker 0 misbehaves in the middle of writing its first big
# message into the result pipe (the write is patched at both levels a pipe write can go through).
_CHILD = """
import multiprocessing.connection, os, signal, sys, time
import numpy as np
from glassgrad.backend import shared
from glassgrad.utils.data import DataLoader, Dataset
from glassgrad.utils.data import dataloader as dl

FAULT, TRANSPORT = sys.argv[1], sys.argv[2]
if TRANSPORT == "inline":
    dl._shared_memory_dir = lambda: None

class Big(Dataset):
    def __len__(self):
        return 8
    def __getitem__(self, i):
        if FAULT == "orphan" and i == 0:
            time.sleep(1000)  # a worker stuck where it never looks at its parent
        return np.full(1 << 20, i, np.float32)  # 4 MiB: far more than a pipe holds

_write = os.write

def faulty_write(fd, data):
    if len(data) > (1 << 18):
        half = memoryview(data)[: len(data) // 2]
        while half:
            half = half[_write(fd, half):]
        if FAULT == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(1000)  # stuck, holding the pipe lock
    return _write(fd, data)

def init(worker_id):
    if worker_id == 0:
        os.write = faulty_write
        def send(self, buf, write=None):
            view = memoryview(buf)
            while view:
                view = view[faulty_write(self._handle, view):]
        multiprocessing.connection.Connection._send = send
        if TRANSPORT == "shm":
            from glassgrad.utils.data import _transfer
            _transfer.MIN_BYTES = 1 << 40  # this worker's big batch goes inline: the fault is in the pipe

loader = DataLoader(Big(), batch_size=4, num_workers=2, timeout=2, worker_init_fn=init,
                    multiprocessing_context="fork")
it = iter(loader)
print("pids", *[w.pid for w in it._workers], flush=True)
if FAULT == "orphan":
    time.sleep(1.5)
    os.kill(os.getpid(), signal.SIGKILL)
start = time.monotonic()
try:
    list(it)
except RuntimeError as error:
    print(f"error after {time.monotonic() - start:.2f} s: {error}", flush=True)
"""


def _run_child(fault, transport, timeout=30):
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run(
        [sys.executable, "-c", _CHILD, fault, transport], capture_output=True, text=True, timeout=timeout, env=env
    )


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _pids(out):
    line = next(line for line in out.splitlines() if line.startswith("pids"))
    return [int(p) for p in line.split()[1:]]


def _wait_gone(pids, within_s=5.0):
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


@pytest.mark.parametrize("transport", ["inline", "shm"])
def test_worker_killed_mid_write_is_an_error_not_a_hang(transport):
    result = _run_child("kill", transport)
    assert "error after" in result.stdout, result.stdout + result.stderr
    assert "exited unexpectedly" in result.stdout and "exit code -9" in result.stdout
    assert _wait_gone(_pids(result.stdout)) == []


def test_no_worker_outlives_a_killed_main_process():
    result = _run_child("orphan", "inline")
    assert result.returncode == -signal.SIGKILL
    pids = _pids(result.stdout)
    left = _wait_gone(pids)
    for pid in left:  # do not leave them behind for the rest of the suite either
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"workers {left} outlived their loader's process"


class _FailsAt(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 4:
            raise KeyError("no such sample")
        return glassgrad.tensor([float(i)])


@pytest.mark.parametrize("batch_size, named", [(None, "index 4"), (2, "indices [4, 5]")])
def test_worker_error_names_the_index(batch_size, named):
    loader = DataLoader(_FailsAt(), batch_size=batch_size, num_workers=1, timeout=10)
    with pytest.raises(KeyError, match="worker 0 .*fetching " + re.escape(named)):
        list(loader)


def test_stale_shm_folders_of_dead_processes_are_swept(tmp_path, monkeypatch):
    monkeypatch.setattr(dl, "_SHM_ROOT", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    ns = shared.NAMESPACE
    stale = tmp_path / f"glassgrad-loader-{dead_pid}-{ns}-abc"
    mine = tmp_path / f"glassgrad-loader-{os.getpid()}-{ns}-def"
    other = tmp_path / "someone-else"
    for folder in (stale, mine, other):
        folder.mkdir()
        (folder / "worker0-slot0").write_bytes(b"x")
    folder = dl._shared_memory_dir()
    try:
        assert not stale.exists() and mine.exists() and other.exists()
        assert os.path.basename(folder).startswith(f"glassgrad-loader-{os.getpid()}-")
    finally:
        dl._forget_shm_dir(folder)


_SIGTERM_CHILD = """
import os, signal, sys, time
import numpy as np
from glassgrad.backend import shared
from glassgrad.utils.data import DataLoader, Dataset

class Big(Dataset):
    def __len__(self):
        return 64
    def __getitem__(self, i):
        return np.zeros(1 << 16, np.float32)

it = iter(DataLoader(Big(), batch_size=4, num_workers=1))
next(it)
print(it._shm_dir, flush=True)
time.sleep(30)
"""


def test_sigterm_removes_the_shm_folder():
    if not os.access("/dev/shm", os.W_OK):
        pytest.skip("no writable /dev/shm")
    child = subprocess.Popen(
        [sys.executable, "-c", _SIGTERM_CHILD],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    try:
        folder = child.stdout.readline().strip()
        assert folder.startswith("/dev/shm/") and os.path.isdir(folder)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=20) == -signal.SIGTERM
        assert not os.path.exists(folder)
    finally:
        if child.poll() is None:
            child.kill()
