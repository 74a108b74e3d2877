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
        default=[3, 32, 32],
        metavar="N",
        help="C H W of one input, e.g. 1 28 28 (default: 3 32 32)",
    )
    p.add_argument("--num-classes", type=int, default=10, help="classes of the output layer (default: %(default)s)")
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
    from glassgrad.vision.models import get_model

    size = args.input_size
    if len(size) == 2:
        size = [1, *size] if args.model.lower() == "lenet5" else [3, *size]
    if len(size) != 3 or min(size) <= 0:
        raise CLIError(
            f"--input-size takes C H W (three positive numbers, e.g. 3 32 32), got {' '.join(map(str, args.input_size))}"
        )
    if args.num_classes <= 0 or args.batch_size <= 0 or args.depth < 0:
        raise CLIError("--num-classes and --batch-size must be > 0 and --depth >= 0")
    try:
        model = get_model(args.model, num_classes=args.num_classes, in_channels=size[0], input_size=tuple(size[1:]))
    except ValueError as error:
        raise CLIError(f"{error} (see `glassgrad models`)") from None
    try:
        result = glassgrad.summary(model, (args.batch_size, *size), depth=args.depth)
    except (ValueError, RuntimeError) as error:
        raise CLIError(f"{args.model} cannot take input {size}: {str(error).splitlines()[0]}") from None
    print(result)
    return 0
