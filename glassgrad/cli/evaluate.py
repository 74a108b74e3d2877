"""``glassgrad eval CHECKPOINT``: test accuracy, per-class accuracy and the confusion matrix of a trained model."""

import glassgrad
from glassgrad.cli import CLIError
from glassgrad.train.config import RunConfig


def register(subparsers):
    from glassgrad.cli.train import add_data_arguments

    p = subparsers.add_parser(
        "eval",
        help="evaluate a checkpoint on its dataset's test split (or another dataset)",
        description="Evaluate a checkpoint written by `glassgrad train` on the test split of its dataset.",
    )
    p.add_argument("checkpoint", help="checkpoint.pt from a run folder")
    add_data_arguments(p, dataset_default=None)
    p.add_argument("--batch-size", type=int, default=256, help="batch size (default: %(default)s)")
    p.set_defaults(handler=run)


def open_checkpoint(path):
    from glassgrad.train import load_checkpoint, model_from_checkpoint

    try:
        state = load_checkpoint(path)
    except FileNotFoundError:
        raise CLIError(f"no checkpoint at {path}; give the checkpoint.pt of a `glassgrad train` run folder") from None
    except (OSError, ValueError) as error:
        raise CLIError(f"cannot read checkpoint {path}: {str(error).splitlines()[0]}") from None
    try:
        model = model_from_checkpoint(state)
    except (KeyError, ValueError, RuntimeError) as error:
        raise CLIError(f"cannot rebuild the model of {path}: {str(error).splitlines()[0]}") from None
    return state, model


def run(args):
    from glassgrad.cli.train import check_input, open_data
    from glassgrad.train import Trainer

    state, model = open_checkpoint(args.checkpoint)
    config = state.get("config") or {}
    if args.batch_size <= 0:
        raise CLIError(f"--batch-size must be > 0, got {args.batch_size}")
    args.dataset = args.dataset or config.get("dataset") or RunConfig.dataset
    args.data_dir = args.data_dir or config.get("data_dir")
    data = open_data(args, args.batch_size, config.get("seed", 0))
    info = state["model_info"]
    check_input(model, data, f"{info['name']} from {args.checkpoint}")
    trainer = Trainer(
        model,
        _NoOptimizer(),
        glassgrad.nn.CrossEntropyLoss(),
        None,
        data.test_loader,
        class_names=data.class_names,
    )
    result = trainer.evaluate()
    confusion = result["confusion"]
    print(f"{info['name']} on {data.name} test ({result['images']:,} images, epoch {state.get('epoch')}):")
    print(
        f"  loss {result['loss']:.4f}  top-1 {100 * result['top1']:.2f}%  top-5 {100 * result['top5']:.2f}%  "
        f"{result['images_per_s']:.0f} img/s"
    )
    names = data.class_names
    width = max(len(str(n)) for n in names)
    print("  per-class accuracy:")
    for index, name in enumerate(names[: confusion.shape[0]]):
        total = int(confusion[index].sum())
        if total:
            print(f"    {str(name):<{width}}  {100 * confusion[index, index] / total:6.2f}%  ({total} images)")
    return 0


class _NoOptimizer:
    """Evaluation needs no optimizer; the Trainer only asks it for a learning rate."""

    param_groups = [{"lr": 0.0}]
