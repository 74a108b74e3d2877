"""Convolution step by step: a 3x3 kernel over a 5x5 input with stride 1, 2 and zero padding; max pooling.

python examples/convolution.py --out lesson-convolution
"""

import argparse

from glassgrad.lessons import convolution

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default="lesson-convolution", help="folder for the animations")
args = parser.parse_args()

result = convolution.run(out=args.out)
print("\n".join(convolution.describe(result)))
print("\n".join(f"wrote {path}" for path in result.figures))
