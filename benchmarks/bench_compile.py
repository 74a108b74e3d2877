"""glassgrad.compile against eager glassgrad and PyTorch, in one process, in CPU time and wall time.

    python benchmarks/bench_compile.py [--reps 30] [--threads 2]

The cases where per-op overhead counts: a tiny MLP (8-16-16-4, batch 1) where nearly all the time
is dispatch, training steps of an MLP 784-512-512-10 at batch 16, 64 and 256, and batch-1
inference of ResNet-20 and MobileNetV2 (CIFAR). Eager, compiled and PyTorch run in rotation after
warm-up, so that load from other processes falls on all three alike; CPU time
(``time.process_time``) is less disturbed by such load than wall time, so both are given.
"""

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import _common  # noqa: E402
import suite  # noqa: E402


def _cases(gg, torch):
    tiny = {}
    for fw in (gg, torch):
        fw.manual_seed(0)
        nn = fw.nn
        tiny[fw] = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
    tiny[torch].load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in tiny[gg].state_dict().items()})
    x = {fw: fw.ones(1, 8) for fw in (gg, torch)}

    def step(fw, model):
        def run():
            model(x[fw]).sum().backward()

        return run

    yield (
        "tiny mlp 8-16-16-4 forward+backward b1",
        step(gg, tiny[gg]),
        step(gg, gg.compile(tiny[gg])),
        step(torch, tiny[torch]),
    )
    for batch in suite.MLP_BATCHES:
        fns, extra = suite._train_pair(gg, torch, "mlp", batch, (784,), compiled=True)
        yield f"mlp 784-512-512-10 train step b{batch}", fns[0], extra["compiled_fn"], fns[1]
    for name in suite.LATENCY_NETS:
        fns, extra = suite._infer_pair(gg, torch, name, 1, (3, 32, 32), compiled=True)
        if extra["compiled_max_abs_diff"] > 1e-6:
            raise AssertionError(f"{name}: compiled output differs by {extra['compiled_max_abs_diff']:.1e}")
        yield f"{name} inference b1", fns[0], extra["compiled_fn"], fns[1]


def measure(fns, reps, warmup=3):
    """{name: (median CPU ms, median wall ms)} of callables run in rotation."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    names = list(fns)
    cpu = {n: [] for n in names}
    wall = {n: [] for n in names}
    for i in range(reps):
        for k in range(len(names)):
            name = names[(i + k) % len(names)]
            c, w = time.process_time(), time.perf_counter()
            fns[name]()
            cpu[name].append(time.process_time() - c)
            wall[name].append(time.perf_counter() - w)
    return {n: (statistics.median(cpu[n]) * 1e3, statistics.median(wall[n]) * 1e3) for n in names}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    gg, torch = suite._frameworks()
    gg.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    print(_common.machine_line(_common.machine()))
    head = f"{'case':<42} {'eager':>15} {'compiled':>15} {'PyTorch':>15} {'comp/eager':>11} {'comp/PT':>9}"
    print(head + "\n" + " " * 43 + "(CPU ms / wall ms; ratios in CPU time, then wall)")
    for label, eager, compiled, reference in _cases(gg, torch):
        r = measure({"eager": eager, "compiled": compiled, "torch": reference}, args.reps)
        cells = " ".join(f"{r[k][0]:>7.2f}/{r[k][1]:<7.2f}" for k in ("eager", "compiled", "torch"))
        ce = f"{r['compiled'][0] / r['eager'][0]:.2f}/{r['compiled'][1] / r['eager'][1]:.2f}"
        ct = f"{r['compiled'][0] / r['torch'][0]:.2f}/{r['compiled'][1] / r['torch'][1]:.2f}"
        print(f"{label:<42} {cells} {ce:>11} {ct:>9}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
