"""Each rank has its own deterministic random streams, before and after a resume of any world size, and a
Ctrl-C checkpoint under several processes holds the metrics of every rank."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glassgrad.train import checkpoint as ckpt
from glassgrad.train import load_checkpoint
from tests.distributed._launch import ROOT, launch, needs

AT, STOP, BATCH = 3, 5, 16  # as in _rng_script.py


def _phase(backend, world, phase, folder):
    if world == 1:
        res = subprocess.run(
            [sys.executable, str(Path(__file__).parent / "_rng_script.py"), "none", phase, str(folder)],
            env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 0, res.stderr[-3000:]
    else:
        launch(backend, "_rng_script.py", phase, str(folder), n=world, timeout=60)
    return [json.loads((folder / f"{phase}_rank{r}.json").read_text()) for r in range(world)]


def _streams(log):
    """Per step: (dropout mask digest, augmented input digest)."""
    return {step: (mask, inputs) for step, mask, inputs, *_ in log}


def _never_shared(logs):
    a, b = _streams(logs[0]), _streams(logs[1])
    assert a.keys() == b.keys() and a
    for step in a:
        assert a[step][0] != b[step][0], f"ranks drew the same dropout mask at step {step}"
        assert a[step][1] != b[step][1], f"ranks drew the same augmentation at step {step}"


@pytest.mark.parametrize("backend", ["gloo", "mpi"])
def test_same_world_size_resume_gives_each_rank_its_own_streams(tmp_path, backend):
    needs(backend)
    full = _phase(backend, 2, "full", tmp_path)
    _never_shared(full)
    state = load_checkpoint(tmp_path / "mid.pt")
    assert state["step_in_epoch"] == AT and len(state["rank_rng"]) == 2
    resumed = _phase(backend, 2, "resume", tmp_path)
    _never_shared(resumed)
    for rank in range(2):
        # The resumed steps (the rest of epoch 1 and all of epoch 2) draw what the uninterrupted run drew.
        expected = [s for s in full[rank] if s[0] > AT]
        assert [s[:3] for s in resumed[rank]] == [s[:3] for s in expected]
        np.testing.assert_allclose([s[3] for s in resumed[rank]], [s[3] for s in expected], rtol=1e-5)


def test_resume_under_another_world_size_never_shares_a_stream(tmp_path):
    needs("gloo")
    _phase("gloo", 1, "full", tmp_path)
    resumed = _phase("gloo", 2, "resume", tmp_path)
    _never_shared(resumed)
    # Twice the same: the derived streams are deterministic.
    again = _phase("gloo", 2, "resume", tmp_path)
    assert [[s[:3] for s in rank] for rank in again] == [[s[:3] for s in rank] for rank in resumed]


def test_derived_streams_are_deterministic_and_differ_by_rank_epoch_and_step():
    def digest(states):
        return (
            bytes(states["glassgrad"].numpy()),
            states["numpy"][1].tobytes(),
            states["python"][1],
        )

    base = digest(ckpt.derived_rng_states(7, 0, 1, 10))
    assert digest(ckpt.derived_rng_states(7, 0, 1, 10)) == base
    for other in [(8, 0, 1, 10), (7, 1, 1, 10), (7, 0, 2, 10), (7, 0, 1, 11)]:
        changed = digest(ckpt.derived_rng_states(*other))
        assert all(x != y for x, y in zip(changed, base)), other


def test_ctrl_c_on_one_rank_checkpoints_every_rank_with_global_metrics(tmp_path):
    needs("gloo")
    logs = _phase("gloo", 2, "interrupt", tmp_path)
    # Rank 1 alone was interrupted; both stopped after the same step.
    assert [[s[0] for s in log] for log in logs] == [list(range(1, STOP + 1))] * 2
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert (state["epoch"], state["step_in_epoch"], state["global_step"]) == (0, STOP, STOP)
    steps = [s for log in logs for s in log]
    running = state["running"]
    assert running["count"] == sum(s[4] for s in steps) == 2 * STOP * BATCH
    assert running["top1"] == sum(s[5] for s in steps)
    np.testing.assert_allclose(running["loss_sum"], sum(s[3] * s[4] for s in steps), rtol=1e-6)
    assert len(state["rank_rng"]) == 2
    first, second = (bytes(r["rng"]["glassgrad"].numpy()) for r in state["rank_rng"])
    assert first != second
