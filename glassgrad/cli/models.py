"""``glassgrad models``: the registry of the CNN lineage, with parameters at CIFAR size."""

import argparse

from glassgrad.cli import CLIError


class _Shape:
    """The data shape --count builds at: 3x32x32 images, 10 classes."""

    num_classes, in_channels, input_size = 10, 3, (32, 32)


def register(subparsers):
    p = subparsers.add_parser("models", help="list the models `glassgrad train --model` accepts")
    p.add_argument(
        "--count",
        action="store_true",
        help="also build each model as `glassgrad train` does and count its parameters (3x32x32, 10 classes)",
    )
    p.set_defaults(handler=run)


def run(args):
    from glassgrad.cli.train import model_kwargs, variant
    from glassgrad.vision.models import MODELS, get_model, model_options

    if not MODELS:
        raise CLIError("no models are registered")
    width = max(len(name) for name in MODELS)
    for name, (_, year, description) in MODELS.items():
        options = {}
        if "activation" in model_options(name):
            # What `glassgrad train` and `lineage` build under this name (and count), unless told otherwise.
            options = model_kwargs(argparse.Namespace(), _Shape(), name)
            description += f"; the commands build it with {variant(options)} (--activation, --batch-norm)"
            options = {key: options[key] for key in ("activation", "batch_norm")}
        count = ""
        if args.count:
            count = f"{sum(p.numel() for p in get_model(name, **options).parameters()):>12,}  "
        print(f"{name:<{width}}  {year}  {count}{description}")
    return 0
