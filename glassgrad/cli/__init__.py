"""The ``glassgrad`` command: parses arguments, calls the library, prints.

Each subcommand lives in its own module of this package, which defines
``register(subparsers)``; the parser it adds sets ``handler`` to a function that
takes the parsed arguments and returns an exit code.
"""

import argparse
import importlib
import sys

import glassgrad

# Subcommand modules, in the order `glassgrad --help` lists them.
SUBCOMMANDS = ["explain", "lesson", "train", "evaluate", "predict", "models", "summary", "lineage", "export", "bench"]


class CLIError(Exception):
    """A problem the user can fix: printed as one line, exit code 2, no traceback."""


def broken_install():
    """A message saying how to repair the install when ``glassgrad`` is not the real package, else None.

    A folder left in site-packages by ``pip uninstall`` (e.g. a ``__pycache__`` of compiled
    kernels) is imported by Python as an empty namespace package that hides a later install.
    """
    if getattr(glassgrad, "__file__", None) is not None and hasattr(glassgrad, "__version__"):
        return None
    paths = [str(p) for p in getattr(glassgrad, "__path__", [])]
    where = paths[0] if paths else "<the glassgrad folder in site-packages>"
    return (
        f"glassgrad: the install is broken: Python imported {', '.join(paths) or where} as an empty namespace "
        "package (a folder a previous `pip uninstall` left behind), which hides the real package. "
        f"Reinstall: pip uninstall glassgrad; rm -rf {where}; pip install . (or pip install -e . from a checkout)"
    )


def build_parser():
    parser = argparse.ArgumentParser(
        prog="glassgrad",
        description="Train, evaluate and look inside neural networks, with PyTorch's API on NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"glassgrad {getattr(glassgrad, '__version__', '?')}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"glassgrad.cli.{name}").register(subparsers)
    return parser


def main(argv=None):
    problem = broken_install()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.handler(args) or 0
    except CLIError as error:
        print(f"glassgrad {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"glassgrad {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
