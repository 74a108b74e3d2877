"""``glassgrad models``: every name ``get_model`` builds, grouped: the CIFAR-scale lineage that
``glassgrad train`` trains on small images, then torchvision's ImageNet architectures, each with its
parameter count and the input it is counted at."""

import argparse

from glassgrad.cli import CLIError

# The input each group is counted at (and what `glassgrad summary` feeds it by default).
CIFAR_INPUT, CIFAR_CLASSES = (3, 32, 32), 10
IMAGENET_INPUT, IMAGENET_CLASSES = (3, 224, 224), 1000


class _Shape:
    """The data shape the lineage is counted at: 3x32x32 images, 10 classes."""

    num_classes, in_channels, input_size = CIFAR_CLASSES, CIFAR_INPUT[0], CIFAR_INPUT[1:]


def register(subparsers):
    p = subparsers.add_parser(
        "models",
        help="list the models `glassgrad train --model` and `glassgrad summary` accept",
        description="List every model by group with its year, parameter count, the input it is counted "
        "at and a description.",
    )
    p.add_argument(
        "--count",
        action="store_true",
        help="kept for scripts that pass it: parameter counts are always shown",
    )
    p.set_defaults(handler=run)


def _parameters(builder, *args, **kwargs):
    from glassgrad.nn.utils import skip_init

    # Shapes only: skip_init leaves the weights undrawn (the VGGs would take seconds each).
    return sum(p.numel() for p in skip_init(builder, *args, **kwargs).parameters())


def rows():
    """(group title, [(name, year, parameters, input "CxHxW", description)]) for every registered model."""
    from glassgrad.cli.train import model_kwargs, variant
    from glassgrad.vision.models import MODELS, TORCHVISION_MODELS, get_model, model_options

    if not MODELS and not TORCHVISION_MODELS:
        raise CLIError("no models are registered")
    lineage = []
    for name, (_, year, description) in MODELS.items():
        options = {}
        if "activation" in model_options(name):
            # What `glassgrad train` and `lineage` build under this name (and count), unless told otherwise.
            options = model_kwargs(argparse.Namespace(), _Shape(), name)
            description += f"; the commands build it with {variant(options)} (--activation, --batch-norm)"
            options = {key: options[key] for key in ("activation", "batch_norm")}
        lineage.append((name, year, _parameters(get_model, name, **options), CIFAR_INPUT, description))
    imagenet = [
        (name, year, _parameters(get_model, name), IMAGENET_INPUT, description)
        for name, (_, year, description) in TORCHVISION_MODELS.items()
    ]
    return [
        (
            f"CIFAR-scale networks (`glassgrad train`'s; {CIFAR_CLASSES} classes, built for any image size):",
            lineage,
        ),
        (
            f"torchvision's ImageNet architectures (torchvision's layout and state-dict keys; "
            f"{IMAGENET_CLASSES} classes, weights= loads a converted torchvision file):",
            imagenet,
        ),
    ]


def run(args):
    groups = rows()
    width = max(len(row[0]) for _, group in groups for row in group)
    for i, (title, group) in enumerate(groups):
        if i:
            print()
        print(title)
        print(f"  {'name':<{width}}  year  {'parameters':>11}  {'input':<9}  description")
        for name, year, count, shape, description in group:
            size = "x".join(map(str, shape))
            print(f"  {name:<{width}}  {year}  {count:>11,}  {size:<9}  {description}")
    return 0
