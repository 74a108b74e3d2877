"""A run's report: metrics as CSV and JSON, loss/accuracy curves and a confusion matrix as PNG, and a
self-contained ``report.html`` (images embedded, no CDN) that shows them with the run's summary.

Plots use Matplotlib's object API with the Agg canvas, so no GUI backend is touched.
"""

import base64
import html
import json
import math
from pathlib import Path

import numpy as np

from glassgrad.utils.files import write_csv

EPOCH_FIELDS = [
    "epoch",
    "train_loss",
    "train_top1",
    "train_top5",
    "test_loss",
    "test_top1",
    "test_top5",
    "lr",
    "images_per_s",
    "epoch_time",
    "eval_time",
]
STEP_FIELDS = ["step", "epoch", "images", "loss", "top1", "top5", "lr", "images_per_s", "time"]


def _clean(value):
    """JSON has no NaN or infinity; they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def write_json(path, obj):
    Path(path).write_text(json.dumps(_clean(obj), indent=2) + "\n")


def write_metrics(out_dir, history):
    """``metrics.csv`` (one row per epoch), ``steps.csv`` (one per step), ``metrics.json`` (both)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "metrics.csv", EPOCH_FIELDS, history["epochs"])
    write_csv(out_dir / "steps.csv", STEP_FIELDS, history["steps"])
    write_json(out_dir / "metrics.json", history)


def _figure(width=6.4, height=4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def plot_loss(history, path):
    figure = _figure()
    ax = figure.add_subplot()
    steps = history["steps"]
    if steps:
        ax.plot([s["step"] for s in steps], [s["loss"] for s in steps], color="0.75", lw=0.8, label="train (per step)")
    epochs = history["epochs"]
    if epochs and steps:
        # Epoch points sit at the last step of their epoch so both curves share the x axis.
        ends = {}
        for s in steps:
            ends[s["epoch"]] = s["step"]
        xs = [ends.get(e["epoch"], e["epoch"]) for e in epochs]
        ax.plot(xs, [e["train_loss"] for e in epochs], "o-", label="train (epoch mean)")
        if any(e.get("test_loss") is not None for e in epochs):
            ax.plot(xs, [e.get("test_loss") for e in epochs], "s-", label="test")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("Loss")
    ax.grid(alpha=0.3)
    ax.legend()
    figure.tight_layout()
    figure.savefig(path)


def plot_accuracy(history, path):
    figure = _figure()
    ax = figure.add_subplot()
    epochs = history["epochs"]
    xs = [e["epoch"] for e in epochs]
    ax.plot(xs, [100 * e["train_top1"] for e in epochs], "o-", label="train top-1")
    if any(e.get("test_top1") is not None for e in epochs):
        ax.plot(
            xs, [None if e.get("test_top1") is None else 100 * e["test_top1"] for e in epochs], "s-", label="test top-1"
        )
        ax.plot(
            xs,
            [None if e.get("test_top5") is None else 100 * e["test_top5"] for e in epochs],
            "^--",
            label="test top-5",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy")
    ax.set_ylim(0, 100)
    if xs:
        ax.set_xticks(xs)
    ax.grid(alpha=0.3)
    ax.legend()
    figure.tight_layout()
    figure.savefig(path)


def plot_confusion(matrix, class_names, path):
    matrix = np.asarray(matrix if matrix is not None else np.zeros((1, 1)), dtype=np.int64)
    n = matrix.shape[0]
    names = list(class_names) if class_names and len(class_names) == n else [str(i) for i in range(n)]
    size = min(12.0, 3.0 + 0.5 * n)
    figure = _figure(size + 1.0, size)
    ax = figure.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if n <= 30:
        ax.set_xticks(range(n), names, rotation=45, ha="right")
        ax.set_yticks(range(n), names)
        threshold = matrix.max() / 2 if matrix.size else 0
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    str(matrix[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if matrix[i, j] > threshold else "black",
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (test)")
    figure.tight_layout()
    figure.savefig(path)


def plot_lineage(rows, path, dataset=""):
    """Test accuracy against parameters (log scale), one labelled point per model."""
    figure = _figure()
    ax = figure.add_subplot()
    for row in rows:
        ax.scatter(row["params"], 100 * row["test_top1"], s=40)
        ax.annotate(row["model"], (row["params"], 100 * row["test_top1"]), textcoords="offset points", xytext=(5, 5))
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"The CNN lineage{' on ' + dataset if dataset else ''}")
    ax.grid(alpha=0.3, which="both")
    figure.tight_layout()
    figure.savefig(path)


def _embed(path):
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(Path(path).stem)}" src="data:image/png;base64,{data}">'


def _format(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_html(out_dir, title, config, history, summary_text=None, extra=None):
    """``report.html``: the run's settings, final numbers, per-epoch table and the three plots inline."""
    out_dir = Path(out_dir)
    epochs = history["epochs"]
    last = epochs[-1] if epochs else {}
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}img{max-width:100%;margin:0.5em 0}"
        "pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:12px}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    if last:
        parts.append(
            "<p><b>Final test accuracy:</b> "
            + (
                f"{100 * last['test_top1']:.2f}% (top-5 {100 * last['test_top5']:.2f}%)"
                if last.get("test_top1") is not None
                else "-"
            )
            + f" &middot; <b>train accuracy:</b> {100 * last['train_top1']:.2f}%"
            + f" &middot; <b>epochs:</b> {len(epochs)}"
            + f" &middot; <b>total time:</b> {sum(e['epoch_time'] + e['eval_time'] for e in epochs):.1f} s</p>"
        )
    for key, value in (extra or {}).items():
        parts.append(f"<p><b>{esc(str(key))}:</b> {esc(_format(value))}</p>")
    parts.append("<h2>Settings</h2><table>")
    for key, value in config.items():
        parts.append(f"<tr><td>{esc(str(key))}</td><td>{esc(_format(value))}</td></tr>")
    parts.append("</table><h2>Epochs</h2><table><tr>" + "".join(f"<th>{f}</th>" for f in EPOCH_FIELDS) + "</tr>")
    for e in epochs:
        parts.append("<tr>" + "".join(f"<td>{esc(_format(e.get(f)))}</td>" for f in EPOCH_FIELDS) + "</tr>")
    parts.append("</table><h2>Curves</h2>")
    for name in ("loss.png", "accuracy.png", "confusion_matrix.png"):
        if (out_dir / name).exists():
            parts.append(_embed(out_dir / name))
    if summary_text:
        parts.append(f"<h2>Model</h2><pre>{esc(summary_text)}</pre>")
    parts.append("<p>Files: config.json, metrics.csv, steps.csv, metrics.json, checkpoint.pt.</p></body></html>")
    path = out_dir / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def write_report(trainer, summary_text=None):
    """Everything a finished run leaves in ``trainer.out_dir``; returns the path of report.html."""
    out_dir = trainer.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "config.json", trainer.config)
    write_metrics(out_dir, trainer.history)
    plot_loss(trainer.history, out_dir / "loss.png")
    plot_accuracy(trainer.history, out_dir / "accuracy.png")
    plot_confusion(trainer.last_confusion, trainer.class_names, out_dir / "confusion_matrix.png")
    title = trainer.config.get("title") or "glassgrad training run"
    if summary_text is None:
        summary_text = getattr(trainer, "summary_text", None)
    shown = {k: v for k, v in trainer.config.items() if k != "title"}
    return write_html(out_dir, title, shown, trainer.history, summary_text)
