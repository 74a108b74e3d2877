"""The speed suite of issue 7: glassgrad against PyTorch on the CPU, case by case, as ratios.

    python benchmarks/suite.py [--reps 10] [--json table.json] [--only simplecnn,layers] [--quick]

Each case runs in glassgrad and in PyTorch on identical inputs and weights (the PyTorch
twin's state_dict is loaded into the glassgrad model), PyTorch with as many threads as
glassgrad uses, alternating the two after warm-up. The table gives the median time of
each, the interquartile range and the ratio glassgrad/PyTorch. Peak resident memory of a
training step is measured in fresh child processes, one per framework.

When the environment sets OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE (read by OpenBLAS when it
loads), the suite also runs itself again in a child process with both removed, as on
users' machines, and reports each ratio with the variables set and unset.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import _common  # noqa: E402
import bench_models  # noqa: E402
import numpy as np  # noqa: E402

BATCH = 128
GROUPS = ("train", "infer", "layers", "chain", "memory", "data")


def _frameworks():
    import glassgrad

    try:
        import torch
    except ImportError:
        raise SystemExit(
            "benchmarks: PyTorch is not installed, and every figure here is a ratio against it; "
            "install the CPU build (pip install torch --index-url https://download.pytorch.org/whl/cpu) and run again"
        ) from None
    torch.set_num_threads(glassgrad.get_num_threads())
    return glassgrad, torch


def _batch(fw, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, BATCH)
    return fw.tensor(x), fw.tensor(y)


def _library_model(name):
    """glassgrad's own model when glassgrad.vision.models has it, else the benchmark's copy."""
    import glassgrad

    try:
        from glassgrad.vision import models
    except ImportError:
        return bench_models.build(glassgrad, name)
    if name.startswith("simplecnn") and hasattr(models, "SimpleCNN"):
        return models.SimpleCNN(activation=name.split("_")[1])
    if name == "resnet20" and hasattr(models, "resnet20"):
        return models.resnet20()
    return bench_models.build(glassgrad, name)


def _pair_models(gg, torch, name):
    torch.manual_seed(0)
    twin = bench_models.build(torch, name)
    model = _library_model(name)
    bench_models.copy_weights(twin, model)
    return model, twin


def _step_fn(fw, model, optimizer, x, y):
    cross_entropy = fw.nn.functional.cross_entropy

    def step():
        optimizer.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def _infer_fn(fw, model, x):
    def infer():
        with fw.no_grad():
            return model(x)

    return infer


def train_cases(gg, torch, names):
    for name in names:
        model, twin = _pair_models(gg, torch, name)
        model.train()
        twin.train()
        fns = []
        for fw, m in ((gg, model), (torch, twin)):
            x, y = _batch(fw)
            fns.append(_step_fn(fw, m, fw.optim.SGD(m.parameters(), lr=0.01, momentum=0.9), x, y))
        # The first step must agree: the same model computing the same loss.
        loss_gap = abs(float(fns[0]().item()) - float(fns[1]().item()))
        yield f"{name} train step", fns[0], fns[1], {"first_loss_abs_diff": loss_gap}


def infer_cases(gg, torch, names):
    for name in names:
        model, twin = _pair_models(gg, torch, name)
        model.eval()
        twin.eval()
        fns = [_infer_fn(fw, m, _batch(fw)[0]) for fw, m in ((gg, model), (torch, twin))]
        gap = float(np.abs(fns[0]().numpy() - fns[1]().numpy()).max())
        yield f"{name} inference (no_grad)", fns[0], fns[1], {"max_abs_diff": gap}


def _layer_fn(fw, module, x, grad):
    def run():
        x.grad = None
        module.zero_grad(set_to_none=True)
        module(x).backward(grad)

    return run


def layer_cases(gg, torch):
    rng = np.random.default_rng(1)
    layers = [
        ("conv3x3 3->32 @32x32", (BATCH, 3, 32, 32), lambda nn: nn.Conv2d(3, 32, 3, padding=1)),
        ("conv3x3 32->64 @16x16", (BATCH, 32, 16, 16), lambda nn: nn.Conv2d(32, 64, 3, padding=1)),
        ("conv3x3 64->128 @8x8", (BATCH, 64, 8, 8), lambda nn: nn.Conv2d(64, 128, 3, padding=1)),
        ("max_pool2d 2 @(128,32,32,32)", (BATCH, 32, 32, 32), lambda nn: nn.MaxPool2d(2)),
        ("batch_norm2d 64 @16x16", (BATCH, 64, 16, 16), lambda nn: nn.BatchNorm2d(64)),
        ("linear 2048->256", (BATCH, 2048), lambda nn: nn.Linear(2048, 256)),
    ]
    for label, shape, make in layers:
        x_np = rng.standard_normal(shape, dtype=np.float32)
        torch.manual_seed(0)
        twin = make(torch.nn)
        module = make(gg.nn)
        if twin.state_dict():
            bench_models.copy_weights(twin, module)
        with torch.no_grad():
            out_shape = tuple(twin(torch.tensor(x_np)).shape)
        g_np = rng.standard_normal(out_shape, dtype=np.float32)
        fns = [
            _layer_fn(fw, m, fw.tensor(x_np, requires_grad=True), fw.tensor(g_np))
            for fw, m in ((gg, module), (torch, twin))
        ]
        yield f"{label} fwd+bwd", fns[0], fns[1], {}

    logits = rng.standard_normal((BATCH, 10), dtype=np.float32)
    target = rng.integers(0, 10, BATCH)

    def cross_entropy(fw):
        x, y = fw.tensor(logits, requires_grad=True), fw.tensor(target)

        def run():
            # 20 calls per repetition: one is a fraction of a millisecond, below the clock's noise.
            for _ in range(20):
                x.grad = None
                fw.nn.functional.cross_entropy(x, y).backward()

        return run

    yield "cross_entropy (128,10) fwd+bwd x20", cross_entropy(gg), cross_entropy(torch), {}


def chain_cases(gg, torch):
    """1,000 ops on a 16x16 tensor, then backward: the cost of each op's Python overhead."""
    start = np.random.default_rng(2).standard_normal((16, 16), dtype=np.float32)

    def chain(fw):
        x = fw.tensor(start, requires_grad=True)

        def run():
            x.grad = None
            y = x
            for _ in range(500):
                y = y * 1.001
                y = y + 0.001
            y.sum().backward()

        return run

    yield "1,000-op chain 16x16 fwd+bwd", chain(gg), chain(torch), {}


