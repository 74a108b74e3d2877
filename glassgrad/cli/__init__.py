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
SUBCOMMANDS = ["explain", "lesson", "train", "evaluate", "predict", "models", "summary", "lineage", "bench"]


class CLIError(Exception):
    """A problem the user can fix: printed as one line, exit code 2, no traceback."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="glassgrad",
        description="Train, evaluate and look inside neural networks, with PyTorch's API on NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"glassgrad {glassgrad.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"glassgrad.cli.{name}").register(subparsers)
    return parser


def main(argv=None):
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
