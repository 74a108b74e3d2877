"""Run by tests/distributed/test_resume.py: train the digits with mid-epoch checkpoints, or resume one.

argv: backend ("none": one process, no group) phase ("write" or "resume") folder. Every rank logs the
dataset indices it trained at each step into folder/<phase>_rank<r>.json. In "write", the checkpoint
written after step CHECKPOINT_AT is kept as folder/mid.pt; "resume" finishes epoch 1 from it.
"""

import json
import shutil
import sys
from pathlib import Path

import glassgrad as gg
import glassgrad.distributed as dist
from glassgrad import nn
from glassgrad.train import Callback, Trainer
from glassgrad.train import distributed as tdist
from glassgrad.utils.data import DataLoader, Dataset
from glassgrad.vision.datasets import Digits

CHECKPOINT_AT, BATCH = 10, 32
backend, phase, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
world = None
if backend != "none":
    dist.init_process_group(backend, timeout=30)
    world = tdist.World(dist.get_rank(), dist.get_world_size(), backend)
rank = 0 if world is None else world.rank


class Logged(Dataset):
    """The digits as flat vectors, noting which indices were fetched."""

    def __init__(self):
        self.digits = Digits(train=True)
        self.fetched = []

    def __len__(self):
        return len(self.digits)

    def __getitem__(self, i):
        self.fetched.append(int(i))
        image, label = self.digits[i]
        return gg.tensor(image, dtype=gg.float32).reshape(-1) / 16.0, label


class Log(Callback):
    def __init__(self, data):
        self.data, self.steps = data, []

    def on_step_end(self, trainer, step, record):
        self.steps.append([step, self.data.fetched])
        self.data.fetched = []
        if phase == "write" and step == CHECKPOINT_AT + 1 and rank == 0:
            shutil.copy(folder / "checkpoint.pt", folder / "mid.pt")


gg.manual_seed(0)
data = Logged()
loader = DataLoader(data, batch_size=BATCH, shuffle=True, generator=gg.Generator().manual_seed(0))
if world is None:
    loader = tdist.recorded_loader(loader)
else:
    loader = tdist.shard_loader(loader, world, seed=0, generator_seed=1000 * rank)
model = nn.Linear(64, 10)
log = Log(data)
trainer = Trainer(
    model,
    gg.optim.SGD(model.parameters(), lr=0.1),
    nn.CrossEntropyLoss(),
    loader,
    out_dir=folder if rank == 0 else None,
    callbacks=[log],
    progress=False,
    report=False,
    checkpoint_every=CHECKPOINT_AT if phase == "write" else None,
)
if world is not None:
    trainer.parallel = nn.parallel.DistributedDataParallel(model)
    trainer.metrics_reducer = tdist.reduce_running
    trainer.callbacks.append(tdist.epoch_callback())
if phase == "resume":
    trainer.resume(folder / "mid.pt")
    assert trainer.resuming_mid_epoch
trainer.fit(1)
(folder / f"{phase}_rank{rank}.json").write_text(json.dumps(log.steps))
if world is not None:
    dist.destroy_process_group()
print(f"OK rank {rank}")
