"""Distributed training on this machine: all-reduce bandwidth per engine, and DDP steps at 2 processes.

    python benchmarks/bench_distributed.py            # both engines, ResNet-20 and SimpleCNN
    python benchmarks/bench_distributed.py --quick    # fewer sizes and steps

1. All-reduce (sum, float32, in place) between 2 local processes for messages of 4 KB to 64 MB:
   median time and bus bandwidth, bytes * 2(N-1)/N / time (the ring's traffic per process).
2. A training step (forward, backward, SGD) of ResNet-20 (CIFAR, 3x32x32) and of the SimpleCNN
   (digits, 1x8x8) at the same global batch: 1 process x B against 2 processes x B/2 under
   DistributedDataParallel (25 MB buckets). "comm" is the time the step's gradient all-reduces
   take when run alone and blocking; "exposed" is what backward still waited for at its end;
   hidden = 1 - exposed / comm is the share of communication that overlapped backward.
Each process runs on one thread (GLASSGRAD_NUM_THREADS=1), as ``glassgrad train --nproc`` runs them.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20]
MODELS = {"resnet20": ((3, 32, 32), 10, 32), "simple_cnn": ((1, 8, 8), 10, 64)}


# -- worker side -----------------------------------------------------------------------------------


def _allreduce(sizes, seconds):
    import numpy as np

    import glassgrad as gg
    import glassgrad.distributed as dist

    rows = []
    for nbytes in sizes:
        t = gg.tensor(np.ones(nbytes // 4, dtype=np.float32))
        dist.all_reduce(t)  # warm-up: connections, buffers
        start = time.perf_counter()
        dist.all_reduce(t)
        # Both ranks must run the same number of collectives: rank 0's estimate decides.
        reps = gg.tensor([min(200.0, max(5.0, seconds / max(time.perf_counter() - start, 1e-6)))])
        dist.broadcast(reps, 0)
        times = []
        for _ in range(int(reps.item())):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - start)
        med = statistics.median(times)
        n = dist.get_world_size()
        rows.append({"bytes": nbytes, "time_ms": 1e3 * med, "busbw_GBs": nbytes * 2 * (n - 1) / n / med / 1e9})
    return rows


def _step_setup(name, batch):
    import numpy as np

    import glassgrad as gg
    from glassgrad import nn
    from glassgrad.vision.models import get_model, model_options

    shape, classes, _ = MODELS[name]
    kwargs = {"num_classes": classes, "in_channels": shape[0], "input_size": list(shape[1:])}
    options = model_options(name)
    if "activation" in options:  # the SimpleCNN as `glassgrad train` builds it
        kwargs.update(activation="relu", batch_norm=True)
    gg.manual_seed(0)
    model = get_model(name, **kwargs)
    rng = np.random.default_rng(0)
    x = gg.tensor(rng.standard_normal((batch, *shape)).astype(np.float32))
    y = gg.tensor(rng.integers(0, classes, batch))
    return model, x, y, nn.CrossEntropyLoss()


def _ddp_steps(name, batch, steps):
    import glassgrad as gg
    import glassgrad.distributed as dist
    from glassgrad.nn.parallel import DistributedDataParallel

    model, x, y, loss_fn = _step_setup(name, batch)
    ddp = DistributedDataParallel(model)
    opt = gg.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    times, backward, exposed = [], [], []
    for i in range(steps + 2):
        dist.barrier()
        start = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(ddp(x), y)
        mid = time.perf_counter()
        loss.backward()
        end = time.perf_counter()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - start)
            backward.append(end - mid)
            exposed.append(ddp.last_wait_s)
    # The same buckets reduced alone, blocking, one after another: the communication to hide.
    comm = []
    for _ in range(max(3, steps // 2)):
        dist.barrier()
        start = time.perf_counter()
        for bucket in ddp._buckets:
            dist.all_reduce(gg.Tensor._wrap(bucket.buffer))
        comm.append(time.perf_counter() - start)
    med = statistics.median
    return {
        "step_ms": 1e3 * med(times),
        "backward_ms": 1e3 * med(backward),
        "exposed_ms": 1e3 * med(exposed),
        "comm_ms": 1e3 * med(comm),
        "buckets": len(ddp._buckets),
        "grad_MB": sum(b.nbytes for b in ddp._buckets) / 1e6,
    }


def _single_steps(name, batch, steps):
    import glassgrad as gg

    model, x, y, loss_fn = _step_setup(name, batch)
    opt = gg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    times = []
    for i in range(steps + 2):
        start = time.perf_counter()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return {"step_ms": 1e3 * statistics.median(times)}


def worker(argv):
    import glassgrad.distributed as dist

    backend, out, quick = argv[0], argv[1], argv[2] == "1"
    dist.init_process_group(backend, timeout=600)
    sizes = SIZES[::2] + SIZES[-1:] if quick else SIZES
    result = {"allreduce": _allreduce(sizes, 0.3 if quick else 1.0), "ddp": {}}
    for name, (_, _, global_batch) in MODELS.items():
        result["ddp"][name] = _ddp_steps(name, global_batch // dist.get_world_size(), 3 if quick else 8)
    if dist.get_rank() == 0:
        Path(out).write_text(json.dumps(result))
    dist.destroy_process_group()


# -- parent side -----------------------------------------------------------------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT), GLASSGRAD_NUM_THREADS="1", OMP_NUM_THREADS="1")


def run_engine(backend, quick, out):
    me = [sys.executable, str(Path(__file__).resolve()), "--worker", backend, str(out), "1" if quick else "0"]
    env = _env()
    if backend == "mpi":
        mpiexec = Path(sys.executable).parent / "mpiexec"
        subprocess.run([str(mpiexec), "-n", "2", *me], env=env, check=True, timeout=3600)
    else:
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE="2")
        procs = [subprocess.Popen(me, env=dict(env, RANK=str(r))) for r in range(2)]
        codes = [p.wait(timeout=3600) for p in procs]
        if any(codes):
            raise SystemExit(f"gloo workers failed: exit codes {codes}")
    return json.loads(Path(out).read_text())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and steps")
    parser.add_argument("--engines", default="mpi,gloo", help="comma-separated: mpi, gloo")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker)
    import tempfile

    os.environ.update(GLASSGRAD_NUM_THREADS="1", OMP_NUM_THREADS="1")
    single = {name: _single_steps(name, b, 3 if args.quick else 8)["step_ms"] for name, (_, _, b) in MODELS.items()}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.engines.split(","):
            results[backend] = run_engine(backend, args.quick, Path(tmp) / f"{backend}.json")
    print("\nAll-reduce, 2 processes, float32 sum in place (bus bandwidth = bytes * 2(N-1)/N / time)")
    print(f"{'size':>8} " + " ".join(f"{b + ' ms':>10} {b + ' GB/s':>10}" for b in results))
    sizes = [row["bytes"] for row in next(iter(results.values()))["allreduce"]]
    for i, nbytes in enumerate(sizes):
        label = f"{nbytes >> 20} MB" if nbytes >= 1 << 20 else f"{nbytes >> 10} KB"
        cells = " ".join(
            f"{r['allreduce'][i]['time_ms']:>10.3f} {r['allreduce'][i]['busbw_GBs']:>10.2f}" for r in results.values()
        )
        print(f"{label:>8} {cells}")
    print("\nDDP step at the same global batch: 1 process x B against 2 processes x B/2")
    print(f"{'model':>11} {'engine':>6} {'B':>4} {'1 proc ms':>10} {'2 proc ms':>10} {'speed-up':>9} "
          f"{'backward':>9} {'comm ms':>8} {'exposed':>8} {'hidden':>7} {'grads MB':>9}")  # fmt: skip
    for name, (_, _, b) in MODELS.items():
        for backend, r in results.items():
            d = r["ddp"][name]
            hidden = max(0.0, 1 - d["exposed_ms"] / d["comm_ms"]) if d["comm_ms"] > 0 else 0.0
            print(
                f"{name:>11} {backend:>6} {b:>4} {single[name]:>10.1f} {d['step_ms']:>10.1f} "
                f"{single[name] / d['step_ms']:>8.2f}x {d['backward_ms']:>9.1f} {d['comm_ms']:>8.2f} "
                f"{d['exposed_ms']:>8.2f} {100 * hidden:>6.0f}% {d['grad_MB']:>9.2f}"
            )


if __name__ == "__main__":
    main()
