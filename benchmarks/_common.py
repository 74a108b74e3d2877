"""Shared pieces of the benchmarks: the machine line, paired timing, peak memory in a child process.

Timing is paired: each repetition runs glassgrad's case and PyTorch's case back to back, so
that load from other processes on a shared machine falls on both alike; the ratio is the
median of glassgrad's times over the median of PyTorch's.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import time

# The variables this machine's environment sets and users' machines do not; they are read by
# OpenBLAS when it loads, so the unset run needs a fresh process.
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def blas_info():
    """(library, kernel, threads) of NumPy's BLAS as threadpoolctl reports it."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (install threadpoolctl)", "unknown", None
    import numpy  # noqa: F401  (loads the BLAS so that threadpoolctl can see it)

    for pool in threadpool_info():
        if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
            return pool.get("internal_api"), pool.get("architecture", "unknown"), pool.get("num_threads")
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            return pool.get("internal_api"), pool.get("architecture", "unknown"), pool.get("num_threads")
    return "none found", "unknown", None


def machine():
    """A dict describing the machine and the software the numbers come from."""
    import numpy

    import glassgrad
    from glassgrad import backend
    from glassgrad.backend import direct_conv

    library, kernel, blas_threads = blas_info()
    info = {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": _cpu_name(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "blas": library,
        "blas_kernel": kernel,
        "blas_threads": blas_threads,
        "glassgrad": glassgrad.__version__,
        "glassgrad_threads": glassgrad.get_num_threads(),
        "kernels": backend.BACKEND,
        "direct_conv": direct_conv.available(),
        "openblas_env": {name: os.environ.get(name) for name in OPENBLAS_VARS},
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def machine_line(info):
    env = ", ".join(f"{k}={v}" for k, v in info["openblas_env"].items() if v is not None) or "OPENBLAS vars unset"
    return (
        f"machine: {info['usable_cores']}/{info['cores']} cores ({info['cpu']}), Python {info['python']}, "
        f"NumPy {info['numpy']}, BLAS {info['blas']} kernel {info['blas_kernel']} "
        f"({info['blas_threads']} threads), {env}; glassgrad {info['glassgrad']} "
        f"({info['glassgrad_threads']} threads, kernels: {info['kernels']}"
        f"{', direct convolution' if info.get('direct_conv') else ''}), PyTorch {info['torch']}"
    )


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def summarize(times):
    """Median and spread (interquartile range, min, max) of a list of seconds, in milliseconds."""
    ms = sorted(t * 1000 for t in times)
    q = statistics.quantiles(ms, n=4) if len(ms) >= 2 else [ms[0]] * 3
    return {
        "median_ms": statistics.median(ms),
        "iqr_ms": q[2] - q[0],
        "min_ms": ms[0],
        "max_ms": ms[-1],
        "reps": len(ms),
    }


def time_pair(glassgrad_fn, torch_fn, reps=10, warmup=2):
    """Time two callables alternately after warm-up; returns both summaries and the ratio."""
    for _ in range(warmup):
        glassgrad_fn()
        torch_fn()
    g_times, t_times = [], []
    for i in range(reps):
        # Alternate which goes first, so neither always runs on a cache the other warmed.
        order = ((glassgrad_fn, g_times), (torch_fn, t_times))
        for fn, times in order if i % 2 == 0 else reversed(order):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    g, t = summarize(g_times), summarize(t_times)
    pair_ratios = sorted(a / b for a, b in zip(g_times, t_times))
    return {
        "glassgrad": g,
        "torch": t,
        "ratio": g["median_ms"] / t["median_ms"],
        "ratio_of_pairs_median": statistics.median(pair_ratios),
    }


def time_three(glassgrad_fn, compiled_fn, torch_fn, reps=10, warmup=2):
    """``time_pair`` with a third callable, glassgrad.compile's, in the rotation; adds its summary
    (``compiled``) and ``compiled_ratio`` (compiled over PyTorch)."""
    fns = (glassgrad_fn, compiled_fn, torch_fn)
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = ([], [], [])
    for i in range(reps):
        # Rotate the order, so that none always runs on a cache another warmed.
        for k in range(3):
            j = (i + k) % 3
            start = time.perf_counter()
            fns[j]()
            times[j].append(time.perf_counter() - start)
    g, c, t = (summarize(ts) for ts in times)
    pair_ratios = sorted(a / b for a, b in zip(times[0], times[2]))
    return {
        "glassgrad": g,
        "torch": t,
        "ratio": g["median_ms"] / t["median_ms"],
        "ratio_of_pairs_median": statistics.median(pair_ratios),
        "compiled": c,
        "compiled_ratio": c["median_ms"] / t["median_ms"],
    }


def time_one(fn, reps=10, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return summarize(times)


def run_child(code, env=None, timeout=600):
    """Run ``code`` in a fresh Python; returns the JSON object it prints on its last line."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or ["no error output"]
        raise RuntimeError(f"benchmark child process failed (exit {result.returncode}): {tail[0]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def env_without_openblas_vars():
    env = dict(os.environ)
    for name in OPENBLAS_VARS:
        env.pop(name, None)
    return env
