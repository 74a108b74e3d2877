"""``glassgrad train``: train a model of the lineage on a dataset, with checkpoints and a report.

With no arguments it trains a small CNN (SimpleCNN with ReLU and batch norm) on the embedded 8x8
digits for 10 epochs with Adam, which reaches about 98-99% test accuracy in well under a minute.
"""

import argparse
import random
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

import glassgrad
from glassgrad.cli import CLIError

DEFAULTS = {"model": "simple_cnn", "dataset": "digits", "epochs": 10, "optimizer": "adam", "schedule": "cosine"}
# Digits has 1,500 training images of 8x8 pixels, and its test images come from other writers:
# small batches give enough steps, and shifting by a pixel (--augment) is what generalises.
DEFAULT_BATCH = {"digits": 32}
DEFAULT_EPOCHS = {"digits": 15}
DEFAULT_LABEL_SMOOTHING = {"digits": 0.1}
DEFAULT_AUGMENT = {"digits": True}
DEFAULT_ADAM_LR = {"digits": 2e-3}


def add_data_arguments(parser, dataset_default="digits"):
    from glassgrad.train.data import DATASETS

    parser.add_argument(
        "--dataset",
        default=dataset_default,
        metavar="NAME",
        help=f"{', '.join(DATASETS)} (default: {dataset_default})",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="folder holding the datasets (default: $GLASSGRAD_DATA, else ~/.glassgrad/data)",
    )
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (default: 0)")
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="use only N training and N test images, for quick runs"
    )


def register(subparsers):
    from glassgrad.train.recipes import OPTIMIZERS, SCHEDULES

    p = subparsers.add_parser(
        "train",
        help="train a model on a dataset; writes checkpoints, metrics, plots and report.html",
        description="Train a model of the CNN lineage. With no arguments: SimpleCNN on the embedded digits.",
    )
    p.add_argument("--model", default=DEFAULTS["model"], help="a name from `glassgrad models` (default: simple_cnn)")
    add_data_arguments(p)
    p.add_argument(
        "--epochs", type=int, default=None, help=f"epochs to train (default: 15 on digits, else {DEFAULTS['epochs']})"
    )
    p.add_argument("--batch-size", type=int, default=None, help="batch size (default: 32 on digits, else 128)")
    p.add_argument("--optimizer", default=None, help=f"{', '.join(OPTIMIZERS)} (default: adam)")
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate (default: the optimizer's, e.g. adam 1e-3 (2e-3 on digits), sgd 0.05)",
    )
    p.add_argument(
        "--label-smoothing",
        type=float,
        default=None,
        help="label smoothing of the cross-entropy loss (default: 0.1 on digits, else 0)",
    )
    p.add_argument("--momentum", type=float, default=0.9, help="momentum for sgd and rmsprop (default: 0.9)")
    p.add_argument(
        "--weight-decay", type=float, default=None, help="L2 weight decay (default: sgd 5e-4, adamw 0.01, else 0)"
    )
    p.add_argument("--schedule", default=None, help=f"learning-rate schedule: {', '.join(SCHEDULES)} (default: cosine)")
    p.add_argument(
        "--activation",
        default=None,
        choices=["relu", "sigmoid", "tanh"],
        help="activation of simple_cnn (default: relu; 'sigmoid' is the seed's network, which does not learn)",
    )
    p.add_argument(
        "--batch-norm",
        default=None,
        choices=["on", "off"],
        help="batch norm in simple_cnn (default: on)",
    )
    p.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random crops (and flips where the images allow them) (default: on for digits, else off)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same run (default: 0)")
    p.add_argument("--out", default=None, metavar="DIR", help="run folder (default: runs/<model>-<dataset>-<time>)")
    p.add_argument(
        "--resume",
        default=None,
        metavar="CHECKPOINT",
        help="continue the run saved in CHECKPOINT (its settings are reused)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar and no per-epoch lines; only the final result")
    p.add_argument(
        "--doctor",
        action="store_true",
        help="watch activations and gradients during training and say at the end what stops the network from learning",
    )
    p.add_argument(
        "--tensorboard",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help="log the run for TensorBoard into DIR (default: the run folder's tensorboard/); needs tensorboard",
    )
    # Data parallel (glassgrad.cli.distributed, glassgrad.train.distributed).
    p.add_argument(
        "--nproc",
        type=int,
        default=None,
        metavar="N",
        help="train on N local processes (data parallel; --batch-size is per process)",
    )
    p.add_argument(
        "--backend",
        default=None,
        choices=["mpi", "gloo"],
        help="collective engine for --nproc or a launcher (default: gloo, or mpi under mpirun/srun)",
    )
    p.set_defaults(handler=run)


