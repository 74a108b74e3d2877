"""The seed's SimpleCNN with sigmoids stays near 10% on CIFAR-10; ReLU + He init + batch norm +
momentum learns. The training doctor watches both and says why.

    GLASSGRAD_DATA=/path/to/datasets python examples/sigmoid_cnn.py --limit 5000 --epochs 3
    python examples/sigmoid_cnn.py --dataset digits --limit 600 --epochs 2   # no download needed
"""

import argparse

from glassgrad.lessons import sigmoid_cnn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--dataset", default="cifar10", choices=["cifar10", "digits"])
parser.add_argument("--data", default=None, help="folder holding cifar10-jpeg.tar.gz (default: $GLASSGRAD_DATA)")
parser.add_argument("--limit", type=int, default=5000, help="training images (a random subset); 0 for all")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--out", default="lesson-sigmoid-cnn", help="folder for the accuracy and gradient plots")
args = parser.parse_args()

result = sigmoid_cnn.run(
    out=args.out, epochs=args.epochs, limit=args.limit or None, data=args.data, dataset=args.dataset, progress=print
)
print("\n".join(sigmoid_cnn.describe(result)))
print("\n".join(f"wrote {path}" for path in result.figures))
