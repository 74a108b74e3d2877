"""``glassgrad lineage``: train LeNet-5, AlexNet, VGG-11, GoogLeNet and ResNet-20 under one budget and
compare parameters, multiply-accumulates, time per epoch and test accuracy."""

import sys
import time
from datetime import datetime
from pathlib import Path

import glassgrad
from glassgrad.cli import CLIError

LINEAGE = ["lenet5", "alexnet", "vgg11", "googlenet", "resnet20"]
COLUMNS = ["model", "year", "params", "macs", "epoch_time", "images_per_s", "test_top1", "test_top5"]


def register(subparsers):
    from glassgrad.cli.train import add_data_arguments

    p = subparsers.add_parser(
        "lineage",
        help="train the CNN lineage (LeNet5 to ResNet20) under one budget and compare them",
        description="Train LeNet-5, AlexNet, VGG-11, GoogLeNet and ResNet-20 on the same images for the same epochs; "
        "print and save a table of parameters, MACs, time per epoch and test accuracy, and a plot of accuracy "
        "against parameters.",
    )
    add_data_arguments(p, dataset_default="fashion-mnist")
    p.set_defaults(limit=2000)
    p.add_argument(
        "--models", default=",".join(LINEAGE), help=f"comma-separated model names (default: {','.join(LINEAGE)})"
    )
    p.add_argument("--epochs", type=int, default=1, help="epochs per model (default: 1)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    p.add_argument("--optimizer", default="adam", help="optimizer for every model (default: adam)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the optimizer's)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default: runs/lineage-<dataset>-<time>)")
    p.add_argument("--quiet", action="store_true", help="no progress bars; only the final table")
    p.set_defaults(handler=run)


def format_table(rows):
    head = ["model", "year", "params", "MACs/image", "s/epoch", "img/s", "test top-1", "test top-5"]
    body = [
        [
            r["model"],
            str(r["year"]),
            f"{r['params']:,}",
            f"{r['macs'] / 1e6:,.1f} M",
            f"{r['epoch_time']:.1f}",
            f"{r['images_per_s']:.0f}",
            f"{100 * r['test_top1']:.2f}%",
            f"{100 * r['test_top5']:.2f}%",
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for b in body:
        lines.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(b, widths))))
    return "\n".join(lines)


def run(args):
    from glassgrad.cli.train import check_input, check_positive, open_data, seed_everything
    from glassgrad.train import Trainer
    from glassgrad.train.recipes import build_optimizer
    from glassgrad.train.report import plot_lineage, write_json
    from glassgrad.utils.files import write_csv
    from glassgrad.vision.models import MODELS, get_model

    check_positive("--epochs", args.epochs)
    check_positive("--batch-size", args.batch_size)
    check_positive("--lr", args.lr)
    names = [n.strip().lower().replace("-", "_") for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        raise CLIError(f"unknown model(s) {', '.join(unknown) or '(none given)'}; choose from: {', '.join(MODELS)}")
    seed_everything(args.seed)
    data = open_data(args, args.batch_size, args.seed)
    out = Path(
        args.out
        or Path("runs") / f"lineage-{data.name.replace(':', '_').replace('/', '_')}-{datetime.now():%Y%m%d-%H%M%S}"
    )
    out.mkdir(parents=True, exist_ok=True)
    if not args.quiet:
        print(
            f"lineage on {data.name}: {data.info['train_images']:,} train / {data.info['test_images']:,} test images, "
            f"{args.epochs} epoch(s) per model, {args.optimizer}",
            flush=True,
        )
    rows = []
    skipped = []
    for name in names:
        seed_everything(args.seed)
        kwargs = {"num_classes": data.num_classes, "in_channels": data.in_channels, "input_size": list(data.input_size)}
        try:
            model = get_model(name, **kwargs)
        except ValueError as error:
            # e.g. AlexNet on 8x8 digits: the others still make a table.
            print(f"glassgrad lineage: skipping {name}: {error}", file=sys.stderr, flush=True)
            skipped.append(name)
            continue
        check_input(model, data, name)
        try:
            optimizer = build_optimizer(args.optimizer, model.parameters(), args.lr)
        except ValueError as error:
            raise CLIError(str(error)) from None
        info = glassgrad.summary(model, (data.in_channels, *data.input_size))
        config = {
            "title": f"{name} on {data.name} (lineage)",
            "model": name,
            "dataset": args.dataset,
            "data_dir": args.data_dir,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "optimizer": args.optimizer,
            "seed": args.seed,
            "limit": args.limit,
            "input_shape": [data.in_channels, *data.input_size],
            "mean": list(data.mean),
            "std": list(data.std),
            "num_classes": data.num_classes,
            "parameters": info.total_params,
        }
        trainer = Trainer(
            model,
            optimizer,
            glassgrad.nn.CrossEntropyLoss(),
            data.train_loader,
            data.test_loader,
            out_dir=out / name,
            progress=None if not args.quiet else False,
            class_names=data.class_names,
            config=config,
            model_info={"name": name, "kwargs": kwargs},
        )
        trainer.summary_text = str(info)
        started = time.perf_counter()
        try:
            trainer.fit(args.epochs)
        except KeyboardInterrupt:
            print(f"glassgrad lineage: interrupted during {name}; partial table in {out / 'lineage.csv'}")
            break
        epochs = trainer.history["epochs"]
        row = {
            "model": name,
            "year": MODELS[name][1],
            "params": info.total_params,
            "macs": info.total_macs,
            "epoch_time": sum(e["epoch_time"] for e in epochs) / len(epochs),
            "images_per_s": sum(e["images_per_s"] or 0 for e in epochs) / len(epochs),
            "test_top1": epochs[-1]["test_top1"],
            "test_top5": epochs[-1]["test_top5"],
            "total_time": time.perf_counter() - started,
        }
        rows.append(row)
        write_csv(out / "lineage.csv", COLUMNS + ["total_time"], rows)
        if not args.quiet:
            print(
                f"  {name:<10} {row['params']:>12,} params  {row['epoch_time']:7.1f} s/epoch  "
                f"test {100 * row['test_top1']:.2f}%",
                flush=True,
            )
    if not rows:
        return 130
    table = format_table(rows)
    write_json(out / "lineage.json", {"dataset": data.name, "epochs": args.epochs, "limit": args.limit, "rows": rows})
    (out / "lineage.txt").write_text(table + "\n")
    plot_lineage(rows, out / "lineage.png", data.name)
    print(table)
    print(f"table: {out / 'lineage.csv'}; plot: {out / 'lineage.png'}")
    return 0 if len(rows) + len(skipped) == len(names) else 130
