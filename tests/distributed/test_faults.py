"""A rank that raises or is killed ends every rank with an error naming it, within the timeout passed."""

import re
import time
from pathlib import Path

import pytest

from glassgrad.distributed._faults import pid_alive
from tests.distributed._launch import launch, needs

TIMEOUT = 15.0


def _shm():
    return {p.name for p in Path("/dev/shm").iterdir()} if Path("/dev/shm").is_dir() else set()


def _run(backend, mode, victim=1, timeout=TIMEOUT):
    before = _shm()
    res = launch(backend, "_fault_script.py", mode, str(victim), str(timeout), timeout=90, check=False)
    ended = time.time()
    out = "".join(r.stdout for r in res)
    err = "".join(r.stderr for r in res)
    pids = {int(r): int(p) for r, p in re.findall(r"rank (\d) pid (\d+)", out)}
    assert len(pids) == 2, out + err[-3000:]
    fault = float(re.search(r"fault at ([\d.]+)", out).group(1))
    took = ended - fault
    print(f"\n{backend} {mode} rank {victim}: every rank ended {took:.2f} s after the fault")
    assert all(r.returncode != 0 for r in res), [r.returncode for r in res]
    assert "no fault happened" not in out
    # mpiexec may return while its proxies still finish off the ranks: allow them a moment.
    deadline = time.monotonic() + 3
    while [p for p in pids.values() if pid_alive(p)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids.values() if pid_alive(p)], "a rank is left running"
    # Neither glassgrad's segments nor the MPI library's (deleted once every rank mapped them) remain.
    ours = tuple(f"glassgrad_{p}_" for p in pids.values()) + ("mpich_shm_",)
    assert not [n for n in _shm() - before if n.startswith(ours)]
    return out, err, pids, took, res


@pytest.mark.parametrize("backend", ["mpi", "gloo"])
def test_a_raising_rank_is_named_by_everyone(backend):
    needs(backend)
    out, err, pids, took, res = _run(backend, "raise")
    assert "glassgrad.distributed: rank 1 failed: ValueError: boom on purpose" in err, err[-3000:]
    if backend == "gloo":  # the survivor's own error says who failed and why
        assert "all_reduce on rank 0 failed because rank 1 failed: ValueError: boom on purpose" in res[0].stderr
        assert "glassgrad.distributed: rank 0 stopped because rank 1 failed" in res[0].stderr
    assert took < TIMEOUT


def test_gloo_names_a_raising_rank_0_that_hosted_the_store():
    needs("gloo")
    out, err, pids, took, res = _run("gloo", "raise", victim=0)
    assert "all_reduce on rank 1 failed because rank 0 failed: ValueError: boom on purpose" in res[1].stderr, err
    assert took < TIMEOUT


@pytest.mark.parametrize("backend", ["mpi", "gloo"])
def test_a_killed_rank_is_named_by_everyone(backend):
    needs(backend)
    out, err, pids, took, res = _run(backend, "kill")
    if backend == "gloo":
        assert res[1].returncode == -9
        assert f"because rank 1 (pid {pids[1]}) is gone" in res[0].stderr, res[0].stderr[-3000:]
    else:  # mpiexec's report names the pid of rank 1
        assert re.search(rf"PID {pids[1]} RUNNING AT .*\n.*EXIT CODE: 9", out), out
    assert took < TIMEOUT


def test_gloo_a_hanging_rank_ends_the_others_after_the_timeout_passed():
    needs("gloo")
    out, err, pids, took, res = _run("gloo", "hang", timeout=4.0)
    assert "did not answer within the timeout (4 s)" in res[0].stderr, res[0].stderr[-3000:]
    # rank 0 gave up after 4 s, not gloo's default; the hanging rank then found its peer gone
    assert 4.0 <= took < 4.0 + TIMEOUT