def check_positive(name, value, allow_zero=False):
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        raise CLIError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")


def seed_everything(seed):
    glassgrad.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def model_kwargs(args, data):
    from glassgrad.vision.models import model_options

    kwargs = {"num_classes": data.num_classes, "in_channels": data.in_channels, "input_size": list(data.input_size)}
    try:
        options = model_options(args.model)
    except ValueError as error:
        raise CLIError(f"{error} (see `glassgrad models`)") from None
    if "activation" in options:
        kwargs["activation"] = args.activation or "relu"
    elif args.activation is not None:
        raise CLIError(
            f"--activation applies to simple_cnn only; {args.model} has fixed activations (drop --activation)"
        )
    if "batch_norm" in options:
        kwargs["batch_norm"] = (args.batch_norm or "on") == "on"
    elif args.batch_norm is not None:
        raise CLIError("--batch-norm applies to simple_cnn only; pick a *_bn model instead (e.g. vgg11_bn)")
    return kwargs


def build_model(name, kwargs):
    from glassgrad.vision.models import get_model

    try:
        return get_model(name, **kwargs)
    except ValueError as error:
        raise CLIError(f"{error} (see `glassgrad models`)") from None


def open_data(args, batch_size, seed, augment=False):
    from glassgrad.train.data import DataError, load_data

    check_positive("--limit", args.limit)
    check_positive("--workers", args.workers, allow_zero=True)
    try:
        return load_data(
            args.dataset,
            args.data_dir,
            batch_size=batch_size,
            augment=augment,
            limit=args.limit,
            workers=args.workers,
            seed=seed,
        )
    except DataError as error:
        raise CLIError(str(error)) from None


def check_input(model, data, label):
    """Run one image through the model, turning a shape mismatch into one line with the fix."""
    inputs, _ = next(iter(data.test_loader))
    was_training = model.training
    model.eval()
    try:
        with glassgrad.no_grad():
            out = model(inputs[:1])
    except (ValueError, RuntimeError, IndexError) as error:
        raise CLIError(
            f"{label} cannot take {data.name} images of shape {tuple(inputs.shape[1:])}: {str(error).splitlines()[0]} "
            f"(train or evaluate the model on data shaped like its training data)"
        ) from None
    finally:
        model.train(was_training)
    if out.shape[-1] < data.num_classes:
        raise CLIError(
            f"{label} predicts {out.shape[-1]} classes but {data.name} has {data.num_classes}; use a matching dataset"
        )


class EpochPrinter:
    """Prints one line per epoch (the CLI speaks; the library does not)."""

    def __init__(self, epochs, stream=None):
        self.epochs = epochs
        self.stream = stream

    def line(self, record):
        test = ""
        if record.get("test_top1") is not None:
            test = f"  test loss {record['test_loss']:.4f} acc {100 * record['test_top1']:.2f}%"
        speed = f"{record['images_per_s']:.0f} img/s" if record.get("images_per_s") else ""
        return (
            f"epoch {record['epoch']:>3}/{self.epochs}  train loss {record['train_loss']:.4f} "
            f"acc {100 * record['train_top1']:.2f}%{test}  lr {record['lr']:.3g}  {speed}  {record['epoch_time']:.1f}s"
        )


def _printer_callback(printer):
    from glassgrad.train import Callback

    class Print(Callback):
        def on_epoch_end(self, trainer, epoch, record):
            print(printer.line(record), file=printer.stream or sys.stdout, flush=True)

    return Print()


def run(args):
    world = None
    if getattr(args, "nproc", None) is not None:
        check_positive("--nproc", args.nproc)
        if args.nproc > 1:
            from glassgrad.cli.distributed import launch_local

            return launch_local(args)
    else:
        from glassgrad.train.distributed import join

        world = join(getattr(args, "backend", None))
    try:
        return _run(args, world)
    finally:
        if world is not None:
            glassgrad.distributed.destroy_process_group()


