"""A process SIGKILLed while it holds shared memory leaves nothing behind once the next one starts."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import glassgrad as gg
import glassgrad.multiprocessing as mp
from glassgrad.backend import shared
from glassgrad.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parents[2]
SHM = Path(shared._DIR)

# Shared tensors, and a DataLoader whose worker hands large batches over /dev/shm slot files.
_HOLDER = """
import time
import numpy as np
import glassgrad as gg
from glassgrad.utils.data import DataLoader, Dataset

class Big(Dataset):
    def __len__(self):
        return 64
    def __getitem__(self, i):
        return np.zeros(1 << 16, np.float32)

kept = [gg.zeros(1000).share_memory_() for _ in range(3)]
it = iter(DataLoader(Big(), batch_size=4, num_workers=1))
next(it)
print("ready", flush=True)
time.sleep(120)
"""


def _left_by(pid):
    return sorted(p.name for p in SHM.iterdir() if p.name.startswith((f"glassgrad_{pid}_", f"glassgrad-loader-{pid}-")))


def _hold_mappings(names):
    """Map every file of ``names`` from this process, so that the sweeps other test processes run
    in parallel leave them alone until this test releases them."""
    import mmap

    maps = []
    for name in names:
        path = SHM / name
        for f in sorted(path.iterdir()) if path.is_dir() else [path]:
            with open(f, "r+b") as handle:
                maps.append(mmap.mmap(handle.fileno(), 0))
    return maps


def _killed_holder():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", _HOLDER], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        left = _left_by(child.pid)
        held = _hold_mappings(left)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # Its loader worker dies with it (PR_SET_PDEATHSIG) and unmaps the slots as it goes.
    time.sleep(0.5)
    assert len([n for n in left if n.startswith("glassgrad_")]) == 3 and any("loader" in n for n in left), left
    assert _left_by(child.pid) == left, "the killed process cleaned up after all: this test cannot fail"
    for m in held:
        m.close()
    return child.pid, left


def _noop(rank):
    pass


@pytest.mark.skipif(not SHM.is_dir() or str(SHM) != "/dev/shm", reason="needs /dev/shm")
@pytest.mark.parametrize("next_start", ["sweep", "spawn", "dataloader"])
def test_a_sigkilled_creator_leaves_nothing_after_the_next_start(next_start):
    pid, left = _killed_holder()
    if next_start == "sweep":
        removed = shared.sweep()
        # Another test process may have swept some of them first, since this one let them go.
        assert set(Path(p).name for p in removed if f"{pid}" in Path(p).name) <= set(left)
    elif next_start == "spawn":
        mp.start_processes(_noop, nprocs=1, start_method="fork")
    else:
        big = TensorDataset(gg.zeros(8, 1 << 15))
        assert len(list(DataLoader(big, batch_size=4, num_workers=1))) == 2
    assert _left_by(pid) == []


def test_the_sweep_keeps_live_creators_and_mapped_segments(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid, ns = int(dead.stdout), shared.NAMESPACE
    gone = tmp_path / f"glassgrad_{dead_pid}_0_ab12cd34_{ns}"
    alive = tmp_path / f"glassgrad_{os.getppid()}_0_ab12cd34_{ns}"
    other_namespace = tmp_path / f"glassgrad_{dead_pid}_1_ab12cd34_{int(ns) + 1}"
    still_mapped = tmp_path / f"glassgrad_{dead_pid}_2_ab12cd34_{ns}"
    older = [tmp_path / f"glassgrad_{dead_pid}_3_ab12cd34", tmp_path / f"glassgrad-loader-{dead_pid}-x1_y"]
    older[1].mkdir()
    for f in (gone, alive, other_namespace, still_mapped, older[0], older[1] / "worker0-slot0"):
        f.write_bytes(b"\0" * 4096)
    import mmap

    with open(still_mapped, "r+b") as f:
        mm = mmap.mmap(f.fileno(), 4096)
    try:
        assert sorted(shared.sweep(str(tmp_path))) == sorted(map(str, [gone, *older]))  # names without a namespace too
        assert not gone.exists() and alive.exists() and other_namespace.exists() and still_mapped.exists()
    finally:
        mm.close()
    assert shared.sweep(str(tmp_path)) == [str(still_mapped)]
