"""``glassgrad predict CHECKPOINT IMAGE...``: the top-k classes of each image, with probabilities."""

from pathlib import Path

import glassgrad
from glassgrad.cli import CLIError


def register(subparsers):
    p = subparsers.add_parser(
        "predict",
        help="classify image files with a trained checkpoint",
        description="Classify image files (PNG, JPEG, ...) with a checkpoint from `glassgrad train`. Images are "
        "converted to the model's colour mode and size, and normalised as in training.",
    )
    p.add_argument("checkpoint", help="checkpoint.pt from a run folder")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    p.add_argument(
        "--top", type=int, default=3, metavar="K", help="how many classes to show per image (default: %(default)s)"
    )
    p.set_defaults(handler=run)


def run(args):
    from PIL import Image, UnidentifiedImageError

    from glassgrad.cli.evaluate import open_checkpoint
    from glassgrad.train.data import image_transform

    if args.top <= 0:
        raise CLIError(f"--top must be > 0, got {args.top}")
    state, model = open_checkpoint(args.checkpoint)
    config = state.get("config") or {}
    channels, height, width = config.get("input_shape") or [None, None, None]
    if channels is None:
        raise CLIError(f"{args.checkpoint} does not record its input shape; it was not written by `glassgrad train`")
    transform = image_transform(config["mean"], config["std"], channels, (height, width))
    names = state.get("class_names") or [str(i) for i in range(config.get("num_classes", 0))]
    batch = []
    for path in args.images:
        try:
            with Image.open(path) as image:
                batch.append(transform(image))
        except FileNotFoundError:
            raise CLIError(f"no image file {path}") from None
        except (UnidentifiedImageError, OSError) as error:
            raise CLIError(f"cannot read {path} as an image ({error}); give PNG or JPEG files") from None
    with glassgrad.no_grad():
        probabilities = glassgrad.softmax(model(glassgrad.stack(batch)), dim=1).numpy()
    k = min(args.top, probabilities.shape[1])
    for path, row in zip(args.images, probabilities):
        order = row.argsort()[::-1][:k]
        ranked = ", ".join(f"{names[i] if i < len(names) else i} {100 * row[i]:.1f}%" for i in order)
        print(f"{Path(path).name}: {ranked}")
    return 0
