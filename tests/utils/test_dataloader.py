"""DataLoader: batching, shuffling, seeding, and worker processes."""

import gc
import os
import signal
import time

import numpy as np
import pytest

import glassgrad
from glassgrad.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    SequentialSampler,
    TensorDataset,
    get_worker_info,
)
from glassgrad.vision import transforms as T


class Augmented(Dataset):
    """uint8 HWC images through a random pipeline, plus a draw from glassgrad's global generator."""

    def __init__(self, n=40):
        rng = np.random.default_rng(0)
        self.images = rng.integers(0, 256, (n, 12, 12, 3), dtype=np.uint8)
        self.transform = T.Compose(
            [T.RandomCrop(10, padding=2), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize((0.5,) * 3, (0.25,) * 3)]
        )

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return {"image": self.transform(self.images[i]), "noise": glassgrad.rand(2), "index": i}


class Failing(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"sample {i} is broken")
        return i


class WhoAmI(Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        return np.array([i, -1 if info is None else info.id, os.getpid()])


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(1.5)
        return i


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


def _epochs(loader, n=2):
    return [[{k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in b.items()} for b in loader] for _ in range(n)]


def test_sequential_batches_and_drop_last():
    ds = TensorDataset(glassgrad.arange(10).float(), glassgrad.arange(10))
    loader = DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].dtype == glassgrad.float32
    dropped = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [b[1].tolist() for b in dropped] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_shuffle_is_seeded_by_the_generator_and_changes_each_epoch():
    ds = TensorDataset(glassgrad.arange(20))
    loader = DataLoader(ds, batch_size=5, shuffle=True, generator=glassgrad.Generator().manual_seed(7))
    first = [b[0].tolist() for b in loader]
    second = [b[0].tolist() for b in loader]
    again = DataLoader(ds, batch_size=5, shuffle=True, generator=glassgrad.Generator().manual_seed(7))
    assert first == [b[0].tolist() for b in again]
    assert sorted(sum(first, [])) == list(range(20)) and first != second
    glassgrad.manual_seed(1)
    a = [b[0].tolist() for b in DataLoader(ds, batch_size=5, shuffle=True)]
    glassgrad.manual_seed(1)
    assert a == [b[0].tolist() for b in DataLoader(ds, batch_size=5, shuffle=True)]


def test_sampler_batch_sampler_and_unbatched():
    ds = TensorDataset(glassgrad.arange(6))
    assert [b[0].tolist() for b in DataLoader(ds, batch_size=2, sampler=[5, 0, 3])] == [[5, 0], [3]]
    bs = BatchSampler(SequentialSampler(ds), 4, drop_last=False)
    assert [b[0].tolist() for b in DataLoader(ds, batch_sampler=bs)] == [[0, 1, 2, 3], [4, 5]]
    single = list(DataLoader(ds, batch_size=None))
    assert len(single) == 6 and single[2][0].item() == 2
    with pytest.raises(ValueError, match="either shuffle"):
        DataLoader(ds, shuffle=True, sampler=[0, 1])
    with pytest.raises(ValueError, match="batch_sampler"):
        DataLoader(ds, batch_size=3, batch_sampler=bs)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, prefetch_factor=2)
    DataLoader(ds, pin_memory=True)  # accepted, nothing to pin on the CPU


def test_custom_collate_fn():
    loader = DataLoader(TensorDataset(glassgrad.arange(5)), batch_size=2, collate_fn=lambda s: len(s))
    assert list(loader) == [2, 2, 1]


def test_loading_does_not_disturb_the_main_random_stream():
    glassgrad.manual_seed(0)
    expected = glassgrad.rand(3).tolist()
    glassgrad.manual_seed(0)
    for _ in DataLoader(Augmented(8), batch_size=4, generator=glassgrad.Generator().manual_seed(0)):
        pass
    assert glassgrad.rand(3).tolist() == expected


def test_workers_give_the_same_batches_as_the_main_process():
    def loader(workers):
        return DataLoader(
            Augmented(), batch_size=6, shuffle=True, num_workers=workers, generator=glassgrad.Generator().manual_seed(3)
        )

    serial, parallel = _epochs(loader(0)), _epochs(loader(2))
    assert len(serial[0]) == 7
    for epoch_s, epoch_p in zip(serial, parallel):
        for bs, bp in zip(epoch_s, epoch_p):
            assert bs["image"].shape == (6, 3, 10, 10) or bs["image"].shape == (4, 3, 10, 10)
            np.testing.assert_array_equal(bs["image"], bp["image"])
            np.testing.assert_array_equal(bs["noise"], bp["noise"])
            np.testing.assert_array_equal(bs["index"], bp["index"])
    # Epochs differ from each other, and augmentation really varies within the pipeline.
    assert not np.array_equal(serial[0][0]["index"], serial[1][0]["index"])
    assert len({b["noise"][0, 0].item() for b in serial[0]}) == 7


def test_worker_error_reaches_the_main_process_and_workers_stop():
    loader = DataLoader(Failing(), batch_size=2, num_workers=2)
    it = iter(loader)
    workers = list(it._workers)
    assert next(it).tolist() == [0, 1]
    with pytest.raises(KeyError, match="sample 5 is broken") as info:
        list(it)
    assert "DataLoader worker" in str(info.value)
    assert not any(w.is_alive() for w in workers)


