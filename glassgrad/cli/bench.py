"""``glassgrad bench``: run the speed suite against PyTorch and print the table of ratios."""

import importlib.util
import os
import sys
from pathlib import Path

from glassgrad.cli import CLIError

GROUPS = ("train", "infer", "layers", "chain", "memory", "data", "nets", "latency", "mlp")


def register(subparsers):
    parser = subparsers.add_parser(
        "bench",
        help="time glassgrad against PyTorch (training steps, inference, layers, memory) and print the ratios",
        description=(
            "Run the benchmark suite of benchmarks/suite.py: each case in glassgrad and in PyTorch on identical "
            "inputs and weights, alternating, after warm-up; prints the machine line, then median and spread "
            "of each and the ratio glassgrad/PyTorch. Needs PyTorch (the CPU build) installed."
        ),
    )
    parser.add_argument("--reps", type=int, default=10, help="timed repetitions per case (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs before timing (default 2)")
    parser.add_argument(
        "--only",
        default=",".join(GROUPS),
        help=f"comma-separated groups to run, of {', '.join(GROUPS)} (default: all)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the table as JSON to PATH")
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="datasets folder for the data-loading row (default: $GLASSGRAD_DATA; the row is skipped without one)",
    )
    parser.add_argument(
        "--no-unset-run",
        action="store_true",
        help="skip the second run with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE removed (only made when they are set)",
    )
    parser.add_argument(
        "--threads", metavar="N,M", help="time every case at each of these thread counts, e.g. 1,2 (default: current)"
    )
    parser.add_argument("--nets", metavar="NAMES", help="comma-separated networks of the nets group (default: all)")
    parser.add_argument(
        "--quick", action="store_true", help="networks at batch 2 (ImageNet ones at 64x64), one MLP batch: a smoke test"
    )
    parser.set_defaults(handler=run)


def _suite_path():
    """benchmarks/suite.py beside the package (a source checkout, editable install), else in the
    current folder (an installed glassgrad run from a clone); None when neither has it."""
    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        path = root / "benchmarks" / "suite.py"
        if path.is_file():
            return path
    return None


def _load_suite():
    path = _suite_path()
    if path is None:
        raise CLIError(
            "the benchmark suite (benchmarks/suite.py) ships with the source checkout, not the installed "
            "package; run glassgrad bench from a clone of glassgrad (or pip install -e . there) and try again"
        )
    spec = importlib.util.spec_from_file_location("glassgrad_benchmark_suite", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(args):
    try:
        import torch  # noqa: F401  (the oracle every ratio is taken against)
    except ImportError:
        raise CLIError(
            "PyTorch is not installed, and every figure of the benchmark is a ratio against it; install the "
            "CPU build (pip install torch --index-url https://download.pytorch.org/whl/cpu) and run again"
        ) from None
    if args.reps < 1:
        raise CLIError(f"--reps must be at least 1, got {args.reps}")
    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise CLIError(f"unknown group(s) {', '.join(unknown)} in --only; choose from {', '.join(GROUPS)}")
    if args.data:
        if not os.path.isdir(args.data):
            raise CLIError(f"--data {args.data}: no such folder; give the folder that holds the datasets")
        os.environ["GLASSGRAD_DATA"] = args.data
    suite = _load_suite()
    argv = ["--reps", str(args.reps), "--warmup", str(args.warmup), "--only", ",".join(groups)]
    if args.json:
        argv += ["--json", args.json]
    if args.no_unset_run:
        argv.append("--no-unset-run")
    argv += (["--threads", args.threads] if args.threads else []) + (["--nets", args.nets] if args.nets else [])
    argv += ["--quick"] if args.quick else []

    def say(line):
        print(line, flush=True)

    try:
        return suite.main(argv, out=say)
    except SystemExit as stop:
        if isinstance(stop.code, str):
            raise CLIError(stop.code) from None
        return stop.code or 0
    finally:
        sys.stdout.flush()
