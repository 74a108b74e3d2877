"""``glassgrad run SCRIPT [args...]``: run an unmodified PyTorch program with glassgrad as ``torch``."""

import argparse

from glassgrad.cli import CLIError


def register(subparsers):
    parser = subparsers.add_parser(
        "run",
        help="run an unmodified PyTorch program (SCRIPT args...) with glassgrad standing in for torch/torchvision",
        description=(
            "Run SCRIPT as `python SCRIPT args...` would, with every `torch.*` and `torchvision.*` import "
            "answered by glassgrad's own modules. A PyTorch name glassgrad lacks fails where the program "
            "uses it, naming the API; --list prints the names provided."
        ),
    )
    parser.add_argument("script", nargs="?", help="the Python file to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    parser.add_argument(
        "--list",
        nargs="?",
        const="",
        metavar="PREFIX",
        help="print the PyTorch names glassgrad provides (those starting with PREFIX, e.g. torch.nn.) and exit",
    )
    parser.set_defaults(handler=run)


def run(args):
    from glassgrad import run as runner

    if args.list is not None:
        print(runner.list_names(args.list))
        return 0
    if args.script is None:
        raise CLIError("give the script to run: glassgrad run SCRIPT [args...] (or --list to see the names provided)")
    try:
        runner.run_script(args.script, args.args)
    except FileNotFoundError as error:
        if str(error).startswith("glassgrad run:"):
            raise CLIError(str(error).removeprefix("glassgrad run: ")) from None
        raise
    return 0