def _run(args, world):
    from glassgrad.train import Trainer, load_checkpoint
    from glassgrad.train.recipes import build_optimizer, build_scheduler

    resume_state = None
    if args.resume:
        try:
            resume_state = load_checkpoint(args.resume)
        except (OSError, ValueError) as error:
            raise CLIError(f"cannot resume from {args.resume}: {str(error).splitlines()[0]}") from None
        saved = resume_state["config"]
        for key in (
            "model",
            "dataset",
            "data_dir",
            "optimizer",
            "lr",
            "momentum",
            "weight_decay",
            "schedule",
            "label_smoothing",
            "augment",
            "seed",
            "limit",
            "batch_size",
            "activation",
            "batch_norm",
        ):
            setattr(args, key, saved.get(key))
        args.epochs = args.epochs or saved.get("epochs")
        args.out = args.out or str(Path(args.resume).parent)

    check_positive("--epochs", args.epochs)
    check_positive("--batch-size", args.batch_size)
    check_positive("--lr", args.lr)
    check_positive("--weight-decay", args.weight_decay, allow_zero=True)
    if not 0 <= args.momentum < 1:
        raise CLIError(f"--momentum must be in [0, 1), got {args.momentum}")
    dataset_key = args.dataset.lower()
    epochs = args.epochs or DEFAULT_EPOCHS.get(dataset_key, DEFAULTS["epochs"])
    optimizer_name = (args.optimizer or DEFAULTS["optimizer"]).lower()
    schedule = args.schedule or DEFAULTS["schedule"]
    batch_size = args.batch_size or DEFAULT_BATCH.get(dataset_key, 128)
    if args.augment is None:
        args.augment = DEFAULT_AUGMENT.get(dataset_key, False)
    if args.label_smoothing is None:
        args.label_smoothing = DEFAULT_LABEL_SMOOTHING.get(dataset_key, 0.0)
    if not 0 <= args.label_smoothing < 1:
        raise CLIError(f"--label-smoothing must be in [0, 1), got {args.label_smoothing}")
    if args.lr is None and optimizer_name == "adam":
        args.lr = DEFAULT_ADAM_LR.get(dataset_key)

    started = time.perf_counter()
    seed_everything(args.seed)
    data = open_data(args, batch_size, args.seed, augment=args.augment)
    kwargs = model_kwargs(args, data)
    model = build_model(args.model, kwargs)
    check_input(model, data, args.model)
    rank = 0 if world is None else world.rank
    if world is not None:
        from glassgrad.train import distributed as tdist

        # Global-batch statistics: N processes x batch B train as one process x batch N*B.
        model = glassgrad.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        seed_everything(args.seed + 1000 * rank)  # each rank its own augmentation and dropout streams
        data.train_loader = tdist.shard_loader(data.train_loader, world, args.seed, args.seed + 1000 * rank)
    try:
        optimizer = build_optimizer(optimizer_name, model.parameters(), args.lr, args.momentum, args.weight_decay)
        scheduler, interval = build_scheduler(schedule, optimizer, epochs, len(data.train_loader))
    except ValueError as error:
        raise CLIError(str(error)) from None

    out = Path(
        args.out
        or Path("runs") / f"{args.model}-{data.name.replace(':', '_').replace('/', '_')}-{datetime.now():%Y%m%d-%H%M%S}"
    )
    config = {
        "title": f"{args.model} on {data.name}",
        "model": args.model,
        "dataset": args.dataset,
        "data_dir": args.data_dir,
        "epochs": epochs,
        "batch_size": batch_size,
        "optimizer": optimizer_name,
        "lr": optimizer.param_groups[0]["lr"] if args.lr is None else args.lr,
        "momentum": args.momentum,
        "weight_decay": optimizer.param_groups[0].get("weight_decay"),
        "schedule": schedule,
        "label_smoothing": args.label_smoothing,
        "activation": kwargs.get("activation"),
        "batch_norm": None if "batch_norm" not in kwargs else ("on" if kwargs["batch_norm"] else "off"),
        "augment": bool(args.augment),
        "seed": args.seed,
        "limit": args.limit,
        "workers": args.workers,
        "train_images": data.info["train_images"],
        "test_images": data.info["test_images"],
        "num_classes": data.num_classes,
        "input_shape": [data.in_channels, *data.input_size],
        "mean": list(data.mean),
        "std": list(data.std),
        "parameters": sum(p.numel() for p in model.parameters()),
        "world_size": 1 if world is None else world.size,
        "backend": None if world is None else world.backend,
        "per_process_batch": batch_size,
        "global_batch": batch_size * (1 if world is None else world.size),
    }
    model_info = {"name": args.model, "kwargs": kwargs}
    quiet = args.quiet or rank != 0
    callbacks = [] if quiet else [_printer_callback(EpochPrinter(epochs))]
    callbacks += list(getattr(args, "extra_callbacks", []) or [])
    from glassgrad.train.doctor import Doctor

    # The report always shows what the doctor watches, sampled ten times an epoch; --doctor
    # watches every step and prints the findings.
    doctor = None
    if getattr(args, "doctor", False):
        doctor = Doctor(num_classes=data.num_classes)
        callbacks.append(doctor)
    else:
        callbacks.append(Doctor(num_classes=data.num_classes, every=max(1, len(data.train_loader) // 10)))
    if getattr(args, "tensorboard", None) is not None and rank == 0:
        from glassgrad.train.tensorboard import TensorBoardLogger

        try:
            callbacks.append(TensorBoardLogger(args.tensorboard or out / "tensorboard", class_names=data.class_names))
        except ModuleNotFoundError as error:
            raise CLIError(str(error)) from None
    trainer = Trainer(
        model,
        optimizer,
        glassgrad.nn.CrossEntropyLoss(label_smoothing=args.label_smoothing),
        data.train_loader,
        data.test_loader,
        scheduler,
        scheduler_interval=interval,
        out_dir=out if rank == 0 else None,
        callbacks=callbacks,
        progress=None if not quiet else False,
        class_names=data.class_names,
        config=config,
        model_info=model_info,
    )
    if world is not None:
        trainer.parallel = glassgrad.nn.parallel.DistributedDataParallel(model)
        trainer.metrics_reducer = tdist.reduce_running
        trainer.callbacks.append(tdist.epoch_callback())
    trainer.summary_text = str(glassgrad.summary(model, (data.in_channels, *data.input_size), depth=2))
    from glassgrad.train.report import write_json

    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "config.json", config)
    if resume_state is not None:
        trainer.load_state_dict(resume_state)
        if trainer.epoch >= epochs and not trainer._resume:
            raise CLIError(
                f"{args.resume} has already trained {trainer.epoch} epochs; pass --epochs N with N > {trainer.epoch}"
            )
    if not quiet:
        if world is not None:
            print(
                f"data parallel: {world.size} processes ({world.backend}), batch {batch_size} per process, "
                f"global batch {config['global_batch']}",
                flush=True,
            )
        what = "resuming" if resume_state is not None else "training"
        print(
            f"{what} {args.model} ({config['parameters']:,} parameters) on {data.name}: {config['train_images']:,} train / "
            f"{config['test_images']:,} test images, {epochs} epochs, {optimizer_name} lr {config['lr']:g}, schedule {schedule}",
            flush=True,
        )
    try:
        trainer.fit(epochs)
    except KeyboardInterrupt:
        where = trainer.checkpoint_path
        print(
            f"glassgrad train: interrupted; checkpoint saved to {where}; continue with: glassgrad train --resume {where}",
            file=sys.stderr,
        )
        return 130
    if rank != 0:
        return 0
    last = trainer.history["epochs"][-1]
    elapsed = time.perf_counter() - started
    print(
        f"test accuracy {100 * last['test_top1']:.2f}% (top-5 {100 * last['test_top5']:.2f}%) after {last['epoch']} epochs, "
        f"{elapsed:.1f}s; report: {out / 'report.html'}",
        flush=True,
    )
    if doctor is not None:
        findings = doctor.report()
        print("doctor: " + (f"{len(findings)} finding(s):" if findings else "no problems found"))
        for finding in findings:
            print(f"  - {finding}")
        print(f"doctor: gradient norms per layer in {doctor.plot(out / 'doctor_gradient_norms.png')}", flush=True)
    return 0
