"""``glassgrad train``: train a model of the lineage on a dataset, with checkpoints and a report.

With no arguments it trains SimpleCNN (ReLU and batch norm) on the embedded 8x8 digits. Every
default comes from ``glassgrad.train.config`` (the dataset registry and ``RunConfig``) and the
optimizer and schedule tables of ``glassgrad.train.recipes``; ``glassgrad train --help`` shows them.
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
from glassgrad.train.config import MODEL_OPTION_DEFAULTS, RunConfig


def add_data_arguments(parser, dataset_default=RunConfig.dataset):
    from glassgrad.train.data import DOWNLOADABLE

    dataset_help = RunConfig.help("dataset")
    if dataset_default != RunConfig.dataset:
        dataset_help = dataset_help.replace(f"(default: {RunConfig.dataset})", f"(default: {dataset_default})")
    parser.add_argument("--dataset", default=dataset_default, metavar="NAME", help=dataset_help)
    parser.add_argument("--data-dir", default=None, metavar="DIR", help=RunConfig.help("data_dir"))
    parser.add_argument(
        "--download",
        action="store_true",
        help=f"fetch a missing dataset from its official address (needs network; {', '.join(DOWNLOADABLE)})",
    )
    parser.add_argument("--workers", type=int, default=RunConfig.workers, help=RunConfig.help("workers"))
    parser.add_argument("--limit", type=int, default=None, metavar="N", help=RunConfig.help("limit"))


def register(subparsers):
    p = subparsers.add_parser(
        "train",
        help="train a model on a dataset; writes checkpoints, metrics, plots and report.html",
        description="Train a model of the CNN lineage. With no arguments: SimpleCNN on the embedded digits.",
    )
    h = RunConfig.help
    p.add_argument("--model", default=RunConfig.model, help=h("model"))
    add_data_arguments(p)
    # None: "not given", so that --resume and the dataset's defaults can tell it from a choice.
    p.add_argument("--epochs", type=int, default=None, help=h("epochs"))
    p.add_argument("--batch-size", type=int, default=None, help=h("batch_size"))
    p.add_argument("--optimizer", default=None, help=h("optimizer"))
    p.add_argument("--lr", type=float, default=None, help=h("lr"))
    p.add_argument("--label-smoothing", type=float, default=None, help=h("label_smoothing"))
    p.add_argument("--momentum", type=float, default=RunConfig.momentum, help=h("momentum"))
    p.add_argument("--weight-decay", type=float, default=None, help=h("weight_decay"))
    p.add_argument("--schedule", default=None, help=h("schedule"))
    p.add_argument("--activation", default=None, choices=["relu", "sigmoid", "tanh"], help=h("activation"))
    p.add_argument("--batch-norm", default=None, choices=["on", "off"], help=h("batch_norm"))
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None, help=h("augment"))
    p.add_argument("--seed", type=int, default=RunConfig.seed, help=h("seed"))
    p.add_argument("--out", default=None, metavar="DIR", help="run folder (default: runs/<model>-<dataset>-<time>)")
    add_overwrite_argument(p)
    p.add_argument(
        "--resume",
        default=None,
        metavar="CHECKPOINT",
        help="continue the run saved in CHECKPOINT; it takes back " + ", ".join(RunConfig.resumed_fields()),
    )
    p.add_argument("--checkpoint-every", type=int, default=None, metavar="STEPS", help=h("checkpoint_every"))
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
    p.add_argument("--dist-timeout", type=float, default=None, metavar="SECONDS", help=h("dist_timeout"))
    p.set_defaults(handler=run)


def add_overwrite_argument(parser):
    parser.add_argument(
        "--overwrite", action="store_true", help="write into an --out folder that holds an earlier run, replacing it"
    )


# Files whose presence means a folder holds a finished or started run.
RUN_FILES = ("config.json", "checkpoint.pt", "metrics.json", "report.html", "lineage.json", "lineage.csv")


def check_out_dir(out, overwrite, resuming_from=None):
    """Refuse an ``--out`` folder holding an earlier run (unless ``overwrite``, or it is the run being resumed)."""
    if out is None or overwrite:
        return
    out = Path(out)
    if resuming_from is not None and out.resolve() == Path(resuming_from).resolve().parent:
        return
    found = [name for name in RUN_FILES if (out / name).exists()]
    if found:
        raise CLIError(
            f"--out {out} already holds a run ({', '.join(found)}); choose another --out, "
            "or pass --overwrite to replace it"
        )


def fresh_dir(base):
    """``base``, or ``base-2``, ``base-3``... when it exists: a default run folder never reuses an earlier one."""
    base = Path(base)
    candidate, n = base, 2
    while candidate.exists():
        candidate = base.with_name(f"{base.name}-{n}")
        n += 1
    return candidate


def check_positive(name, value, allow_zero=False):
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        raise CLIError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")


def seed_everything(seed):
    glassgrad.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def model_kwargs(args, data, name=None):
    """The constructor arguments of model ``name`` (default ``args.model``) for ``data``: the same name
    builds the same network in every command (``MODEL_OPTION_DEFAULTS`` unless told otherwise)."""
    from glassgrad.vision.models import model_options

    name = name or args.model
    activation = getattr(args, "activation", None)
    batch_norm = getattr(args, "batch_norm", None)
    kwargs = {"num_classes": data.num_classes, "in_channels": data.in_channels, "input_size": list(data.input_size)}
    try:
        options = model_options(name)
    except ValueError as error:
        raise CLIError(f"{error} (see `glassgrad models`)") from None
    if "activation" in options:
        kwargs["activation"] = activation or MODEL_OPTION_DEFAULTS["activation"]
    elif activation is not None:
        raise CLIError(f"--activation applies to simple_cnn only; {name} has fixed activations (drop --activation)")
    if "batch_norm" in options:
        kwargs["batch_norm"] = (batch_norm or MODEL_OPTION_DEFAULTS["batch_norm"]) == "on"
    elif batch_norm is not None:
        raise CLIError("--batch-norm applies to simple_cnn only; pick a *_bn model instead (e.g. cifar_vgg11_bn)")
    return kwargs


def variant(kwargs):
    """Which variant of a configurable model ran, in words ('relu + batch norm'), or '' for a fixed one."""
    parts = []
    if "activation" in kwargs:
        parts.append(kwargs["activation"])
    if "batch_norm" in kwargs:
        parts.append("batch norm" if kwargs["batch_norm"] else "no batch norm")
    return " + ".join(parts)


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
        data = load_data(
            args.dataset,
            args.data_dir,
            batch_size=batch_size,
            augment=augment,
            limit=args.limit,
            workers=args.workers,
            seed=seed,
            download=getattr(args, "download", False),
        )
    except DataError as error:
        raise CLIError(str(error)) from None
    for notice in data.info.get("notices", []):
        print(f"glassgrad {args.command}: note: {notice}", file=sys.stderr, flush=True)
    return data


def check_input(model, data, label):
    """Run one image through the model, turning a shape mismatch into one line with the fix.

    The image is read from the test set directly: looking at one image starts no worker processes."""
    image = data.test_loader.dataset[0][0]
    inputs = image.reshape(1, *image.shape)
    was_training = model.training
    model.eval()
    try:
        with glassgrad.no_grad():
            out = model(inputs)
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


def replan(trainer, schedule, planned, epochs, quiet):
    """Re-plan a length-dependent schedule when a resumed run changes its number of epochs."""
    from glassgrad.train.recipes import replan_scheduler

    planned_now = replan_scheduler(
        schedule, trainer.optimizer, epochs, len(trainer.train_loader), trainer.epoch, trainer.global_step
    )
    if planned_now is None:
        return
    trainer.scheduler, trainer.scheduler_interval = planned_now
    if not quiet:
        print(
            f"the {schedule} schedule was planned for {planned} epochs; re-planned for {epochs}: "
            f"epoch {trainer.epoch + 1} runs at lr {trainer.optimizer.param_groups[0]['lr']:.3g}",
            flush=True,
        )


def config_from_args(args):
    """The ``RunConfig`` of the command line: the values given, None for the others."""
    import dataclasses

    names = [f.name for f in dataclasses.fields(RunConfig) if f.metadata["flag"]]
    return RunConfig(**{name: getattr(args, name, None) for name in names})


def run(args):
    world = None
    if getattr(args, "nproc", None) is not None:
        check_positive("--nproc", args.nproc)
        if args.nproc > 1:
            from glassgrad.cli.distributed import launch_local

            return launch_local(args)
    else:
        from glassgrad.train.distributed import join

        world = join(getattr(args, "backend", None), getattr(args, "dist_timeout", None) or RunConfig.dist_timeout)
    try:
        return _run(args, world)
    except CLIError as error:
        if world is not None:  # tell the other ranks, which would otherwise wait in a collective
            from glassgrad.distributed import _faults

            _faults.fail(error)
        raise
    finally:
        if world is not None:
            glassgrad.distributed.destroy_process_group()


def _run(args, world):
    import dataclasses

    from glassgrad.train import Trainer, load_checkpoint
    from glassgrad.train.recipes import build_optimizer, build_scheduler

    given = config_from_args(args)
    resume_state = None
    planned_epochs = None
    if args.resume:
        try:
            resume_state = load_checkpoint(args.resume)
        except (OSError, ValueError) as error:
            raise CLIError(f"cannot resume from {args.resume}: {str(error).splitlines()[0]}") from None
        saved = RunConfig.from_dict(resume_state["config"])
        planned_epochs = saved.epochs
        given = given.resume_from(saved)
    if world is None or world.rank == 0:  # rank 0 alone writes the run folder
        check_out_dir(args.out, args.overwrite, args.resume)
    if args.resume:
        args.out = args.out or str(Path(args.resume).parent)

    check_positive("--epochs", given.epochs)
    check_positive("--batch-size", given.batch_size)
    check_positive("--checkpoint-every", given.checkpoint_every)
    check_positive("--lr", given.lr)
    check_positive("--weight-decay", given.weight_decay, allow_zero=True)
    if not 0 <= given.momentum < 1:
        raise CLIError(f"--momentum must be in [0, 1), got {given.momentum}")
    if given.label_smoothing is not None and not 0 <= given.label_smoothing < 1:
        raise CLIError(f"--label-smoothing must be in [0, 1), got {given.label_smoothing}")
    cfg = given.resolved()
    epochs = cfg.epochs

    started = time.perf_counter()
    seed_everything(cfg.seed)
    args.dataset, args.data_dir, args.limit = cfg.dataset, cfg.data_dir, cfg.limit
    data = open_data(args, cfg.batch_size, cfg.seed, augment=cfg.augment)
    kwargs = model_kwargs(cfg, data)
    model = build_model(cfg.model, kwargs)
    check_input(model, data, cfg.model)
    rank = 0 if world is None else world.rank
    if world is not None:
        from glassgrad.train import distributed as tdist

        # Global-batch statistics: N processes x batch B train as one process x batch N*B.
        model = glassgrad.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        seed_everything(cfg.seed + 1000 * rank)  # each rank its own augmentation and dropout streams
        data.train_loader = tdist.shard_loader(data.train_loader, world, cfg.seed, cfg.seed + 1000 * rank)
    else:
        from glassgrad.train.distributed import recorded_loader

        # The same batches, with each epoch's order kept for mid-epoch checkpoints.
        data.train_loader = recorded_loader(data.train_loader)
    try:
        optimizer = build_optimizer(cfg.optimizer, model.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay)
        scheduler, interval = build_scheduler(cfg.schedule, optimizer, epochs, len(data.train_loader))
    except ValueError as error:
        raise CLIError(str(error)) from None

    out = Path(
        args.out
        or fresh_dir(
            Path("runs") / f"{cfg.model}-{data.name.replace(':', '_').replace('/', '_')}-{datetime.now():%Y%m%d-%H%M%S}"
        )
    )
    cfg = dataclasses.replace(
        cfg,
        title=f"{cfg.model} on {data.name}",
        activation=kwargs.get("activation"),
        batch_norm=None if "batch_norm" not in kwargs else ("on" if kwargs["batch_norm"] else "off"),
        train_images=data.info["train_images"],
        test_images=data.info["test_images"],
        num_classes=data.num_classes,
        input_shape=[data.in_channels, *data.input_size],
        mean=list(data.mean),
        std=list(data.std),
        parameters=sum(p.numel() for p in model.parameters()),
        world_size=1 if world is None else world.size,
        backend=None if world is None else world.backend,
        per_process_batch=cfg.batch_size,
        global_batch=cfg.batch_size * (1 if world is None else world.size),
    )
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
    try:
        trainer = Trainer(
            model,
            optimizer,
            glassgrad.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing),
            data.train_loader,
            data.test_loader,
            scheduler,
            scheduler_interval=interval,
            out_dir=out if rank == 0 else None,
            callbacks=callbacks,
            progress=None if not quiet else False,
            class_names=data.class_names,
            config=cfg.to_dict(),
            model_info={"name": cfg.model, "kwargs": kwargs},
            summary_text=str(glassgrad.summary(model, (data.in_channels, *data.input_size), depth=2)),
            resume_state=resume_state,
            checkpoint_every=cfg.checkpoint_every,
        )
    except ValueError as error:
        if resume_state is None:
            raise
        raise CLIError(f"cannot resume from {args.resume}: {error}") from None  # one this run cannot continue
    if world is not None:
        trainer.parallel = glassgrad.nn.parallel.DistributedDataParallel(model)
        trainer.metrics_reducer = tdist.reduce_running
        trainer.callbacks.append(tdist.epoch_callback())
    if resume_state is not None:
        if trainer.epoch >= epochs and not trainer.resuming_mid_epoch:
            raise CLIError(
                f"{args.resume} has already trained {trainer.epoch} epochs; pass --epochs N with N > {trainer.epoch}"
            )
        if planned_epochs is not None and planned_epochs != epochs:
            replan(trainer, cfg.schedule, planned_epochs, epochs, quiet)
    if not quiet:
        if world is not None:
            print(
                f"data parallel: {world.size} processes ({world.backend}), batch {cfg.batch_size} per process, "
                f"global batch {cfg.global_batch}",
                flush=True,
            )
        what = "resuming" if resume_state is not None else "training"
        print(
            f"{what} {cfg.model} ({variant(kwargs) + ', ' if variant(kwargs) else ''}{cfg.parameters:,} "
            f"parameters) on {data.name}: {cfg.train_images:,} train / {cfg.test_images:,} test images, "
            f"{epochs} epochs, {cfg.optimizer} lr {cfg.lr:g}, schedule {cfg.schedule}",
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
        plot = out / "doctor_gradient_norms.png"
        print(f"doctor: gradient norms per layer in {plot if plot.exists() else doctor.plot(plot)}; also in the report")
    return 0
