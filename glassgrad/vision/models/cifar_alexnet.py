"""AlexNet (Krizhevsky, Sutskever, Hinton 2012), scaled for 32x32 images (torchvision's ImageNet layout is in ``alexnet``)."""

from glassgrad import nn
from glassgrad.vision.models._common import check_size, conv_out, pair


class CifarAlexNet(nn.Module):
    """AlexNet's five convolutions (64, 192, 384, 256, 256 filters, ReLU, three max pools) and its
    three-layer classifier with dropout (4096, 4096, num_classes), scaled for 32x32 inputs: the
    first convolution is 3x3 with stride 2 instead of 11x11 with stride 4, and the pools are 2x2.
    ``lrn=True`` adds ``LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2)`` after the first two
    ReLUs, as in the paper.

    Parameters with 10 classes: 23,272,266 at 3x32x32 (two thirds of them in the 4096x4096 layer, as
    in the original); 20,125,386 at 1x28x28 (the features end at 1x1 instead of 2x2).

    Input: (N, in_channels, H, W). Output: (N, num_classes) logits.
    """

    def __init__(self, num_classes=10, in_channels=3, input_size=32, dropout=0.5, hidden=4096, lrn=False):
        super().__init__()
        h, w = pair(input_size)
        check_size("CifarAlexNet", h, w, 16)
        norm = (lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)) if lrn else nn.Identity
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            norm(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 192, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            norm(),
            nn.MaxPool2d(2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        fh, fw = (conv_out(s, 3, 2, 1) // 2 // 2 // 2 for s in (h, w))
        self.flat_features = 256 * fh * fw
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(self.flat_features, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = x.flatten(1)
        return self.classifier(x)
