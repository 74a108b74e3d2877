"""Run by tests/distributed with 2 processes: DistributedDataParallel and SyncBatchNorm, for one engine.

Each rank also trains the single-process reference itself (1 process x batch 64) and compares.
"""

import sys

import numpy as np

import glassgrad as gg
import glassgrad.distributed as dist
from glassgrad import nn
from glassgrad.nn.parallel import DistributedDataParallel as DDP

backend = sys.argv[1]
dist.init_process_group(backend, timeout=60)
r, n = dist.get_rank(), dist.get_world_size()
assert n == 2


def cnn(seed):
    gg.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(6 * 4 * 4, 10),
    )


def state(model):
    return {k: v.numpy().astype(np.float64) for k, v in model.state_dict().items()}


rng = np.random.default_rng(0)
X = rng.standard_normal((20, 64, 1, 8, 8)).astype(np.float32)
Y = rng.integers(0, 10, (20, 64))
loss_fn = nn.CrossEntropyLoss()

# -- the single-process reference: batch 64, plain BatchNorm -------------------------------------
ref = cnn(0)
opt = gg.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
for step in range(20):
    opt.zero_grad()
    loss_fn(ref(gg.tensor(X[step])), gg.tensor(Y[step])).backward()
    opt.step()

# -- 2 processes x batch 32, SyncBatchNorm, small buckets so that several overlap backward -------
model = nn.SyncBatchNorm.convert_sync_batchnorm(cnn(100 + r))  # different init: DDP must broadcast rank 0's
assert isinstance(model[1], nn.SyncBatchNorm) and isinstance(model[5], nn.SyncBatchNorm)
if r == 0:  # rank 0 holds the reference's initial weights
    model.load_state_dict(cnn(0).state_dict())
ddp = DDP(model, bucket_cap_mb=0.001)
assert len(ddp._buckets) > 2, len(ddp._buckets)
opt = gg.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
share = slice(32 * r, 32 * r + 32)
for step in range(20):
    opt.zero_grad()
    loss_fn(ddp(gg.tensor(X[step][share])), gg.tensor(Y[step][share])).backward()
    opt.step()
# The all-reduces started from hooks while backward was still running, one bucket after another.
n_params = len(list(model.parameters()))
assert len(ddp.launch_points) == len(ddp._buckets) and ddp.launch_points[0] < n_params, ddp.launch_points
assert ddp.launch_points == sorted(ddp.launch_points)
want, got = state(ref), state(ddp.module)
assert set(want) == set(got)
worst = 0.0
for k in want:
    rel = np.abs(got[k] - want[k]).max() / max(np.abs(want[k]).max(), 1e-12)
    worst = max(worst, rel)
    assert rel < 1e-5, f"{k}: relative difference {rel:.2e} after 20 steps"
print(f"rank {r}: 20 SGD-momentum steps match 1 process x 64 within {worst:.1e} relative")

# -- state_dict keys carry the module. prefix and load back into the bare module ------------------
sd = ddp.state_dict()
assert all(k.startswith("module.") for k in sd), list(sd)[:3]
assert sorted(k[len("module.") :] for k in sd) == sorted(model.state_dict())
plain = cnn(7)
plain.load_state_dict({k[len("module.") :]: v for k, v in sd.items()})
ddp.load_state_dict(sd)
assert ddp.module is model

# -- no_sync: local accumulation, one averaged all-reduce at the end -----------------------------
gg.manual_seed(3)
lin = nn.Linear(5, 3)
ref_lin = nn.Linear(5, 3)
ref_lin.load_state_dict(lin.state_dict())
dlin = DDP(lin)
XA = rng.standard_normal((2, 32, 5)).astype(np.float32)  # two micro-batches of 32 = 2 ranks x 16
TA = rng.standard_normal((2, 32, 3)).astype(np.float32)
mse = nn.MSELoss()
mine = slice(16 * r, 16 * r + 16)
with dlin.no_sync():
    mse(dlin(gg.tensor(XA[0][mine])), gg.tensor(TA[0][mine])).backward()
local = lin.weight.grad.numpy().copy()
gl = [gg.zeros(*local.shape), gg.zeros(*local.shape)]
dist.all_gather(gl, gg.tensor(local))
assert not np.allclose(gl[0].numpy(), gl[1].numpy()), "no_sync averaged the gradients"
mse(dlin(gg.tensor(XA[1][mine])), gg.tensor(TA[1][mine])).backward()
for k in range(2):  # reference: each micro-batch's mean loss over both ranks' 32 samples, summed
    mse(ref_lin(gg.tensor(XA[k])), gg.tensor(TA[k])).backward()
np.testing.assert_allclose(lin.weight.grad.numpy(), ref_lin.weight.grad.numpy(), rtol=1e-5, atol=1e-7)
np.testing.assert_allclose(lin.bias.grad.numpy(), ref_lin.bias.grad.numpy(), rtol=1e-5, atol=1e-7)


# -- find_unused_parameters ----------------------------------------------------------------------
class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 2)
        self.b = nn.Linear(4, 2)

    def forward(self, x):
        return self.a(x)


gg.manual_seed(4)
x4 = gg.tensor(rng.standard_normal((8, 4)).astype(np.float32))
strict = DDP(TwoHeads())
try:
    strict(x4).sum().backward()
except RuntimeError as e:
    assert "find_unused_parameters=True" in str(e) and "b.weight" in str(e), e
else:
    raise AssertionError("an unused parameter did not raise without find_unused_parameters")
loose = DDP(TwoHeads(), find_unused_parameters=True)
loose(x4 * (r + 1)).sum().backward()
want_w = np.tile(1.5 * x4.numpy().sum(0), (2, 1))  # the mean over ranks of (r + 1) * sum of rows
np.testing.assert_allclose(loose.module.a.weight.grad.numpy(), want_w, rtol=1e-5)
assert loose.module.b.weight.grad is None  # no rank used it: PyTorch leaves .grad alone


class OneRankBranch(TwoHeads):
    def forward(self, x):
        return self.a(x) + (self.b(x) if r == 1 else 0)


gg.manual_seed(5)
half = DDP(OneRankBranch(), find_unused_parameters=True)
half(x4).sum().backward()
# Rank 1 used b, rank 0 did not: both get the average (rank 1's gradient / 2).
np.testing.assert_allclose(half.module.b.bias.grad.numpy(), [4.0, 4.0], rtol=1e-6)

dist.destroy_process_group()
print(f"OK rank {r}")
