"""MobileNetV2 (Sandler et al. 2018) for 32x32 images: inverted residuals of depthwise 3x3 and
pointwise 1x1 convolutions."""

from glassgrad import nn
from glassgrad.vision.models._common import check_size, pair

# (expansion, output channels, blocks, stride of the first block). The paper's ImageNet table,
# with the stem and the second stage at stride 1: a 32x32 image then ends at 4x4 rather than 1x1.
CIFAR_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class InvertedResidual(nn.Module):
    """1x1 expansion to ``in_planes * expansion`` channels (skipped at expansion 1), a depthwise 3x3
    convolution (``groups`` = channels) with the block's stride, a linear 1x1 projection; each
    convolution with BatchNorm, the first two with ReLU6. Added to the input where the shape stays.

    Input: (N, in_planes, H, W). Output: (N, out_planes, H / stride, W / stride).
    """

    def __init__(self, in_planes, out_planes, stride, expansion):
        super().__init__()
        hidden = in_planes * expansion
        layers = []
        if expansion != 1:
            layers += [nn.Conv2d(in_planes, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, out_planes, 1, bias=False),
            nn.BatchNorm2d(out_planes),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and in_planes == out_planes

    def forward(self, x):
        out = self.conv(x)
        return x + out if self.residual else out


class CIFARMobileNetV2(nn.Module):
    """A 3x3 stem of 32 channels at stride 1, the inverted residual stages of ``CIFAR_STAGES``
    (channels scaled by ``width_mult``), a 1x1 convolution to 1280 channels, global average
    pooling, dropout 0.2 and a linear layer. 2,236,682 parameters at 10 classes.

    Input: (N, in_channels, H, W). Output: (N, num_classes) logits.
    """

    def __init__(self, num_classes=10, in_channels=3, input_size=32, width_mult=1.0):
        super().__init__()
        h, w = pair(input_size)
        check_size("CIFARMobileNetV2", h, w, 1)
        if width_mult <= 0:
            raise ValueError(f"CIFARMobileNetV2: width_mult must be positive, got {width_mult}")
        channels = _scaled(32, width_mult)
        layers = [nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU6(True)]
        for expansion, planes, count, stride in CIFAR_STAGES:
            planes = _scaled(planes, width_mult)
            for block in range(count):
                layers.append(InvertedResidual(channels, planes, stride if block == 0 else 1, expansion))
                channels = planes
        last = _scaled(1280, max(1.0, width_mult))
        layers += [nn.Conv2d(channels, last, 1, bias=False), nn.BatchNorm2d(last), nn.ReLU6(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _scaled(channels, width_mult):
    # Rounded to a multiple of 8, never more than 10% below the scaled width (as the paper's code).
    value = channels * width_mult
    rounded = max(8, int(value + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * value else rounded


def cifar_mobilenet_v2(num_classes=10, in_channels=3, input_size=32, width_mult=1.0):
    """MobileNetV2 for CIFAR (stride-1 stem and second stage); see ``CIFARMobileNetV2``."""
    return CIFARMobileNetV2(num_classes, in_channels, input_size, width_mult)