def test_worker_info_init_fn_and_round_robin():
    seen = []
    loader = DataLoader(WhoAmI(), batch_size=3, num_workers=2, worker_init_fn=seen.append)
    batches = [b.numpy() for b in loader]
    assert [b[:, 0].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert [int(b[0, 1]) for b in batches] == [0, 1, 0, 1]
    assert len({int(b[0, 2]) for b in batches}) == 2 and os.getpid() not in {int(b[0, 2]) for b in batches}
    assert seen == []  # worker_init_fn ran in the workers, not here
    assert get_worker_info() is None


def test_persistent_workers_are_reused_and_stay_deterministic():
    loader = DataLoader(WhoAmI(), batch_size=4, num_workers=2, persistent_workers=True)
    pids = [{int(p) for b in loader for p in b.numpy()[:, 2]} for _ in range(2)]
    assert pids[0] == pids[1] and len(pids[0]) == 2
    reference = _epochs(
        DataLoader(Augmented(12), batch_size=4, shuffle=True, generator=glassgrad.Generator().manual_seed(1))
    )
    persistent = DataLoader(
        Augmented(12), batch_size=4, shuffle=True, num_workers=2, persistent_workers=True,
        generator=glassgrad.Generator().manual_seed(1),
    )  # fmt: skip
    for es, ep in zip(reference, _epochs(persistent)):
        for bs, bp in zip(es, ep):
            np.testing.assert_array_equal(bs["image"], bp["image"])
    workers = list(persistent._iterator._workers)
    del persistent
    gc.collect()
    assert not any(w.is_alive() for w in workers)


def test_abandoned_iterator_shuts_its_workers_and_shared_memory_down():
    loader = DataLoader(Augmented(), batch_size=8, num_workers=2)
    it = iter(loader)
    next(it)
    workers, shm = list(it._workers), it._shm_dir
    del it
    gc.collect()
    assert not any(w.is_alive() for w in workers)
    assert shm is None or not os.path.exists(shm)


def test_iterable_dataset_with_and_without_workers():
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    parallel = [b.tolist() for b in DataLoader(Stream(10), batch_size=3, num_workers=2)]
    # Worker 0 streams the even numbers, worker 1 the odd ones; batches alternate between them.
    assert parallel == [[0, 2, 4], [1, 3, 5], [6, 8], [7, 9]]
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(Stream(3), shuffle=True)


def test_out_of_order_delivery_gives_the_same_batches():
    ordered = [b[0].tolist() for b in DataLoader(TensorDataset(glassgrad.arange(20)), batch_size=3, num_workers=2)]
    loose = DataLoader(TensorDataset(glassgrad.arange(20)), batch_size=3, num_workers=2, in_order=False)
    assert sorted(b[0].tolist() for b in loose) == sorted(ordered)


def test_timeout_names_the_wait():
    loader = DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.3)
    with pytest.raises(RuntimeError, match="timed out after 0.3 seconds"):
        next(iter(loader))


class Killed(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


def test_a_killed_worker_is_reported_not_waited_for():
    with pytest.raises(RuntimeError, match=r"exited unexpectedly \(pid \d+ exit code -9\)"):
        list(DataLoader(Killed(), batch_size=2, num_workers=2))


def test_spawned_workers_work_too():
    loader = DataLoader(
        TensorDataset(glassgrad.arange(6)), batch_size=4, num_workers=1, multiprocessing_context="spawn"
    )
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5]]


def test_keyboard_interrupt_while_waiting_stops_the_workers():
    loader = DataLoader(Slow(), batch_size=1, num_workers=2)
    it = iter(loader)
    workers = list(it._workers)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        with pytest.raises(KeyboardInterrupt):
            next(it)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not any(w.is_alive() for w in workers)


@pytest.mark.parametrize("in_order", [True, False])
def test_large_batches_survive_slot_reuse(in_order):
    # 4 x 20,000 float32 = 320 KB per batch: above the inline limit, so batches travel through the
    # workers' shared-memory slots, each reused many times over 3 epochs.
    data = glassgrad.arange(40 * 20000).float().reshape(40, 20000)
    loader = DataLoader(
        TensorDataset(data), batch_size=4, shuffle=True, num_workers=2, prefetch_factor=1, in_order=in_order,
        persistent_workers=True, generator=glassgrad.Generator().manual_seed(0),
    )  # fmt: skip
    for _ in range(3):
        seen = []
        for (x,) in loader:
            rows = x.numpy()
            assert x.shape == (4, 20000)
            np.testing.assert_array_equal(rows, data.numpy()[(rows[:, 0] // 20000).astype(int)])
            seen += (rows[:, 0] // 20000).astype(int).tolist()
        assert sorted(seen) == list(range(40))


def _broken_init(worker_id):
    raise ValueError(f"no setup for worker {worker_id}")


def test_worker_init_fn_errors_are_raised_here():
    with pytest.raises(ValueError, match="worker_init_fn of DataLoader worker 0"):
        list(DataLoader(TensorDataset(glassgrad.arange(4)), batch_size=2, num_workers=1, worker_init_fn=_broken_init))
