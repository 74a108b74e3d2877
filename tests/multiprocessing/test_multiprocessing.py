import os
import pickle
import signal
from pathlib import Path

import numpy as np
import pytest

import glassgrad as gg
import glassgrad.multiprocessing as mp
from glassgrad import nn


def _shm_files():
    return {p.name for p in Path("/dev/shm").glob(f"glassgrad_{os.getpid()}_*")} if Path("/dev/shm").is_dir() else set()


def _write_rank(rank, t):
    assert t.is_shared()
    t[rank] = rank + 10.0


def _hogwild(rank, model, x, y, steps):
    opt = gg.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(gg.tensor(x)), gg.tensor(y)).backward()
        opt.step()


def _fail(rank):
    if rank == 1:
        raise ValueError("boom on purpose")


def _die(rank):
    if rank == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    import time

    time.sleep(60)


def test_share_memory_in_place_and_is_shared():
    t = gg.arange(6.0).reshape(2, 3)
    assert not t.is_shared()
    assert t.share_memory_() is t and t.is_shared()
    np.testing.assert_array_equal(t.numpy(), [[0, 1, 2], [3, 4, 5]])
    assert t[1].is_shared()  # a view of shared memory is shared
    m = nn.Linear(3, 2).share_memory()
    assert all(p.is_shared() for p in m.parameters())
    with pytest.raises(TypeError, match="no pickle"):
        pickle.dumps(m.weight)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_writes_in_children_are_visible(method):
    t = gg.zeros(2).share_memory_()
    mp.start_processes(_write_rank, args=(t,), nprocs=2, start_method=method)
    np.testing.assert_array_equal(t.numpy(), [10.0, 11.0])


def test_hogwild_training_updates_the_shared_model():
    gg.manual_seed(0)
    model = nn.Linear(4, 1)
    model.share_memory()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)
    before = nn.functional.mse_loss(model(gg.tensor(x)), gg.tensor(y)).item()
    mp.spawn(_hogwild, args=(model, x, y, 40), nprocs=2)
    after = nn.functional.mse_loss(model(gg.tensor(x)), gg.tensor(y)).item()
    assert after < 0.2 * before, (before, after)


def test_error_in_child_names_the_rank():
    with pytest.raises(mp.ProcessRaisedException, match="Process 1 terminated with the following error") as e:
        mp.start_processes(_fail, nprocs=2, start_method="fork")
    assert "ValueError: boom on purpose" in str(e.value) and e.value.error_index == 1


def test_killed_child_stops_the_others():
    with pytest.raises(mp.ProcessExitedException, match="process 1 terminated with signal SIGKILL"):
        ctx = mp.start_processes(_die, nprocs=2, join=False, start_method="fork")
        try:
            while not ctx.join(timeout=30):
                pass
        finally:
            assert not any(p.is_alive() for p in ctx.processes)


def test_queue_carries_shared_tensors():
    q = mp.get_context("spawn").Queue()
    t = gg.ones(3)
    q.put(t)
    got = q.get(timeout=10)
    assert t.is_shared() and got.is_shared()
    got[0] = 5.0
    assert t[0].item() == 5.0


def test_segments_are_removed_when_freed():
    before = _shm_files()
    t = gg.zeros(1000).share_memory_()
    assert len(_shm_files() - before) == 1
    del t
    import gc

    gc.collect()
    assert _shm_files() - before == set()
