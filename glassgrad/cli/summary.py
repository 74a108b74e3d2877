"""``glassgrad summary MODEL``: a layer table with output shapes, parameters, MACs and training memory."""

from glassgrad.cli import CLIError


def register(subparsers):
    p = subparsers.add_parser(
        "summary",
        help="show a model's layers, output shapes, parameters, MACs and memory",
        description="Show a model's layers like torchinfo: output shapes, parameters, multiply-accumulates, "
        "and the memory a training step needs.",
    )
    p.add_argument("model", help="a name from `glassgrad models`")
    p.add_argument(
        "--input-size",
        nargs="+",
        type=int,
        default=None,
        metavar="N",
        help="C H W of one input, e.g. 1 28 28 (default: 3 224 224 for torchvision's ImageNet models, "
        "3 32 32 for the others)",
    )
    p.add_argument(
        "--num-classes",
        type=int,
        default=None,
        help="classes of the output layer (default: 1000 for ImageNet models, 10 for the others)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="batch size for the MACs and the memory estimate (default: %(default)s)",
    )
    p.add_argument(
        "--depth", type=int, default=3, help="how many levels of nested modules to show (default: %(default)s)"
    )
    p.set_defaults(handler=run)


def run(args):
    import glassgrad
    from glassgrad.cli.models import CIFAR_CLASSES, CIFAR_INPUT, IMAGENET_CLASSES, IMAGENET_INPUT
    from glassgrad.nn.utils import skip_init
    from glassgrad.vision.models import TORCHVISION_MODELS, canonical_name, get_model

    try:
        imagenet = canonical_name(args.model) in TORCHVISION_MODELS
    except ValueError as error:
        raise CLIError(f"{error} (see `glassgrad models`)") from None
    size = args.input_size or list(IMAGENET_INPUT if imagenet else CIFAR_INPUT)
    classes = args.num_classes or (IMAGENET_CLASSES if imagenet else CIFAR_CLASSES)
    if len(size) == 2:
        size = [1, *size] if args.model.lower() == "lenet5" else [3, *size]
    if len(size) != 3 or min(size) <= 0:
        raise CLIError(
            f"--input-size takes C H W (three positive numbers, e.g. 3 32 32), got {' '.join(map(str, args.input_size))}"
        )
    if classes <= 0 or args.batch_size <= 0 or args.depth < 0:
        raise CLIError("--num-classes and --batch-size must be > 0 and --depth >= 0")
    if imagenet and size[0] != 3:
        raise CLIError(f"{args.model} is torchvision's ImageNet architecture: it takes 3 channels, not {size[0]}")
    options = {"num_classes": classes}
    if not imagenet:
        options.update(in_channels=size[0], input_size=tuple(size[1:]))
    try:
        # The table needs shapes only: weights are not drawn, but zeroed so that the run sees no garbage.
        model = skip_init(get_model, args.model, **options)
    except ValueError as error:
        raise CLIError(f"{error} (see `glassgrad models`)") from None
    for tensor in [*model.parameters(), *model.buffers()]:
        tensor.array[...] = 0
    try:
        result = glassgrad.summary(model, (args.batch_size, *size), depth=args.depth)
    except (ValueError, RuntimeError) as error:
        raise CLIError(f"{args.model} cannot take input {size}: {str(error).splitlines()[0]}") from None
    print(result)
    return 0
