"""Gradient descent on L(w) = (w - 3)^2 / 2 from w = -5 at four learning rates (seed 000).

python examples/gradient_descent.py --steps 20 --out lesson-gradient-descent
"""

import argparse

from glassgrad.lessons import gradient_descent

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=20, help="descent steps per learning rate")
parser.add_argument("--out", default="lesson-gradient-descent", help="folder for the GIF and PNG")
args = parser.parse_args()

result = gradient_descent.run(out=args.out, steps=args.steps)
print("\n".join(gradient_descent.describe(result)))
print("\n".join(f"wrote {path}" for path in result.figures))
