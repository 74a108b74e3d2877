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
GROUPS = ("train", "infer", "layers", "chain", "memory", "data", "nets", "latency", "mlp")

# The networks users train (issue 20): name -> (training batch, inference batch, image size).
NETS = {
    "cifar_resnet18": (32, 128, 32),
    "cifar_mobilenet_v2": (32, 128, 32),
    "vgg11_bn": (64, 128, 32),
    "cifar_densenet121": (16, 64, 32),
    "resnet56": (128, 128, 32),
    "resnet110": (64, 128, 32),
    "imagenet_resnet18": (8, 8, 224),
    "imagenet_resnet50": (8, 8, 224),
}
# Where glassgrad.vision.models may hold each (the first that loads the twin's weights is used;
# else the benchmark's own copy): the CIFAR zoo is taking cifar_* names.
LIBRARY_NAMES = {
    "cifar_resnet18": ("cifar_resnet18", "resnet18"),
    "cifar_mobilenet_v2": ("cifar_mobilenet_v2",),
    "vgg11_bn": ("cifar_vgg11_bn", "vgg11_bn"),
    "cifar_densenet121": ("cifar_densenet121",),
    "resnet56": ("cifar_resnet56", "resnet56"),
    "resnet110": ("cifar_resnet110", "resnet110"),
    "imagenet_resnet18": ("resnet18",),
    "imagenet_resnet50": ("resnet50",),
}
LATENCY_NETS = ("resnet20", "cifar_mobilenet_v2")
MLP_BATCHES = (16, 64, 256)


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


def _batch(fw, seed=0, batch=BATCH, shape=(3, 32, 32), classes=10):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *shape), dtype=np.float32)
    y = rng.integers(0, classes, batch)
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
    if name in LIBRARY_NAMES or name == "mlp":
        model, _ = _net_model(twin, name)
        return model, twin
    model = _library_model(name)
    bench_models.copy_weights(twin, model)
    return model, twin


def _net_model(twin, name):
    """(glassgrad's model holding the twin's weights, where it came from): glassgrad.vision.models'
    builder under one of LIBRARY_NAMES[name] whose state_dict takes the twin's, else the benchmark's copy."""
    import glassgrad
    from glassgrad.vision import models

    for candidate in LIBRARY_NAMES.get(name, ()):
        builder = getattr(models, candidate, None)
        if builder is None:
            continue
        try:
            model = builder()
            bench_models.copy_weights(twin, model)
        except (TypeError, ValueError, RuntimeError, KeyError):
            continue
        return model, f"glassgrad.vision.models.{candidate}"
    model = bench_models.build(glassgrad, name)
    bench_models.copy_weights(twin, model)
    return model, "benchmarks/bench_models.py"


def forward_gflop(torch, twin, x):
    """GFLOP of one forward pass of the PyTorch twin on x: 2 per multiply-add of its
    convolutions and linear layers (the rest is a few percent, and not counted)."""
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, torch.nn.Conv2d):
            kh, kw = module.kernel_size
            total[0] += 2 * output.numel() * module.in_channels // module.groups * kh * kw
        elif isinstance(module, torch.nn.Linear):
            total[0] += 2 * output.numel() * module.in_features

    handles = [
        m.register_forward_hook(hook) for m in twin.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
    ]
    try:
        with torch.no_grad():
            twin(x)
    finally:
        for handle in handles:
            handle.remove()
    return total[0] / 1e9


