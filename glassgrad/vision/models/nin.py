"""Network in Network (Lin, Chen, Yan 2014), the CIFAR-10 model of the paper."""

from glassgrad import nn
from glassgrad.vision.models._common import check_size, pair


def _mlpconv(in_channels, channels, kernel_size, padding):
    # An "mlpconv" layer: a spatial convolution followed by two 1x1 convolutions, a small MLP
    # slid over every pixel.
    c1, c2, c3 = channels
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, kernel_size, padding=padding),
        nn.ReLU(inplace=True),
        nn.Conv2d(c1, c2, 1),
        nn.ReLU(inplace=True),
        nn.Conv2d(c2, c3, 1),
        nn.ReLU(inplace=True),
    )


class NiN(nn.Module):
    """Three mlpconv blocks (5x5 192-160-96, 5x5 192-192-192, 3x3 192-192-num_classes) separated by
    3x3 stride-2 pools and dropout, and global average pooling instead of fully connected layers:
    the last 1x1 convolution produces one map per class.

    Parameters with 10 classes: 966,986 at 3x32x32 (no layer depends on the input size);
    957,386 with 1 input channel.

    Input: (N, in_channels, H, W). Output: (N, num_classes) logits.
    """

    def __init__(self, num_classes=10, in_channels=3, input_size=32, dropout=0.5):
        super().__init__()
        h, w = pair(input_size)
        check_size("NiN", h, w, 4)
        self.features = nn.Sequential(
            _mlpconv(in_channels, (192, 160, 96), 5, 2),
            nn.MaxPool2d(3, stride=2, padding=1),
            nn.Dropout(dropout),
            _mlpconv(96, (192, 192, 192), 5, 2),
            nn.AvgPool2d(3, stride=2, padding=1),
            nn.Dropout(dropout),
        )
        # The last block ends in the class maps; no ReLU after them, so logits can be negative.
        self.classifier = nn.Sequential(
            nn.Conv2d(192, 192, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(192, 192, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(192, num_classes, 1),
            nn.AdaptiveAvgPool2d(1),
        )

    def forward(self, x):
        x = self.classifier(self.features(x))
        return x.flatten(1)
