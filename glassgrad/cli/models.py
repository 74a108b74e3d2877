"""``glassgrad models``: the registry of the CNN lineage, with parameters at CIFAR size."""

from glassgrad.cli import CLIError


def register(subparsers):
    p = subparsers.add_parser("models", help="list the models `glassgrad train --model` accepts")
    p.add_argument(
        "--count",
        action="store_true",
        help="also build each model as `glassgrad train` does and count its parameters (3x32x32, 10 classes)",
    )
    p.set_defaults(handler=run)


def run(args):
    from glassgrad.vision.models import MODELS, get_model, model_options

    if not MODELS:
        raise CLIError("no models are registered")
    width = max(len(name) for name in MODELS)
    for name, (_, year, description) in MODELS.items():
        options = {}
        if "activation" in model_options(name):
            # What `glassgrad train` and `lineage` build under this name (and count), unless told otherwise.
            options = {"activation": "relu", "batch_norm": True}
            description += "; the commands build it with relu + batch norm (--activation, --batch-norm)"
        count = ""
        if args.count:
            count = f"{sum(p.numel() for p in get_model(name, **options).parameters()):>12,}  "
        print(f"{name:<{width}}  {year}  {count}{description}")
    return 0