def gemm_peak(size=2048, reps=5):
    """GFLOP/s of NumPy's float32 matrix product (size x size) at the current thread count: the
    measured ceiling the networks' figures are compared with."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty_like(a)
    summary = _common.time_one(lambda: np.matmul(a, b, out=out), reps=reps, warmup=1)
    return 2 * size**3 / (summary["median_ms"] / 1000) / 1e9


def _train_pair(gg, torch, name, batch, shape, classes=10, compiled=False):
    model, twin = _pair_models(gg, torch, name)
    model.train()
    twin.train()
    fns = []
    for fw, m in ((gg, model), (torch, twin)):
        x, y = _batch(fw, batch=batch, shape=shape, classes=classes)
        optimizer = fw.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
        fns.append(_step_fn(fw, m, optimizer, x, y))
        if compiled and fw is gg:  # the same model and optimizer, its forward and backward replayed
            compiled_step = _step_fn(gg, gg.compile(m), optimizer, x, y)
    # Dropout draws different masks in the two frameworks: the first loss is compared in eval mode.
    gap = _eval_gap(gg, torch, model, twin, batch, shape, classes, loss=True)
    model.train()
    twin.train()
    gflop = 3 * forward_gflop(torch, twin, _batch(torch, batch=batch, shape=shape)[0])
    extra = {"first_loss_abs_diff": gap, "gflop": gflop, "batch": batch}
    if compiled:
        extra["compiled_fn"] = compiled_step
    return fns, extra


def _eval_gap(gg, torch, model, twin, batch, shape, classes, loss=False):
    model.eval()
    twin.eval()
    outs = []
    for fw, m in ((gg, model), (torch, twin)):
        x, y = _batch(fw, seed=5, batch=min(batch, 8), shape=shape, classes=classes)
        with fw.no_grad():
            out = m(x)
            outs.append(float(fw.nn.functional.cross_entropy(out, y).item()) if loss else out.numpy())
    return abs(outs[0] - outs[1]) if loss else float(np.abs(outs[0] - outs[1]).max())


def _infer_pair(gg, torch, name, batch, shape, compiled=False):
    model, twin = _pair_models(gg, torch, name)
    gap = _eval_gap(gg, torch, model, twin, batch, shape, 10)
    fns = [_infer_fn(fw, m, _batch(fw, batch=batch, shape=shape)[0]) for fw, m in ((gg, model), (torch, twin))]
    gflop = forward_gflop(torch, twin, _batch(torch, batch=batch, shape=shape)[0])
    extra = {"max_abs_diff": gap, "gflop": gflop, "batch": batch}
    if compiled:
        x = _batch(gg, batch=batch, shape=shape)[0]
        fast = gg.compile(model)
        with gg.no_grad():  # the compiled output must be the eager one
            extra["compiled_max_abs_diff"] = float(np.abs(fast(x).numpy() - model(x).numpy()).max())
        extra["compiled_fn"] = _infer_fn(gg, fast, x)
    return fns, extra


def net_cases(gg, torch, names, quick=False):
    """Each network of NETS as a training step (SGD with momentum) and as inference."""
    for name in names:
        train_batch, infer_batch, size = NETS[name]
        if quick:
            train_batch, infer_batch, size = 2, 2, min(size, 64)
        fns, extra = _train_pair(gg, torch, name, train_batch, (3, size, size))
        yield f"{name} train step b{train_batch}", fns[0], fns[1], {**extra, "kind": "train"}
        fns, extra = _infer_pair(gg, torch, name, infer_batch, (3, size, size))
        yield f"{name} inference b{infer_batch}", fns[0], fns[1], {**extra, "kind": "infer"}


def latency_cases(gg, torch, names):
    """Batch-1 inference: the latency of one image, where per-op overhead dominates; also timed
    with the model under glassgrad.compile (``compiled`` in the row)."""
    for name in names:
        fns, extra = _infer_pair(gg, torch, name, 1, (3, 32, 32), compiled=True)
        yield f"{name} inference b1 (latency)", fns[0], fns[1], {**extra, "kind": "latency"}


def mlp_cases(gg, torch, batches):
    """Training steps of an MLP 784-512-512-10 (SGD with momentum) at small batches, eager and compiled."""
    for batch in batches:
        fns, extra = _train_pair(gg, torch, "mlp", batch, (784,), compiled=True)
        yield f"mlp 784-512-512-10 train step b{batch}", fns[0], fns[1], {**extra, "kind": "mlp"}


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


def run(groups, reps, warmup, progress=None, threads=None, nets=None, quick=False):
    """The rows of the table; ``progress(line)`` hears of each timed case as it finishes.

    ``threads``: the thread counts to run the timed groups at (both frameworks alike; default:
    glassgrad's current count), each row saying its count; memory and data run once, at the last."""
    gg, torch = _frameworks()
    models = ["simplecnn_sigmoid", "simplecnn_relu", "resnet20"]
    threads = list(threads or [gg.get_num_threads()])
    nets = list(NETS) if nets is None else nets
    rows = []

    def timed(cases, group, count, peak):
        for label, g_fn, t_fn, extra in cases:
            c_fn = extra.pop("compiled_fn", None)
            if c_fn is None:
                result = _common.time_pair(g_fn, t_fn, reps=reps, warmup=warmup)
            else:
                result = _common.time_three(g_fn, c_fn, t_fn, reps=reps, warmup=warmup)
            row = {"case": label, "group": group, "unit": "ms", "threads": count, **result, **extra}
            if "gflop" in extra:
                row["gflops_per_s"] = extra["gflop"] / (result["glassgrad"]["median_ms"] / 1000)
                row["torch_gflops_per_s"] = extra["gflop"] / (result["torch"]["median_ms"] / 1000)
                row["peak_fraction"] = row["gflops_per_s"] / peak
            rows.append(row)
            if progress:
                g, t = result["glassgrad"]["median_ms"], result["torch"]["median_ms"]
                line = f"  [{count}t] {label}: {g:.1f} ms vs {t:.1f} ms ({result['ratio']:.2f})"
                if "compiled" in result:
                    c = result["compiled"]["median_ms"]
                    line += f"; compiled {c:.1f} ms ({result['compiled_ratio']:.2f})"
                progress(line)

    for count in threads:
        gg.set_num_threads(count)
        torch.set_num_threads(count)
        peak = None
        if {"nets", "latency", "mlp"} & set(groups):
            peak = gemm_peak(1024 if quick else 2048, reps=3 if quick else 5)
            rows.append({"case": "float32 GEMM peak", "group": "peak", "threads": count, "gflops_per_s": peak})
            if progress:
                progress(f"  [{count}t] float32 GEMM peak: {peak:.0f} GFLOP/s")
        if "train" in groups:
            timed(train_cases(gg, torch, models), "train", count, peak)
        if "infer" in groups:
            timed(infer_cases(gg, torch, ["simplecnn_sigmoid", "resnet20"]), "infer", count, peak)
        if "nets" in groups:
            timed(net_cases(gg, torch, nets, quick), "nets", count, peak)
        if "latency" in groups:
            timed(
                latency_cases(gg, torch, [n for n in LATENCY_NETS if n in nets or n == "resnet20"]),
                "latency",
                count,
                peak,
            )
        if "mlp" in groups:
            timed(mlp_cases(gg, torch, MLP_BATCHES[:1] if quick else MLP_BATCHES), "mlp", count, peak)
        if "layers" in groups:
            timed(layer_cases(gg, torch), "layers", count, peak)
        if "chain" in groups:
            timed(chain_cases(gg, torch), "chain", count, peak)
    if "memory" in groups:
        rows.extend(memory_cases(gg, ["simplecnn_sigmoid", "resnet20"]))
    if "data" in groups:
        rows.append(data_case(gg, reps))
    return rows


def geometric_means(rows):
    """{(threads, kind): geometric mean of the ratios} over the rows of the nets, latency and mlp groups."""
    found = {}
    for r in rows:
        if "kind" in r and "ratio" in r:
            found.setdefault((r["threads"], r["kind"]), []).append(r["ratio"])
        if "kind" in r and "compiled_ratio" in r:
            found.setdefault((r["threads"], r["kind"] + " compiled"), []).append(r["compiled_ratio"])
    return {key: float(np.exp(np.mean(np.log(v)))) for key, v in sorted(found.items())}


def format_table(rows, unset_rows=None):
    def key(r):
        return r["case"], r.get("threads")

    unset = {key(r): r for r in unset_rows or ()}
    head = f"{'case':<52} {'thr':>3} {'glassgrad':>12} {'PyTorch':>12} {'ratio':>6} {'GFLOP/s':>8} {'peak':>5}"
    if unset_rows is not None:
        head += f" {'unset':>6} {'set/unset':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        thr = f"{r['threads']:>3}" if r.get("threads") is not None else "   "
        if "skipped" in r:
            lines.append(f"{r['case']:<52} skipped: {r['skipped']}")
            continue
        if r["group"] == "peak":
            lines.append(f"{r['case']:<52} {thr} {'':>12} {'':>12} {'':>6} {r['gflops_per_s']:>8.0f} {'1.00':>5}")
            continue
        if r["group"] == "memory":
            g, t = (f"{r[k]['peak_mib']:.0f}(+{r[k]['step_mib']:.0f})" for k in ("glassgrad", "torch"))
        elif r["group"] == "data":
            g, t = f"{r['glassgrad_loader']['median_ms']:.1f} ms", f"{r['glassgrad_in_memory']['median_ms']:.1f} ms*"
        else:
            g = f"{r['glassgrad']['median_ms']:.1f}±{r['glassgrad']['iqr_ms']:.1f}"
            t = f"{r['torch']['median_ms']:.1f}±{r['torch']['iqr_ms']:.1f}"
        flops = f"{r['gflops_per_s']:>8.1f} {r['peak_fraction']:>5.2f}" if "gflops_per_s" in r else f"{'':>8} {'':>5}"
        line = f"{r['case'][:52]:<52} {thr} {g:>12} {t:>12} {r['ratio']:>6.2f} {flops}"
        if "compiled" in r:  # glassgrad.compile's time and its ratio to PyTorch
            line += (
                f" compiled {r['compiled']['median_ms']:.1f}±{r['compiled']['iqr_ms']:.1f} ({r['compiled_ratio']:.2f})"
            )
        if unset_rows is not None and key(r) in unset and "ratio" in unset[key(r)]:
            u = unset[key(r)]["ratio"]
            line += f" {u:>6.2f} {r['ratio'] / u:>9.2f}"
        lines.append(line)
    counts = sorted({r["threads"] for r in rows if r.get("threads") is not None and "ratio" in r})
    if len(counts) > 1:
        lines += ["", f"{'ratio glassgrad/PyTorch by threads':<52} " + " ".join(f"{f'{c} thr':>7}" for c in counts)]
        cases = list(dict.fromkeys(r["case"] for r in rows if r.get("threads") is not None and "ratio" in r))
        by = {key(r): r["ratio"] for r in rows if "ratio" in r}
        for case in cases:
            lines.append(f"{case[:52]:<52} " + " ".join(f"{by.get((case, c), float('nan')):>7.2f}" for c in counts))
    means = geometric_means(rows)
    if means:
        lines.append(
            "geometric means of the ratios: "
            + "; ".join(f"{kind} at {count} thr {value:.2f}" for (count, kind), value in means.items())
        )
    gaps = [r[k] for r in rows for k in ("first_loss_abs_diff", "max_abs_diff") if k in r]
    if gaps:
        lines.append(
            f"same models, same numbers: largest |glassgrad - PyTorch| of a first loss or an output: {max(gaps):.1e}"
        )
    lines.append(
        "times: median±IQR in ms over the repetitions; GFLOP/s: glassgrad's, counting 2 per multiply-add of "
        "convolutions and linear layers (a training step as 3 forward passes), peak: its fraction of the "
        "float32 GEMM peak measured in the same run; memory: peak RSS in MiB of a process training "
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
    parser.add_argument(
        "--threads",
        default=None,
        help="comma-separated thread counts to time every case at, e.g. 1,2 (default: current)",
    )
    parser.add_argument(
        "--nets", default=None, help=f"comma-separated networks of the nets group, of {', '.join(NETS)}"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="every network at batch 2 (ImageNet ones at 64x64) and one MLP batch: a smoke test",
    )
    args = parser.parse_args(argv)
    try:
        threads = [int(t) for t in args.threads.split(",")] if args.threads else None
    except ValueError:
        parser.error(f"--threads takes comma-separated whole numbers such as 1,2, got {args.threads!r}")
    if threads and min(threads) < 1:
        parser.error(f"--threads: every count must be at least 1, got {args.threads!r}")
    nets = [n.strip() for n in args.nets.split(",") if n.strip()] if args.nets else None
    if nets is not None and sorted(set(nets) - set(NETS)):
        parser.error(
            f"unknown network(s) {', '.join(sorted(set(nets) - set(NETS)))} in --nets; choose from {', '.join(NETS)}"
        )
    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    if args.reps < 1:
        parser.error("--reps must be at least 1")

    info = _common.machine()
    out(_common.machine_line(info))
    rows = run(groups, args.reps, args.warmup, progress=out, threads=threads, nets=nets, quick=args.quick)
    out("")

    unset_rows = None
    vars_set = any(info["openblas_env"].values())
    if vars_set and not args.no_unset_run:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "unset.json")
            child = [os.path.abspath(__file__), "--reps", str(args.reps), "--warmup", str(args.warmup)]
            child += ["--only", ",".join(g for g in groups if g != "data"), "--json", path, "--no-unset-run"]
            child += (["--threads", args.threads] if args.threads else []) + (
                ["--nets", args.nets] if args.nets else []
            )
            child += ["--quick"] if args.quick else []
            subprocess.run(
                [sys.executable, *child], env=_common.env_without_openblas_vars(), check=True, stdout=subprocess.DEVNULL
            )
            with open(path) as f:
                unset_rows = json.load(f)["rows"]
    elif not vars_set:
        out("OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset here: this run is the unset run")

    out(format_table(rows, unset_rows))
    if args.json:
        means = [{"threads": c, "kind": k, "geomean_ratio": v} for (c, k), v in geometric_means(rows).items()]
        table = {"machine": info, "rows": rows, "rows_openblas_unset": unset_rows, "geometric_means": means}
        partial = args.json + ".partial"  # then renamed: a reader never sees half a table
        with open(partial, "w") as f:
            json.dump(table, f, indent=1)
        os.replace(partial, args.json)
        out(f"table written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
