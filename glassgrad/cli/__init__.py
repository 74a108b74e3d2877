"""The ``glassgrad`` command: parses arguments, calls the library, prints.

Each subcommand lives in its own module of this package, which defines
``register(subparsers)``; the parser it adds sets ``handler`` to a function that
takes the parsed arguments and returns an exit code.
"""

import argparse
import importlib
import logging
import os
import sys

import glassgrad

# Subcommand modules, in the order `glassgrad --help` lists them.
SUBCOMMANDS = [
    "explain",
    "lesson",
    "train",
    "evaluate",
    "predict",
    "models",
    "summary",
    "lineage",
    "export",
    "bench",
    "run",
]


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


class _OneLine(logging.Formatter):
    """``glassgrad COMMAND: note: message``: what the library says, in the command's voice."""

    def __init__(self, command):
        super().__init__()
        self.command = command

    def format(self, record):
        kind = "error" if record.levelno >= logging.ERROR else "note"
        return f"glassgrad {self.command}: {kind}: {record.getMessage()}"


class _Once(logging.Filter):
    """Each message once per command (both splits of a dataset may say the same thing)."""

    def __init__(self):
        super().__init__()
        self.seen = set()

    def filter(self, record):
        text = record.getMessage()
        if text in self.seen:
            return False
        self.seen.add(text)
        return True


def _log_to_stderr(command):
    """Show the ``glassgrad`` logger's messages (INFO and above) on the current stderr while a
    command runs; returns the handler, which ``main`` removes when the command ends."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine(command))
    handler.addFilter(_Once())
    logger = logging.getLogger("glassgrad")
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    return handler


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
    handler = _log_to_stderr(args.command)
    try:
        return args.handler(args) or 0
    except CLIError as error:
        print(f"glassgrad {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"glassgrad {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`glassgrad models | head -2`): stop quietly, as shell tools do.
        _discard_stdout()
        return 141
    finally:
        logging.getLogger("glassgrad").removeHandler(handler)


def _discard_stdout():
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a file (captured in-process): nothing will flush to the pipe


if __name__ == "__main__":
    sys.exit(main())
