"""Gradient descent on L(w) = (w - 3)^2 / 2 from w = -5 at several learning rates (seed 000)."""

from dataclasses import dataclass, field

import numpy as np

import glassgrad
from glassgrad.lessons import output_folder
from glassgrad.viz import plots

OPTIONS = ("steps",)

START, MINIMUM = -5.0, 3.0
# The seed's four balls: too large (red), too small (blue), two good ones (orange, green).
LEARNING_RATES = (2.1, 0.02, 0.3, 1.5)
COLORS = {2.1: "tab:red", 0.02: "tab:blue", 0.3: "tab:orange", 1.5: "tab:green"}


def loss(w):
    return (w - MINIMUM) ** 2 / 2


@dataclass
class DescentResult:
    iterates: dict  # learning rate -> [w0, w1, ...]
    verdicts: dict  # learning rate -> "diverges" | "too slow" | "converges" | "oscillates"
    figures: list = field(default_factory=list)


def descend(lr, steps, start=START):
    """Run ``steps`` updates w <- w - lr * dL/dw, the gradient from glassgrad's backward."""
    w = glassgrad.tensor(start, dtype=glassgrad.float64, requires_grad=True)
    path = [start]
    for _ in range(steps):
        w.grad = None
        loss(w).backward()
        with glassgrad.no_grad():
            w.sub_(lr * w.grad)
        path.append(w.item())
    return path


def verdict(path, tolerance=1e-2):
    """Judge a run by its last distance to the minimum, relative to where it started."""
    start, end = abs(path[0] - MINIMUM), abs(path[-1] - MINIMUM)
    if not np.isfinite(end) or end > start:
        return "diverges"
    if end > tolerance * start:
        return "oscillates" if abs(end - start) < 1e-12 else "too slow"
    return "converges"


def run(out="lesson-gradient-descent", seed=0, steps=20, learning_rates=LEARNING_RATES):
    folder = output_folder(out)
    iterates = {lr: descend(lr, steps) for lr in learning_rates}
    result = DescentResult(iterates, {lr: verdict(path) for lr, path in iterates.items()})
    grid = np.linspace(-9, 15, 300)
    frames = _animation(grid, iterates, steps)
    result.figures.append(plots.save_gif(frames, f"{folder}/gradient_descent.gif", duration_ms=350))
    fig = plots.figure(11, 4.2)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    _draw_curve(left, grid, iterates, steps)
    for lr, path in iterates.items():
        distance = np.abs(np.array(path) - MINIMUM)
        right.semilogy(distance, marker=".", color=COLORS.get(lr), label=f"lr {lr}: {result.verdicts[lr]}")
    right.set_xlabel("step")
    right.set_ylabel("|w - 3|")
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    result.figures.append(plots.save(fig, f"{folder}/gradient_descent.png"))
    return result


def _animation(grid, iterates, steps):
    """One figure whose balls and trails move: redrawing artists is much cheaper than new figures."""
    fig = plots.figure(6.4, 4.2, dpi=80)
    ax = fig.add_subplot()
    _draw_curve(ax, grid, iterates, 0)
    trails = [ax.lines[1 + 2 * i] for i in range(len(iterates))]
    balls = [ax.lines[2 + 2 * i] for i in range(len(iterates))]
    frames = []
    for step in range(steps + 1):
        for path, trail, ball in zip(iterates.values(), trails, balls):
            w = np.clip(np.array(path[: step + 1]), grid[0], grid[-1])
            trail.set_data(w, loss(w))
            ball.set_data(w[-1:], loss(w[-1:]))
        ax.set_title(f"step {step}: w <- w - lr * (w - 3)")
        frames.append(plots.to_image(fig))
    return frames


def _draw_curve(ax, grid, iterates, step):
    ax.plot(grid, loss(grid), color="0.3", lw=1.5)
    for lr, path in iterates.items():
        w = np.clip(np.array(path[: step + 1]), grid[0], grid[-1])
        ax.plot(w, loss(w), color=COLORS.get(lr), alpha=0.35, lw=1)
        ax.plot(w[-1], loss(w[-1]), "o", color=COLORS.get(lr), ms=9, label=f"lr {lr}")
    ax.set_ylim(-2, loss(grid).max() * 1.05)
    ax.set_xlabel("w")
    ax.set_ylabel("L(w) = (w - 3)^2 / 2")
    ax.legend(fontsize=8, loc="upper center")


def describe(result):
    lines = ["L(w) = (w - 3)^2 / 2, dL/dw = w - 3, from w = -5; each step multiplies w - 3 by (1 - lr):"]
    for lr, path in result.iterates.items():
        shown = ", ".join(f"{w:.4g}" for w in path[:8])
        lines.append(f"  lr {lr:<5} factor {1 - lr:+.2f}  {result.verdicts[lr]:<10} w: {shown}, ... {path[-1]:.6g}")
    diverging = [lr for lr, v in result.verdicts.items() if v == "diverges"]
    lines.append(f"Diverging learning rates: {diverging} (any lr > 2 makes |1 - lr| > 1: each step overshoots further)")
    return lines
