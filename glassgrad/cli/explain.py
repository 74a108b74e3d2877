"""`glassgrad explain EXPR --set a=2 ... [--target T]`: the seed's backprop walk-through for any expression."""

import os

from glassgrad.cli import CLIError


def register(subparsers):
    parser = subparsers.add_parser(
        "explain",
        help="show the forward values, local derivatives and chain rule of an expression, as text and animation",
        description=(
            "Build the computational graph of an arithmetic expression of named scalars, print each "
            "forward value, each local derivative and each chain-rule product, and write a "
            "step-by-step page (HTML, works offline) and an animated GIF. "
            'Example: glassgrad explain "(a*x + b*y) * (c*z)" --set a=2 b=5 c=1 x=1 y=2 z=1 --target 15'
        ),
    )
    parser.add_argument("expression", help='arithmetic of names and numbers, e.g. "(a*x + b*y) * (c*z)"')
    parser.add_argument(
        "--set", nargs="+", default=[], metavar="NAME=VALUE", help="the value of every name in the expression"
    )
    parser.add_argument(
        "--target", type=float, default=None, help="ground truth: differentiate L = target - output (as the seed does)"
    )
    parser.add_argument("--out", default="explain", help="folder for explain.html, explain.gif and graph.dot")
    parser.add_argument("--no-gif", action="store_true", help="skip the GIF (the page is always written)")
    parser.set_defaults(handler=run)


def _parse_values(pairs):
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise CLIError(f"--set expects NAME=VALUE, got {pair!r}; e.g. --set a=2 b=5")
        try:
            values[name.strip()] = float(text)
        except ValueError:
            raise CLIError(f"--set {pair!r}: {text!r} is not a number") from None
    return values


def run(args):
    from glassgrad.viz import expression as expr

    values = _parse_values(args.set)
    try:
        result = expr.evaluate(args.expression, values, target=args.target)
    except ValueError as error:
        raise CLIError(str(error)) from None
    for line in expr.explanation(result):
        print(line)
    os.makedirs(args.out, exist_ok=True)
    html_path = os.path.join(args.out, "explain.html")
    gif_path = None if args.no_gif else os.path.join(args.out, "explain.gif")
    dot_path = os.path.join(args.out, "graph.dot")
    with open(dot_path, "w", encoding="utf-8") as f:
        f.write(result.graph.to_dot())
    written = expr.write_animation(result, html_path, gif_path)
    print()
    for path in [*written, dot_path]:
        print(f"wrote {path}")
    print(f"open {html_path} in a browser and step with ← →, or add #step=last to its address")
    return 0
