"""XOR: a line cannot split it, stacked linear layers collapse to one line, an MLP with a nonlinearity can (seed 000)."""

from dataclasses import dataclass, field

import numpy as np

import glassgrad
from glassgrad import nn
from glassgrad.lessons import output_folder
from glassgrad.viz import plots

OPTIONS = ("epochs",)

# The four corners of the XOR truth table: class 1 where exactly one coordinate is 1.
POINTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
LABELS = np.array([0, 1, 1, 0], dtype=np.int64)


@dataclass
class XorResult:
    accuracy: dict  # model name -> accuracy on the four points (0..1)
    collapse_error: float  # max |stacked(x) - (W x + b)| over a grid, W = W2 W1, b = W2 b1 + b2
    collapsed: tuple  # (W, b) of the single equivalent layer
    figures: list = field(default_factory=list)


def models(hidden=8):
    return {
        "linear": nn.Linear(2, 2),
        "stacked linear (no activation)": nn.Sequential(
            nn.Linear(2, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, 2)
        ),
        "MLP with tanh": nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2)),
    }


def train(model, epochs, lr=0.05):
    """Full-batch Adam on cross-entropy: the same recipe for every model, so only the architecture differs."""
    optimizer = glassgrad.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    x, y = glassgrad.from_numpy(POINTS), glassgrad.from_numpy(LABELS)
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    return loss.item()


def predict(model, points):
    with glassgrad.no_grad():
        return model(glassgrad.from_numpy(np.asarray(points, dtype=np.float32))).argmax(1).numpy()


def collapse(stack):
    """The single affine map (W, b) equal to a stack of linear layers: W = Wn...W1, b folded through."""
    W, b = np.eye(2, dtype=np.float64), np.zeros(2)
    for layer in stack:
        Wi, bi = layer.weight.detach().numpy().astype(np.float64), layer.bias.detach().numpy().astype(np.float64)
        W, b = Wi @ W, Wi @ b + bi
    return W, b


def run(out="lesson-xor", seed=0, epochs=300):
    folder = output_folder(out)
    glassgrad.manual_seed(seed)
    nets = models()
    accuracy = {}
    for name, model in nets.items():
        train(model, epochs)
        accuracy[name] = float((predict(model, POINTS) == LABELS).mean())
    stack = nets["stacked linear (no activation)"]
    W, b = collapse(stack)
    grid = np.stack(np.meshgrid(np.linspace(-0.5, 1.5, 41), np.linspace(-0.5, 1.5, 41)), -1).reshape(-1, 2)
    with glassgrad.no_grad():
        stacked = stack(glassgrad.from_numpy(grid.astype(np.float32))).numpy().astype(np.float64)
    error = float(np.abs(stacked - (grid @ W.T + b)).max())
    result = XorResult(accuracy, error, (W, b))
    result.figures.append(_plot(nets, accuracy, f"{folder}/xor_decision_boundaries.png"))
    return result


def _plot(nets, accuracy, path):
    fig = plots.figure(12, 4)
    xs = np.linspace(-0.5, 1.5, 161)
    gx, gy = np.meshgrid(xs, xs)
    grid = np.stack([gx.ravel(), gy.ravel()], 1)
    for i, (name, model) in enumerate(nets.items()):
        ax = fig.add_subplot(1, 3, i + 1)
        ax.contourf(
            gx, gy, predict(model, grid).reshape(gx.shape), levels=[-0.5, 0.5, 1.5], colors=["#c6dbef", "#fdd0a2"]
        )
        for label, marker, color in ((0, "o", "tab:blue"), (1, "s", "tab:orange")):
            pts = POINTS[LABELS == label]
            ax.scatter(pts[:, 0], pts[:, 1], marker=marker, s=120, color=color, edgecolor="k", label=f"class {label}")
        ax.set_title(f"{name}\naccuracy {accuracy[name]:.0%}", fontsize=10)
        ax.set_aspect("equal")
    fig.axes[0].legend(loc="lower left", fontsize=8)
    return plots.save(fig, path)


def describe(result):
    lines = [
        "XOR truth table: (0,0)->0, (0,1)->1, (1,0)->1, (1,1)->0; each model trained the same way (Adam, cross-entropy)"
    ]
    for name, acc in result.accuracy.items():
        lines.append(f"  {name:32s} accuracy {acc:.0%}")
    W, b = result.collapsed
    lines.append("Three stacked linear layers are one linear layer: W = W3 W2 W1, b = W3 (W2 b1 + b2) + b3 =")
    lines.append(
        f"  W = {np.array2string(W, precision=4, separator=', ').replace(chr(10), '')}, b = {np.array2string(b, precision=4, separator=', ')}"
    )
    lines.append(f"  max |stack(x) - (W x + b)| over a grid: {result.collapse_error:.1e} (float32 rounding)")
    lines.append("A line splits the plane in two halves: at most 3 of the 4 XOR points (75%) can be right.")
    return lines
