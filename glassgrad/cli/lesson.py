"""`glassgrad lesson NAME`: run one of the seeds' lessons, print what it shows and write its figures."""

import importlib
import inspect

from glassgrad import lessons
from glassgrad.cli import CLIError

# Command name (dashes) -> module of glassgrad.lessons, from the package's one list.
LESSONS = {name.replace("_", "-"): name for name in lessons.LESSONS}


def register(subparsers):
    parser = subparsers.add_parser(
        "lesson",
        help="run a lesson of the seeds (gradient descent, backprop, XOR, convolution, sigmoid CNN, ...)",
        description="Run one lesson: it prints what it shows and writes its figures to --out.",
    )
    parser.add_argument("name", nargs="?", choices=sorted(LESSONS), help="the lesson; leave out to list them")
    parser.add_argument("--out", default=None, help="folder for the figures (default: lesson-NAME)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (xor, sigmoid-cnn)")
    parser.add_argument("--limit", type=int, default=None, help="use only this many training images (sigmoid-cnn)")
    parser.add_argument("--steps", type=int, default=None, help="descent steps (gradient-descent)")
    parser.add_argument(
        "--data", default=None, help="folder holding cifar10-jpeg.tar.gz (sigmoid-cnn; default: $GLASSGRAD_DATA)"
    )
    parser.add_argument(
        "--dataset", default=None, choices=["cifar10", "digits"], help="sigmoid-cnn: cifar10 (default) or digits"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.set_defaults(handler=run)


def run(args):
    if args.name is None:
        for name, module in LESSONS.items():
            doc = importlib.import_module(f"glassgrad.lessons.{module}").__doc__.strip().splitlines()[0]
            print(f"{name:20s} {doc}")
        return 0
    module = importlib.import_module(f"glassgrad.lessons.{LESSONS[args.name]}")
    options = {"out": args.out or f"lesson-{args.name}", "seed": args.seed}
    for key in ("epochs", "limit", "steps", "data", "dataset"):
        value = getattr(args, key)
        if value is not None:
            if key not in module.OPTIONS:
                raise CLIError(f"lesson {args.name} has no --{key}; its options: {', '.join(module.OPTIONS) or 'none'}")
            options[key] = value
    if "progress" in inspect.signature(module.run).parameters:
        options["progress"] = lambda line: print(line, flush=True)
    try:
        result = module.run(**options)
    except (FileNotFoundError, ValueError) as error:
        raise CLIError(str(error)) from None
    for line in module.describe(result):
        print(line)
    for path in result.figures:
        print(f"wrote {path}")
    return 0
