"""Autograd dispatch overhead: a 1,000-op elementwise chain, forward + backward, against PyTorch.

Run: python benchmarks/bench_autograd.py [--repeat 10] [--large 1000000] [--threads N]

For a small tensor (16 elements) the time is almost all per-op overhead (building the
graph, walking it back); for a large one (1M elements) it is almost all arithmetic, so the
ratio there says how close glassgrad stays to NumPy's speed. A third column times the same
chain written by hand in NumPy (forward, then backward), the floor glassgrad builds on.
Each repetition runs the three back to back, after a warm-up, and their medians are compared.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

import glassgrad

CHAIN = 1000  # ops: (mul, add, tanh, sub) repeated, then one sum


def machine_line():
    try:
        from threadpoolctl import threadpool_info

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        blas = ", ".join(f"{p['internal_api']} {p.get('version')} ({p['num_threads']} threads)" for p in pools)
    except ImportError:
        blas = "unknown (install threadpoolctl)"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"machine: {usable}/{os.cpu_count()} cores usable, Python {sys.version.split()[0]}, "
        f"NumPy {np.__version__}, BLAS {blas or 'none found'}, glassgrad {glassgrad.__version__} "
        f"({glassgrad.get_num_threads()} threads)"
    )


def chain(x):
    """The same code for glassgrad and PyTorch tensors."""
    y = x
    for _ in range(CHAIN // 4):
        y = y * 0.999
        y = y + 0.001
        y = y.tanh()
        y = y - 0.002
    return y.sum()


def glassgrad_step(x):
    x.grad = None
    chain(x).backward()


def torch_step(x):
    x.grad = None
    chain(x).backward()


def numpy_step(x):
    """The chain and its backward by hand: what NumPy alone costs."""
    saved = []
    y = x
    for _ in range(CHAIN // 4):
        y = np.tanh(y * 0.999 + 0.001)
        saved.append(y)
        y = y - 0.002
    total = y.sum()
    grad = np.ones_like(x)
    for out in reversed(saved):
        grad = grad * (1 - out * out) * 0.999
    return total, grad


def paired_medians(cases, repeat):
    """Median seconds of each (step, arg); the cases run back to back in every repetition,
    so that load from other processes falls on all of them alike."""
    for step, arg in cases:
        step(arg)  # warm-up
    times = [[] for _ in cases]
    for _ in range(repeat):
        for slot, (step, arg) in enumerate(cases):
            start = time.perf_counter()
            step(arg)
            times[slot].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="timed repetitions per case (median taken)")
    parser.add_argument("--small", type=int, default=16, help="elements of the small tensor")
    parser.add_argument("--large", type=int, default=1_000_000, help="elements of the large tensor")
    parser.add_argument(
        "--threads", type=int, default=None, help="glassgrad.set_num_threads(n) first (PyTorch follows)"
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        glassgrad.set_num_threads(args.threads)

    print(machine_line())
    try:
        import torch
    except ImportError:
        torch = None
        print("PyTorch is not installed: only glassgrad and NumPy are timed")
    if torch is not None:
        torch.set_num_threads(glassgrad.get_num_threads())
        print(f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"{CHAIN}-op elementwise chain (mul, add, tanh, sub), forward + backward, float32, median of {args.repeat}")
    print(f"{'elements':>10} {'glassgrad':>12} {'PyTorch':>12} {'NumPy only':>12} {'gg/PyTorch':>11} {'gg/NumPy':>9}")
    for n in (args.small, args.large):
        data = np.random.default_rng(0).standard_normal(n).astype(np.float32)
        cases = [(glassgrad_step, glassgrad.tensor(data, requires_grad=True)), (numpy_step, data)]
        if torch is not None:
            cases.append((torch_step, torch.tensor(data, requires_grad=True)))
        ours, floor, *rest = paired_medians(cases, args.repeat)
        theirs = rest[0] if rest else None
        ratio = f"{ours / theirs:11.2f}" if theirs else f"{'-':>11}"
        theirs_ms = f"{theirs * 1e3:10.2f}ms" if theirs else f"{'-':>12}"
        print(f"{n:>10} {ours * 1e3:10.2f}ms {theirs_ms} {floor * 1e3:10.2f}ms {ratio} {ours / floor:9.2f}")


if __name__ == "__main__":
    main()
