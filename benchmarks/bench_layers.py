"""Layers alone, forward + backward, glassgrad against PyTorch on the CPU, as ratios.

    python benchmarks/bench_layers.py [--reps 15] [--json layers.json]

Cases (batch 128): Conv2d(32, 64, 3, padding=1) on (128, 32, 16, 16); MaxPool2d(2) on
(128, 64, 16, 16); the ImageNet ResNets' MaxPool2d(3, 2, padding=1) on (8, 64, 112, 112); BatchNorm2d(64) in training mode on (128, 64, 16, 16); Linear(2048, 256)
on (128, 2048). Both frameworks get identical inputs, weights and upstream gradients, and
PyTorch runs with glassgrad's thread count. Each repetition times one forward and one
backward (input and parameter gradients); the two frameworks alternate after warm-up, so
load from other processes falls on both alike. The table gives medians, the interquartile
range and the ratio of medians glassgrad/PyTorch.

When the environment sets OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE (read by OpenBLAS when it
loads, and slower for a current NumPy), the script runs itself again in a child process
with both removed, as on users' machines, and prints that table too.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import _common  # noqa: E402
import numpy as np  # noqa: E402

BATCH = 128


def _layers(gg, torch):
    """(name, glassgrad module or None, PyTorch module, input shape); None where glassgrad lacks the layer."""
    cases = [
        ("Conv2d(32, 64, 3, padding=1)", "Conv2d", (32, 64, 3), {"padding": 1}, (BATCH, 32, 16, 16)),
        ("MaxPool2d(2)", "MaxPool2d", (2,), {}, (BATCH, 64, 16, 16)),
        ("MaxPool2d(3, 2, padding=1) b8", "MaxPool2d", (3, 2), {"padding": 1}, (8, 64, 112, 112)),
        ("BatchNorm2d(64)", "BatchNorm2d", (64,), {}, (BATCH, 64, 16, 16)),
        ("Linear(2048, 256)", "Linear", (2048, 256), {}, (BATCH, 2048)),
    ]
    for name, cls, args, kwargs, shape in cases:
        torch.manual_seed(0)
        twin = getattr(torch.nn, cls)(*args, **kwargs)
        layer = getattr(gg.nn, cls, None)
        if layer is not None:
            layer = layer(*args, **kwargs)
            state = {k: gg.tensor(v.detach().numpy().copy()) for k, v in twin.state_dict().items()}
            layer.load_state_dict(state)
        yield name, layer, twin, shape


def _step(fw, layer, x, upstream):
    """One forward + backward; gradients are dropped first, as zero_grad(set_to_none=True) does."""
    x.grad = None
    for p in layer.parameters():
        p.grad = None

    def run():
        x.grad = None
        for p in layer.parameters():
            p.grad = None
        layer(x).backward(upstream)

    return run


def measure(reps):
    import glassgrad as gg

    try:
        import torch
    except ImportError:
        raise SystemExit(
            "bench_layers: PyTorch is not installed and every figure here is a ratio against it; "
            "install the CPU build and run again"
        ) from None
    torch.set_num_threads(gg.get_num_threads())
    rng = np.random.default_rng(0)
    rows = []
    for name, layer, twin, shape in _layers(gg, torch):
        if layer is None:
            rows.append({"layer": name, "skipped": "glassgrad.nn has no such layer yet"})
            continue
        x = rng.standard_normal(shape, dtype=np.float32)
        with torch.no_grad():
            out_shape = tuple(twin(torch.from_numpy(x)).shape)
        upstream = rng.standard_normal(out_shape, dtype=np.float32)
        g_fn = _step(gg, layer, gg.tensor(x, requires_grad=True), gg.tensor(upstream))
        t_fn = _step(torch, twin, torch.tensor(x, requires_grad=True), torch.tensor(upstream))
        result = _common.time_pair(g_fn, t_fn, reps=reps, warmup=3)
        rows.append({"layer": name, **result})
    return {"machine": _common.machine(), "rows": rows}


def table(report):
    lines = [_common.machine_line(report["machine"])]
    lines.append(f"{'layer (forward+backward)':<30} {'glassgrad ms':>16} {'PyTorch ms':>16} {'ratio':>7}")
    for row in report["rows"]:
        if "skipped" in row:
            lines.append(f"{row['layer']:<30} skipped: {row['skipped']}")
            continue
        g, t = row["glassgrad"], row["torch"]
        lines.append(
            f"{row['layer']:<30} {g['median_ms']:>8.2f} ±{g['iqr_ms'] / 2:<6.2f} "
            f"{t['median_ms']:>8.2f} ±{t['iqr_ms'] / 2:<6.2f} {row['ratio']:>7.2f}"
        )
    lines.append(f"(median of {report['rows'][0].get('glassgrad', {}).get('reps', '?')} reps; ± half the IQR)")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="timed repetitions per framework (at least 10)")
    parser.add_argument("--json", help="also write the tables to this JSON file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reps < 10:
        parser.error("--reps must be at least 10")
    report = measure(args.reps)
    if args.child:
        print(json.dumps(report))
        return 0
    reports = {"as_set": report}
    print(table(report))
    if any(os.environ.get(name) for name in _common.OPENBLAS_VARS):
        code = (
            f"import sys; sys.path.insert(0, {HERE!r}); import bench_layers; "
            f"bench_layers.main(['--reps', '{args.reps}', '--child'])"
        )
        unset = _common.run_child(code, env=_common.env_without_openblas_vars(), timeout=900)
        reports["unset"] = unset
        print("\nWith OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (as on users' machines):")
        print(table(unset))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(reports, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
