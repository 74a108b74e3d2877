"""Backpropagation through seed 001's 2-2-1 sigmoid network: the exact chain and the seed's hand calculation."""

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import glassgrad
from glassgrad.lessons import output_folder

OPTIONS = ()

# The seed's network: z1 = w1*x1 + w3*x2, z2 = w2*x1 + w4*x2, a = sigmoid(z), y_hat = w5*a1 + w6*a2.
X1, X2, Y, LR = 0.5, 0.3, 0.7, 0.1
WEIGHTS = {"w1": 0.3, "w2": 0.2, "w3": 0.2, "w4": 0.3, "w5": 0.4, "w6": 0.5}
EXPRESSION = "(y - (w5*sigmoid(w1*x1 + w3*x2) + w6*sigmoid(w2*x1 + w4*x2)))**2"

# What the seed prints, with the number of significant digits it prints them to.
SEED_PRINTED = {
    "a1": "0.552",
    "a2": "0.547",
    "y_hat": "0.4943",
    "L": "0.04231",
    "dL/dw1": "-0.0204",
    "dL/dw2": "-0.0255",
    "dL/dw3": "-0.0122",
    "dL/dw4": "-0.0153",
    "dL/dw5": "-0.227",
    "dL/dw6": "-0.225",
    "w1'": "0.302",
    "w2'": "0.203",
    "w3'": "0.201",
    "w4'": "0.302",
    "w5'": "0.423",
    "w6'": "0.523",
    "y_hat'": "0.5199",
}


def _new(name):
    """The key of a value after the SGD step: w1 -> w1'."""
    return name + "'"


@dataclass
class BackpropResult:
    exact: dict
    rounded: dict
    hand_steps: list
    parting: list
    figures: list = field(default_factory=list)


def significant(x, digits):
    """Round half up to ``digits`` significant digits, in decimal (as by hand)."""
    x = Decimal(str(x))
    if x == 0:
        return x
    exponent = x.adjusted() - digits + 1
    return x.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)


def exact_chain():
    """Forward, backward and one SGD step in float64 with glassgrad: every value unrounded."""
    f64 = glassgrad.float64
    w = {k: glassgrad.tensor(v, dtype=f64, requires_grad=True) for k, v in WEIGHTS.items()}
    x1, x2, y = (glassgrad.tensor(v, dtype=f64) for v in (X1, X2, Y))
    z1 = w["w1"] * x1 + w["w3"] * x2
    z2 = w["w2"] * x1 + w["w4"] * x2
    a1, a2 = glassgrad.sigmoid(z1), glassgrad.sigmoid(z2)
    y_hat = w["w5"] * a1 + w["w6"] * a2
    loss = (y - y_hat) ** 2
    loss.backward()
    values = {"z1": z1, "z2": z2, "a1": a1, "a2": a2, "y_hat": y_hat, "L": loss}
    exact = {k: t.item() for k, t in values.items()}
    exact.update({f"dL/d{k}": t.grad.item() for k, t in w.items()})
    with glassgrad.no_grad():
        for k, t in w.items():
            t.sub_(LR * t.grad)
            exact[f"{k}'"] = t.item()
        a1, a2 = glassgrad.sigmoid(w["w1"] * x1 + w["w3"] * x2), glassgrad.sigmoid(w["w2"] * x1 + w["w4"] * x2)
        y_hat = w["w5"] * a1 + w["w6"] * a2
    exact["y_hat'"] = y_hat.item()
    exact["L'"] = (Y - y_hat.item()) ** 2
    return exact


