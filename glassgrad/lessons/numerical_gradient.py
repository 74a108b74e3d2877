"""Numerical against analytic gradient, and the error as a function of h (truncation against rounding)."""

from dataclasses import dataclass, field

import numpy as np

import glassgrad
from glassgrad.lessons import output_folder
from glassgrad.viz import plots

OPTIONS = ()

POINT = 1.0
STEPS_H = np.logspace(-16, 0, 65)


def f(x):
    """A smooth function whose derivatives of every order are non-zero at x = 1."""
    return glassgrad.sin(x) * glassgrad.exp(x) if isinstance(x, glassgrad.Tensor) else np.sin(x) * np.exp(x)


@dataclass
class NumericalResult:
    seed_model: dict  # parameter -> (numerical, analytic) for seed 000's model
    analytic: float
    errors: dict  # "forward float64" etc. -> array of |numerical - analytic| per h
    best_h: dict
    figures: list = field(default_factory=list)


def analytic_derivative(x):
    t = glassgrad.tensor(x, dtype=glassgrad.float64, requires_grad=True)
    f(t).backward()
    return t.grad.item()


def difference_errors(x, analytic, dtype, central):
    xs, hs = np.asarray(x, dtype), STEPS_H.astype(dtype)
    if central:
        estimate = (f(xs + hs) - f(xs - hs)) / (2 * hs)
    else:
        estimate = (f(xs + hs) - f(xs)) / hs
    # h below the spacing of floats around x leaves x + h == x: the estimate is 0 or garbage.
    return np.abs(estimate.astype(np.float64) - analytic)


def seed_model_gradients(h=1e-5):
    """Seed 000's f = (ax + by) * cz with L = 15 - f: numerical (central) and analytic gradients."""
    values = {"a": 2.0, "b": 5.0, "c": 1.0}

    def loss(p):
        return 15 - (p["a"] * 1 + p["b"] * 2) * (p["c"] * 1)

    params = {k: glassgrad.tensor(v, dtype=glassgrad.float64, requires_grad=True) for k, v in values.items()}
    loss(params).backward()
    result = {}
    for name in values:
        up, down = dict(values), dict(values)
        up[name] += h
        down[name] -= h
        result[name] = ((loss(up) - loss(down)) / (2 * h), params[name].grad.item())
    return result


def run(out="lesson-numerical-gradient", seed=0):
    folder = output_folder(out)
    analytic = analytic_derivative(POINT)
    errors = {
        "forward difference, float64": difference_errors(POINT, analytic, np.float64, central=False),
        "central difference, float64": difference_errors(POINT, analytic, np.float64, central=True),
        "forward difference, float32": difference_errors(POINT, analytic, np.float32, central=False),
    }
    best_h = {name: float(STEPS_H[np.nanargmin(np.where(e > 0, e, np.nan))]) for name, e in errors.items()}
    result = NumericalResult(seed_model_gradients(), analytic, errors, best_h)
    fig = plots.figure(7, 4.6)
    ax = fig.add_subplot()
    for name, e in errors.items():
        ax.loglog(STEPS_H, np.where(e > 0, e, np.nan), marker=".", label=f"{name} (best h {best_h[name]:.0e})")
    ax.loglog(STEPS_H, STEPS_H * 1.0, "k:", lw=1, label="slope 1: truncation ~ h")
    ax.loglog(STEPS_H, 1e-16 / STEPS_H, "k--", lw=1, label="slope -1: rounding ~ eps / h")
    ax.set_ylim(1e-12, 1e2)
    ax.set_xlabel("h")
    ax.set_ylabel("|numerical - analytic|")
    ax.set_title("d/dx sin(x) e^x at x = 1")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    result.figures.append(plots.save(fig, f"{folder}/numerical_gradient.png"))
    return result


def describe(result):
    lines = ["Seed 000's model, L = 15 - (a*x + b*y)*(c*z) at a=2 b=5 c=1 x=1 y=2 z=1:"]
    for name, (numerical, analytic) in result.seed_model.items():
        lines.append(
            f"  dL/d{name}: numerical {numerical:.10f}  analytic {analytic:g}  difference {abs(numerical - analytic):.1e}"
        )
    lines.append(f"f(x) = sin(x) e^x at x = 1: analytic f'(1) = {result.analytic:.12f}")
    for name, errors in result.errors.items():
        best = result.best_h[name]
        index = int(np.argmin(np.abs(STEPS_H - best)))
        big = errors[np.argmin(np.abs(STEPS_H - 1e-1))]
        lines.append(f"  {name}: error {big:.1e} at h=0.1, best {errors[index]:.1e} at h={best:.0e}")
    lines.append("Large h: truncation error (the secant is not the tangent). Small h: rounding error, f(x+h) - f(x)")
    lines.append(
        "loses digits as h shrinks. The best h sits between; central differences cancel the first truncation term."
    )
    return lines
