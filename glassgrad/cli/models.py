"""``glassgrad models``: the registry of the CNN lineage, with parameters at CIFAR size."""

from glassgrad.cli import CLIError


def register(subparsers):
    p = subparsers.add_parser("models", help="list the models `glassgrad train --model` accepts")
    p.add_argument(
        "--count", action="store_true", help="also build each model and count its parameters (3x32x32, 10 classes)"
    )
    p.set_defaults(handler=run)


def run(args):
    from glassgrad.vision.models import MODELS, get_model

    if not MODELS:
        raise CLIError("no models are registered")
    width = max(len(name) for name in MODELS)
    for name, (_, year, description) in MODELS.items():
        count = ""
        if args.count:
            count = f"{sum(p.numel() for p in get_model(name).parameters()):>12,}  "
        print(f"{name:<{width}}  {year}  {count}{description}")
    return 0