def hand_calculation():
    """The seed's calculation as done on paper: activations to three digits, each product to three.

    Returns (values, steps): the rounded numbers (Decimal) and one line per step.
    """
    d = {k: Decimal(str(v)) for k, v in WEIGHTS.items()}
    x1, x2, y, lr = (Decimal(str(v)) for v in (X1, X2, Y, LR))
    sig = lambda z: 1 / (1 + math.exp(-float(z)))  # noqa: E731
    v, steps = {}, []
    z1, z2 = d["w1"] * x1 + d["w3"] * x2, d["w2"] * x1 + d["w4"] * x2
    v["a1"], v["a2"] = significant(sig(z1), 3), significant(sig(z2), 3)
    steps.append(
        f"a1 = sigmoid({z1}) = {sig(z1):.6f}, written {v['a1']}; a2 = sigmoid({z2}) = {sig(z2):.6f}, written {v['a2']}"
    )
    v["y_hat"] = d["w5"] * v["a1"] + d["w6"] * v["a2"]
    steps.append(f"y_hat = {d['w5']} * {v['a1']} + {d['w6']} * {v['a2']} = {v['y_hat']}")
    error = y - v["y_hat"]
    v["L"] = significant(error**2, 4)
    steps.append(f"L = ({y} - {v['y_hat']})^2 = {error}^2 = {error**2} ~ {v['L']}")
    delta = -2 * error
    steps.append(f"dL/dy_hat = -2 * ({y} - {v['y_hat']}) = {delta}")
    for w_name, a_name in (("w5", "a1"), ("w6", "a2")):
        v[f"dL/d{w_name}"] = significant(delta * v[a_name], 3)
        steps.append(
            f"dL/d{w_name} = {delta} * {a_name} = {delta} * {v[a_name]} = {delta * v[a_name]} ~ {v[f'dL/d{w_name}']}"
        )
    for hidden, w_out, w_in in (("1", "w5", ("w1", "w3")), ("2", "w6", ("w2", "w4"))):
        a = v[f"a{hidden}"]
        back = significant(delta * d[w_out], 3)
        slope = significant(a * (1 - a), 3)
        steps.append(
            f"dL/da{hidden} = {delta} * {w_out} = {delta * d[w_out]} ~ {back}; "
            f"da{hidden}/dz{hidden} = a{hidden}(1 - a{hidden}) = {a * (1 - a)} ~ {slope}"
        )
        for w_name, x, x_name in ((w_in[0], x1, "x1"), (w_in[1], x2, "x2")):
            v[f"dL/d{w_name}"] = significant(back * slope * x, 3)
            steps.append(f"dL/d{w_name} = {back} * {slope} * {x_name}({x}) = {back * slope * x} ~ {v[f'dL/d{w_name}']}")
    new = {k: d[k] - lr * v[f"dL/d{k}"] for k in WEIGHTS}
    for k in WEIGHTS:
        v[_new(k)] = significant(new[k], 3)
    steps.append("w' = w - 0.1 * dL/dw: " + ", ".join(f"{k}' = {new[k]} ~ {v[_new(k)]}" for k in WEIGHTS))
    z1, z2 = new["w1"] * x1 + new["w3"] * x2, new["w2"] * x1 + new["w4"] * x2
    b1, b2 = significant(sig(z1), 4), significant(sig(z2), 4)
    after = new["w5"] * b1 + new["w6"] * b2
    v[_new("y_hat")] = significant(after, 4)
    steps.append(
        f"new y_hat = {new['w5']} * sigmoid({z1})[{b1}] + {new['w6']} * sigmoid({z2})[{b2}] = {after} ~ {v[_new('y_hat')]}"
    )
    return v, steps


def parting(exact, rounded):
    """Where the exact chain, rounded to the seed's printed digits, differs from what the seed prints."""
    lines = []
    for key, printed in SEED_PRINTED.items():
        digits = len(Decimal(printed).as_tuple().digits)
        mine = significant(exact[key], digits)
        if mine != Decimal(printed):
            lines.append(
                f"{key}: exact {exact[key]:.6g} reads {mine} at the seed's precision; the seed prints {printed}"
            )
    first = (
        f"They part at the first rounding: a1 = {exact['a1']:.6f} and a2 = {exact['a2']:.6f} are carried on as "
        f"{rounded['a1']} and {rounded['a2']}, so y_hat = {rounded['y_hat']} instead of {exact['y_hat']:.6f}; "
        "every later number inherits that error, and the products rounded to three digits add their own."
    )
    return [first, *lines]


def run(out="lesson-backprop", seed=0):
    from glassgrad.viz import expression

    folder = output_folder(out)
    exact = exact_chain()
    rounded, steps = hand_calculation()
    result = BackpropResult(exact, {k: float(x) for k, x in rounded.items()}, steps, parting(exact, rounded))
    values = {**WEIGHTS, "x1": X1, "x2": X2, "y": Y}
    graph = expression.evaluate(EXPRESSION, values)
    result.figures = expression.write_animation(graph, f"{folder}/backprop.html", f"{folder}/backprop.gif")
    return result


def describe(result):
    e = result.exact
    lines = ["Seed 001: x = (0.5, 0.3), y = 0.7, w1..w6 = 0.3, 0.2, 0.2, 0.3, 0.4, 0.5, L = (y - y_hat)^2", ""]
    lines.append("Exact chain (float64, glassgrad autograd):")
    lines.append(f"  z1 = {e['z1']:.6g}, z2 = {e['z2']:.6g}, a1 = {e['a1']:.6f}, a2 = {e['a2']:.6f}")
    lines.append(f"  y_hat = {e['y_hat']:.6f}, L = {e['L']:.7f}")
    lines.append("  " + ", ".join(f"dL/dw{i} = {e[f'dL/dw{i}']:.6f}" for i in range(1, 7)))
    lines.append("  after one SGD step (lr 0.1): " + ", ".join(f"w{i}' = {e[_new(f'w{i}')]:.6f}" for i in range(1, 7)))
    lines.append(f"  new prediction y_hat = {e[_new('y_hat')]:.6f} (L = {e[_new('L')]:.6f})")
    lines.append("")
    lines.append("The seed's hand calculation (activations and products rounded to three digits):")
    lines += [f"  {step}" for step in result.hand_steps]
    lines.append("")
    same = all(Decimal(str(result.rounded[k])) == Decimal(p) for k, p in SEED_PRINTED.items())
    lines.append(f"  reproduces every number the seed prints: {'yes' if same else 'no'}")
    lines.append("")
    lines.append("Where they part:")
    lines += [f"  {line}" for line in result.parting]
    return lines