_MEMORY_CHILD = """
import json, sys
sys.path.insert(0, {here!r})
import numpy as np
import {fw} as fw
import bench_models, suite
if {fw!r} == "torch":
    fw.set_num_threads({threads})
model = suite._library_model({name!r}) if {fw!r} == "glassgrad" else bench_models.build(fw, {name!r})
optimizer = fw.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x, y = suite._batch(fw)
step = suite._step_fn(fw, model, optimizer, x, y)
step()  # warm-up: gradients and momentum exist, lazily loaded libraries (numba) are loaded
before = suite._rss_kib("VmRSS")
suite._reset_peak_rss()
for _ in range(2):
    step()
print(json.dumps({{"before_mib": before / 1024, "peak_mib": suite._rss_kib("VmHWM") / 1024}}))
"""


def _rss_kib(field):
    """VmRSS (now) or VmHWM (peak) of this process in KiB, from /proc/self/status.

    Not ru_maxrss: a child started by fork keeps its parent's maximum, even across exec.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} line")


def _reset_peak_rss():
    """Start VmHWM afresh at the current RSS (Linux: write 5 to clear_refs), so that a peak
    reached while importing or building does not hide the step's."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def memory_cases(gg, names):
    """Peak resident memory of a training step, in a child that only builds the model and trains:
    what the peak (VmHWM) of two steps adds to the RSS after one warm-up step, and the total peak."""
    rows = []
    for name in names:
        measured = {}
        for fw in ("glassgrad", "torch"):
            code = _MEMORY_CHILD.format(here=HERE, fw=fw, name=name, threads=gg.get_num_threads())
            measured[fw] = _common.run_child(code)
        g, t = measured["glassgrad"], measured["torch"]
        g_step = g["peak_mib"] - g["before_mib"]
        t_step = t["peak_mib"] - t["before_mib"]
        rows.append(
            {
                "case": f"{name} train step peak RSS",
                "group": "memory",
                "unit": "MiB",
                "glassgrad": {"peak_mib": g["peak_mib"], "step_mib": g_step},
                "torch": {"peak_mib": t["peak_mib"], "step_mib": t_step},
                # The peak RSS of a process that trains (ru_maxrss-like), and, beside it, what a
                # steady-state step adds on top of the process as it stood after one step.
                "ratio": g["peak_mib"] / t["peak_mib"],
                "ratio_step": g_step / t_step if t_step > 0 else float("nan"),
            }
        )
    return rows


