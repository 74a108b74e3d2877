"""Numerical against analytic gradients, and the error of finite differences as h shrinks.

python examples/numerical_gradient.py --out lesson-numerical-gradient
"""

import argparse

from glassgrad.lessons import numerical_gradient

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default="lesson-numerical-gradient", help="folder for the log-log plot")
args = parser.parse_args()

result = numerical_gradient.run(out=args.out)
print("\n".join(numerical_gradient.describe(result)))
print("\n".join(f"wrote {path}" for path in result.figures))
