"""glassgrad.backend.memory: large arrays reuse the blocks of arrays that died, never a block in use."""

import gc
import threading

import numpy as np
import pytest

import glassgrad
from glassgrad.backend import memory

BIG = (256, 1024)  # 1 MiB of float32: cached
SMALL = (16, 16)


@pytest.fixture(autouse=True)
def fresh_cache():
    memory.empty_cache()
    saved = memory.limit()
    yield
    memory.set_limit(saved)
    memory.empty_cache()


def address(array):
    return array.__array_interface__["data"][0]


def test_empty_is_an_ordinary_writable_array():
    a = memory.empty(BIG, np.float32)
    assert a.shape == BIG and a.dtype == np.float32
    assert a.flags.c_contiguous and a.flags.writeable and a.flags.aligned
    a[...] = 2.5
    assert float(a.sum()) == 2.5 * a.size


def test_a_dead_arrays_block_is_reused_for_the_same_size():
    a = memory.empty(BIG, np.float32)
    where = address(a)
    del a
    assert memory.cached_bytes() == 4 * BIG[0] * BIG[1]
    b = memory.empty((BIG[1], BIG[0]), np.float32)  # same bytes, other shape
    assert address(b) == where
    assert memory.cached_bytes() == 0
    c = memory.empty(BIG, np.float64)  # twice the bytes: a new block
    assert address(c) != where


@pytest.mark.parametrize(
    "make_view",
    [
        lambda a: a[1:, ::2].T,
        lambda a: a.reshape(-1)[5:],
        np.asarray,
        glassgrad.from_numpy,
    ],
    ids=["strided", "reshaped", "asarray", "tensor"],
)
def test_a_view_keeps_the_block_in_use(make_view):
    a = memory.empty(BIG, np.float32)
    a[...] = 7
    view = make_view(a)
    del a
    gc.collect()
    b = memory.empty(BIG, np.float32)
    b[...] = -1
    seen = view.numpy() if isinstance(view, glassgrad.Tensor) else view
    assert not np.shares_memory(b, seen)
    assert (seen == 7).all()


def test_the_block_comes_back_when_the_last_view_dies():
    a = memory.empty(BIG, np.float32)
    where = address(a)
    view = a.T
    del a
    assert memory.cached_bytes() == 0
    del view
    assert address(memory.empty(BIG, np.float32)) == where


def test_shape_as_an_int():
    a = memory.empty(1 << 20, np.uint8)
    assert a.shape == (1 << 20,)
    assert memory.zeros(4, np.float64).tolist() == [0.0] * 4


def test_small_arrays_are_not_cached():
    a = memory.empty(SMALL, np.float32)
    assert a.shape == SMALL
    del a
    assert memory.cached_bytes() == 0


def test_zeros_clears_a_reused_block():
    a = memory.empty(BIG, np.float32)
    a[...] = np.nan
    del a
    z = memory.zeros(BIG, np.float32)
    assert not z.any()


def test_block_sizes_are_powers_of_two():
    assert memory.block_bytes(1 << 20) == 1 << 20
    assert memory.block_bytes((1 << 20) + 1) == 1 << 21
    assert memory.block_bytes(3 << 20) == 1 << 22
    a = memory.empty((3, 1 << 20), np.uint8)
    assert a.nbytes == 3 << 20 and a.shape == (3, 1 << 20)
    where = address(a)
    del a
    assert memory.cached_bytes() == 1 << 22
    b = memory.empty((1 << 20) - 5, np.float32)  # another size that rounds to 4 MiB
    assert address(b) == where and b.size == (1 << 20) - 5


def test_idle_blocks_may_reach_twice_the_peak_in_use():
    block = 4 * BIG[0] * BIG[1]
    memory.set_limit(block)
    held = [memory.empty(BIG, np.float32) for _ in range(3)]  # a peak of 3 blocks in use
    del held
    assert memory.cached_bytes() == 3 * block  # within 2 x 3 blocks
    memory.empty_cache()  # forgets the peak: the limit alone bounds the idle blocks again
    held = [memory.empty(BIG, np.float32) for _ in range(1)]
    del held
    assert memory.cached_bytes() == block


def test_limit_zero_turns_the_cache_off():
    block = 4 * BIG[0] * BIG[1]
    a, b, c = (memory.empty(BIG, np.float32) for _ in range(3))
    del a, b, c
    assert memory.cached_bytes() == 3 * block
    memory.set_limit(0)
    assert memory.cached_bytes() == 0
    d = memory.empty(BIG, np.float32)
    del d
    assert memory.cached_bytes() == 0  # 0 turns caching off
    with pytest.raises(ValueError, match="nbytes must be >= 0, got -1"):
        memory.set_limit(-1)


def test_empty_cache_frees_idle_blocks_only():
    kept = memory.empty(BIG, np.float32)
    kept[...] = 3
    dropped = memory.empty(BIG, np.float32)
    del dropped
    memory.empty_cache()
    assert memory.cached_bytes() == 0
    assert (kept == 3).all()


def test_threads_never_share_a_block():
    errors = []

    def work(value):
        for _ in range(50):
            a = memory.empty(BIG, np.float32)
            a[...] = value
            b = memory.empty(BIG, np.float32)
            b[...] = -value
            if not ((a == value).all() and (b == -value).all()):
                errors.append(value)
            del a, b

    threads = [threading.Thread(target=work, args=(i + 1,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_op_outputs_use_the_cache_and_stay_correct(rng):
    x = rng.standard_normal((64, 16, 16, 16)).astype(np.float32)  # 1 MiB
    first = glassgrad.nn.functional.relu(glassgrad.from_numpy(x))
    where = address(first.numpy())
    expected = np.maximum(x, 0)
    np.testing.assert_array_equal(first.numpy(), expected)
    del first
    again = glassgrad.nn.functional.relu(glassgrad.from_numpy(-x))
    if glassgrad.backend.BACKEND == "numba":
        assert address(again.numpy()) == where
    np.testing.assert_array_equal(again.numpy(), np.maximum(-x, 0))