def data_case(gg, reps):
    """A SimpleCNN (ReLU) step fed by the real CIFAR-10 loader with augmentation (num_workers=2)
    against the same step on one batch held in memory."""
    root = os.environ.get("GLASSGRAD_DATA")
    if not root:
        return {"case": "data loading", "group": "data", "skipped": "set GLASSGRAD_DATA to the datasets folder"}
    from glassgrad.utils.data import DataLoader
    from glassgrad.vision import datasets, transforms

    augment = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
        ]
    )
    if os.path.isdir(os.path.join(root, "cifar-10-batches-py")):
        dataset = datasets.CIFAR10(root, train=True, transform=augment)
    else:  # the JPEG copy in the shared datasets folder (decoded once, then cached)
        dataset = datasets.CIFAR10JPEG(root, train=True, transform=augment)
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=2, drop_last=True)
    model = _library_model("simplecnn_relu")
    optimizer = gg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = _batch(gg)
    memory_step = _step_fn(gg, model, optimizer, x, y)
    batches = iter(loader)

    def loader_step():
        xb, yb = next(batches)
        _step_fn(gg, model, optimizer, xb, yb)()

    # Alternating, so that load from other processes falls on both alike; the first loader
    # steps (workers starting) are the warm-up.
    times, in_memory = [], []
    for i in range(reps + 2):
        for fn, sink in ((loader_step, times), (memory_step, in_memory)):
            start = time.perf_counter()
            fn()
            if i >= 2:
                sink.append(time.perf_counter() - start)
    in_memory = _common.summarize(in_memory)
    loaded = _common.summarize(times)
    return {
        "case": "CIFAR-10 loader step / in-memory step (2 workers)",
        "group": "data",
        "glassgrad_loader": loaded,
        "glassgrad_in_memory": in_memory,
        "ratio": loaded["median_ms"] / in_memory["median_ms"],
    }


def run(groups, reps, warmup, progress=None):
    """The rows of the table; ``progress(line)`` hears of each timed case as it finishes."""
    gg, torch = _frameworks()
    models = ["simplecnn_sigmoid", "simplecnn_relu", "resnet20"]
    rows = []

    def timed(cases, group):
        for label, g_fn, t_fn, extra in cases:
            result = _common.time_pair(g_fn, t_fn, reps=reps, warmup=warmup)
            rows.append({"case": label, "group": group, "unit": "ms", **result, **extra})
            if progress:
                g, t = result["glassgrad"]["median_ms"], result["torch"]["median_ms"]
                progress(f"  {label}: {g:.1f} ms vs {t:.1f} ms ({result['ratio']:.2f})")

    if "train" in groups:
        timed(train_cases(gg, torch, models), "train")
    if "infer" in groups:
        timed(infer_cases(gg, torch, ["simplecnn_sigmoid", "resnet20"]), "infer")
    if "layers" in groups:
        timed(layer_cases(gg, torch), "layers")
    if "chain" in groups:
        timed(chain_cases(gg, torch), "chain")
    if "memory" in groups:
        rows.extend(memory_cases(gg, ["simplecnn_sigmoid", "resnet20"]))
    if "data" in groups:
        rows.append(data_case(gg, reps))
    return rows


