"""XOR: a linear model and stacked linear layers fail, a 2-layer MLP with tanh succeeds.

python examples/xor.py --epochs 300 --out lesson-xor
"""

import argparse

from glassgrad.lessons import xor

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=300, help="full-batch Adam steps per model")
parser.add_argument("--out", default="lesson-xor", help="folder for the decision-boundary plot")
args = parser.parse_args()

result = xor.run(out=args.out, epochs=args.epochs)
print("\n".join(xor.describe(result)))
print("\n".join(f"wrote {path}" for path in result.figures))
