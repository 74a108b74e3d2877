"""Run by tests/distributed/test_rng_streams.py: train with dropout and random augmentation, logging each step.

argv: backend ("none": one process, no group) phase ("full", "resume" or "interrupt") folder. Every rank writes
folder/<phase>_rank<r>.json: per step [step, dropout mask digest, input digest, loss, images, top1 hits].
"full" trains 2 epochs with a checkpoint every AT steps and keeps the one after step AT as folder/mid.pt;
"resume" finishes the 2 epochs from it; "interrupt" has rank WORLD-1 alone press Ctrl-C after step STOP.
"""

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np

import glassgrad as gg
import glassgrad.distributed as dist
from glassgrad import nn
from glassgrad.train import Callback, Trainer
from glassgrad.train import distributed as tdist
from glassgrad.utils.data import DataLoader, Dataset

AT, STOP, BATCH, SEED = 3, 5, 16, 7
backend, phase, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
world = None
if backend != "none":
    dist.init_process_group(backend, timeout=30)
    world = tdist.World(dist.get_rank(), dist.get_world_size(), backend)
rank, size = (0, 1) if world is None else (world.rank, world.size)


def digest(array):
    return hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


class Noisy(Dataset):
    """256 fixed vectors in 10 classes, each fetched with fresh noise from glassgrad's stream (an augmentation)."""

    def __init__(self):
        source = np.random.RandomState(0)
        self.x = source.randn(256, 16).astype(np.float32)
        self.y = source.randint(0, 10, 256)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return gg.tensor(self.x[i]) + 0.1 * gg.randn(16), int(self.y[i])


class Log(Callback):
    def __init__(self):
        self.steps, self.mask, self.inputs = [], None, None

    def on_step_end(self, trainer, step, record):
        top1 = round(record["top1"] * record["images"])
        self.steps.append([step, self.mask, self.inputs, record["loss"], record["images"], top1])
        if phase == "full" and step == AT + 1 and rank == 0:
            shutil.copy(folder / "checkpoint.pt", folder / "mid.pt")
        if phase == "interrupt" and step == STOP and rank == size - 1:
            trainer._stop_requested = True  # what the SIGINT handler does, on this rank only


gg.manual_seed(SEED + 1000 * rank)  # as `glassgrad train` seeds each rank
loader = DataLoader(Noisy(), batch_size=BATCH, shuffle=True, generator=gg.Generator().manual_seed(SEED))
if world is None:
    loader = tdist.recorded_loader(loader)
else:
    loader = tdist.shard_loader(loader, world, seed=SEED, generator_seed=SEED + 1000 * rank)
model = nn.Sequential(nn.Linear(16, 64), nn.Dropout(0.5), nn.ReLU(), nn.Linear(64, 10))
log = Log()
model[1].register_forward_hook(lambda m, inputs, out: setattr(log, "mask", digest(out.detach().numpy() != 0)))
model[0].register_forward_hook(lambda m, inputs, out: setattr(log, "inputs", digest(inputs[0].detach().numpy())))
trainer = Trainer(
    model,
    gg.optim.SGD(model.parameters(), lr=0.1),
    nn.CrossEntropyLoss(),
    loader,
    out_dir=folder if rank == 0 else None,
    callbacks=[log],
    progress=False,
    report=False,
    config={"seed": SEED},
    checkpoint_every=AT if phase == "full" else None,
)
if world is not None:
    trainer.parallel = nn.parallel.DistributedDataParallel(model)
    trainer.metrics_reducer = tdist.reduce_running
    trainer.callbacks.append(tdist.epoch_callback())
if phase == "resume":
    trainer.resume(folder / "mid.pt")
try:
    trainer.fit(2)
except KeyboardInterrupt:
    assert phase == "interrupt"
(folder / f"{phase}_rank{rank}.json").write_text(json.dumps(log.steps))
if world is not None:
    dist.destroy_process_group()
print(f"OK rank {rank}")
