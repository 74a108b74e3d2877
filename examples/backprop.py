"""Backpropagation by hand and by autograd: seed 000's (ax + by) * cz and seed 001's 2-2-1 network.

python examples/backprop.py --out lesson-backprop
"""

import argparse

import glassgrad as torch
from glassgrad.lessons import backprop

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default="lesson-backprop", help="folder for the step-by-step page and GIF")
args = parser.parse_args()

# Seed 000, written as one would in PyTorch: L = 15 - (a*x + b*y) * (c*z).
a, b, c = (torch.tensor(v, requires_grad=True) for v in (2.0, 5.0, 1.0))
x, y, z = 1.0, 2.0, 1.0
L = 15 - (a * x + b * y) * (c * z)
L.backward()
print(f"seed 000: dL/da = {a.grad.item():g}, dL/db = {b.grad.item():g}, dL/dc = {c.grad.item():g}")
print()

# Seed 001: the exact chain, the seed's rounded hand calculation, and where they part.
result = backprop.run(out=args.out)
print("\n".join(backprop.describe(result)))
print("\n".join(f"wrote {path}" for path in result.figures))