def format_table(rows, unset_rows=None):
    unset = {r["case"]: r for r in unset_rows or ()}
    head = f"{'case':<58} {'glassgrad':>12} {'PyTorch':>12} {'ratio':>7}"
    if unset_rows is not None:
        head += f" {'unset':>7} {'set/unset':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        if "skipped" in r:
            lines.append(f"{r['case']:<58} skipped: {r['skipped']}")
            continue
        if r["group"] == "memory":
            g, t = (f"{r[k]['peak_mib']:.0f}(+{r[k]['step_mib']:.0f})" for k in ("glassgrad", "torch"))
        elif r["group"] == "data":
            g, t = f"{r['glassgrad_loader']['median_ms']:.1f} ms", f"{r['glassgrad_in_memory']['median_ms']:.1f} ms*"
        else:
            g = f"{r['glassgrad']['median_ms']:.1f}±{r['glassgrad']['iqr_ms']:.1f}"
            t = f"{r['torch']['median_ms']:.1f}±{r['torch']['iqr_ms']:.1f}"
        line = f"{r['case'][:58]:<58} {g:>12} {t:>12} {r['ratio']:>7.2f}"
        if unset_rows is not None and r["case"] in unset and "ratio" in unset[r["case"]]:
            u = unset[r["case"]]["ratio"]
            line += f" {u:>7.2f} {r['ratio'] / u:>9.2f}"
        lines.append(line)
    gaps = [r[k] for r in rows for k in ("first_loss_abs_diff", "max_abs_diff") if k in r]
    if gaps:
        lines.append(
            f"same models, same numbers: largest |glassgrad - PyTorch| of a first loss or an output: {max(gaps):.1e}"
        )
    lines.append(
        "times: median±IQR in ms over the repetitions; memory: peak RSS in MiB of a process training "
        "(+ what a step adds after a warm-up step; ratio_step in the JSON); "
        "* data row compares glassgrad with itself (loader vs batch in memory)"
    )
    return "\n".join(lines)


def main(argv=None, out=print):
    parser = argparse.ArgumentParser(description="glassgrad vs PyTorch on the CPU: the issue 7 speed suite")
    parser.add_argument("--reps", type=int, default=10, help="timed repetitions per case (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated groups of {', '.join(GROUPS)}")
    parser.add_argument("--json", metavar="PATH", help="write the table (and the machine) as JSON")
    parser.add_argument(
        "--no-unset-run", action="store_true", help="skip the second run with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset"
    )
    args = parser.parse_args(argv)
    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    if args.reps < 1:
        parser.error("--reps must be at least 1")

    info = _common.machine()
    out(_common.machine_line(info))
    rows = run(groups, args.reps, args.warmup, progress=out)
    out("")

    unset_rows = None
    vars_set = any(info["openblas_env"].values())
    if vars_set and not args.no_unset_run:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "unset.json")
            child = [os.path.abspath(__file__), "--reps", str(args.reps), "--warmup", str(args.warmup)]
            child += ["--only", ",".join(g for g in groups if g != "data"), "--json", path, "--no-unset-run"]
            subprocess.run(
                [sys.executable, *child], env=_common.env_without_openblas_vars(), check=True, stdout=subprocess.DEVNULL
            )
            with open(path) as f:
                unset_rows = json.load(f)["rows"]
    elif not vars_set:
        out("OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset here: this run is the unset run")

    out(format_table(rows, unset_rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "rows": rows, "rows_openblas_unset": unset_rows}, f, indent=1)
        out(f"table written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
