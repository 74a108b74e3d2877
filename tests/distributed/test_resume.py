"""A checkpoint written mid-epoch by N processes resumes under M, training the epoch's other samples once."""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from glassgrad.train import load_checkpoint
from tests.distributed._launch import ROOT, launch, needs

N_TRAIN, BATCH, AT = 1500, 32, 10  # the digits' training set; as in _resume_script.py


def _phase(backend, world, phase, folder):
    if world == 1:
        res = subprocess.run(
            [sys.executable, str(Path(__file__).parent / "_resume_script.py"), "none", phase, str(folder)],
            env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode == 0, res.stderr[-3000:]
    else:
        launch(backend, "_resume_script.py", phase, str(folder), n=world, timeout=120)
    return [json.loads((folder / f"{phase}_rank{r}.json").read_text()) for r in range(world)]


@pytest.mark.parametrize("backend, before, after", [("gloo", 2, 1), ("gloo", 1, 2), ("mpi", 1, 2)])
def test_a_mid_epoch_checkpoint_resumes_under_another_world_size(tmp_path, backend, before, after):
    needs(backend)
    written = _phase(backend, before, "write", tmp_path)
    state = load_checkpoint(tmp_path / "mid.pt")
    assert (state["epoch"], state["step_in_epoch"], state["world_size"]) == (0, AT, before)
    assert len(state["remaining"]) == N_TRAIN - AT * BATCH * before
    # The running metrics it holds count every rank's samples so far.
    assert state["running"]["count"] == AT * BATCH * before
    resumed = _phase(backend, after, "resume", tmp_path)
    done = [i for rank in written for step, fetched in rank if step <= AT for i in fetched]
    rest = [i for rank in resumed for step, fetched in rank for i in fetched]
    assert sorted(rest) == sorted(state["remaining"].tolist())
    counts = Counter(done + rest)
    assert set(counts) == set(range(N_TRAIN)) and set(counts.values()) == {1}, Counter(counts.values())
    # The resumed steps number on from the checkpoint's, equally on every rank.
    steps = [[step for step, _ in rank] for rank in resumed]
    per_rank = -(-(N_TRAIN - AT * BATCH * before) // after // BATCH)
    assert all(s == list(range(AT + 1, AT + 1 + per_rank)) for s in steps), steps
