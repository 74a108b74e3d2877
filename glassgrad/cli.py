"""The ``glassgrad`` command: parses arguments, calls the library, prints."""

import argparse
import sys

import glassgrad


def build_parser():
    parser = argparse.ArgumentParser(
        prog="glassgrad",
        description="Train, evaluate and look inside convolutional networks, with PyTorch's API on NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"glassgrad {glassgrad.__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
