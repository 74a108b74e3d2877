"""Run by tests/distributed with 2 processes: every collective's values, for one engine (argv[1])."""

import sys

import numpy as np

import glassgrad as gg
import glassgrad.distributed as dist

backend = sys.argv[1]
dist.init_process_group(backend, timeout=30)
r, n = dist.get_rank(), dist.get_world_size()
assert n == 2 and dist.is_initialized() and dist.get_backend() == backend
for dt in (gg.float32, gg.float64):
    base = np.arange(6, dtype=np.float64).reshape(2, 3)
    vals = [base + 10 * k for k in range(n)]
    mine = vals[r]
    for op, want in [
        (dist.ReduceOp.SUM, sum(vals)),
        (dist.ReduceOp.AVG, sum(vals) / n),
        (dist.ReduceOp.MAX, np.maximum(*vals)),
        (dist.ReduceOp.MIN, np.minimum(*vals)),
        (dist.ReduceOp.PRODUCT, vals[0] * vals[1]),
    ]:
        t = gg.tensor(mine, dtype=dt)
        ptr = t.array.ctypes.data
        dist.all_reduce(t, op)
        assert t.array.ctypes.data == ptr, "all_reduce copied"
        np.testing.assert_allclose(t.array, want, rtol=1e-6, err_msg=f"all_reduce {op}")
        t = gg.tensor(mine, dtype=dt)
        dist.all_reduce(t, op, async_op=True).wait()
        np.testing.assert_allclose(t.array, want, rtol=1e-6, err_msg=f"async all_reduce {op}")
        t = gg.tensor(mine, dtype=dt)
        dist.reduce(t, 1, op)
        if r == 1:
            np.testing.assert_allclose(t.array, want, rtol=1e-6, err_msg=f"reduce {op}")
    t = gg.tensor(mine, dtype=dt)
    dist.broadcast(t, 1)
    np.testing.assert_array_equal(t.array, vals[1])
    lst = [gg.zeros(2, 3, dtype=dt) for _ in range(n)]
    dist.all_gather(lst, gg.tensor(mine, dtype=dt))
    for k in range(n):
        np.testing.assert_array_equal(lst[k].array, vals[k])
    out = gg.zeros(4, 3, dtype=dt)
    dist.all_gather_into_tensor(out, gg.tensor(mine, dtype=dt))
    np.testing.assert_array_equal(out.array, np.concatenate(vals))
    gl = [gg.zeros(2, 3, dtype=dt) for _ in range(n)] if r == 0 else None
    dist.gather(gg.tensor(mine, dtype=dt), gl, dst=0)
    if r == 0:
        for k in range(n):
            np.testing.assert_array_equal(gl[k].array, vals[k])
    t = gg.zeros(2, 3, dtype=dt)
    dist.scatter(t, [gg.tensor(v, dtype=dt) for v in vals] if r == 0 else None, src=0)
    np.testing.assert_array_equal(t.array, vals[r])
    t = gg.zeros(2, 3, dtype=dt)
    dist.reduce_scatter(t, [gg.tensor(v + r, dtype=dt) for v in vals])
    np.testing.assert_allclose(t.array, 2 * vals[r] + 1)
    t = gg.tensor(mine, dtype=dt)
    if r == 0:
        dist.send(t, 1)
    else:
        dist.recv(t, 0)
        np.testing.assert_array_equal(t.array, vals[0])
dist.barrier()
g = dist.new_group([0, 1])
t = gg.tensor([float(r + 1)])
dist.all_reduce(t, group=g)
assert t.item() == 3.0
dist.destroy_process_group()
print(f"OK rank {r}")
