"""DenseNet-BC (Huang et al. 2017) for 32x32 images: each layer's features concatenated to all before."""

import glassgrad
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.vision.models._common import check_size, pair


class DenseLayer(nn.Module):
    """BatchNorm, ReLU, 1x1 convolution to ``4 * growth`` channels, BatchNorm, ReLU, 3x3 convolution
    to ``growth``; the result is concatenated after the input's channels.

    Input: (N, C, H, W). Output: (N, C + growth, H, W).
    """

    def __init__(self, in_planes, growth):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, 4 * growth, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(4 * growth)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return glassgrad.cat([x, out], 1)


class Transition(nn.Module):
    """BatchNorm, ReLU, 1x1 convolution to ``out_planes``, 2x2 average pooling.

    Input: (N, in_planes, H, W). Output: (N, out_planes, H / 2, W / 2).
    """

    def __init__(self, in_planes, out_planes):
        super().__init__()
        self.bn = nn.BatchNorm2d(in_planes)
        self.conv = nn.Conv2d(in_planes, out_planes, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)


class CIFARDenseNet(nn.Module):
    """A 3x3 stem of ``2 * growth`` channels, dense blocks of ``blocks`` layers with transitions
    that keep ``reduction`` of the channels and halve the resolution, then BatchNorm, ReLU, global
    average pooling and a linear layer. ``cifar_densenet121``: blocks (6, 12, 24, 16), growth 32,
    6,956,298 parameters at 10 classes.

    Input: (N, in_channels, H, W) with H, W at least 8. Output: (N, num_classes) logits.
    """

    def __init__(self, blocks, growth=32, reduction=0.5, num_classes=10, in_channels=3, input_size=32):
        super().__init__()
        h, w = pair(input_size)
        check_size("CIFARDenseNet", h, w, 2 ** (len(blocks) - 1))
        channels = 2 * growth
        self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)
        for index, count in enumerate(blocks):
            layers = []
            for _ in range(count):
                layers.append(DenseLayer(channels, growth))
                channels += growth
            setattr(self, f"dense{index + 1}", nn.Sequential(*layers))
            if index + 1 < len(blocks):
                out_planes = int(channels * reduction)
                setattr(self, f"trans{index + 1}", Transition(channels, out_planes))
                channels = out_planes
        self.num_blocks = len(blocks)
        self.bn = nn.BatchNorm2d(channels)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.conv1(x)
        for index in range(self.num_blocks):
            x = getattr(self, f"dense{index + 1}")(x)
            if index + 1 < self.num_blocks:
                x = getattr(self, f"trans{index + 1}")(x)
        x = self.avgpool(F.relu(self.bn(x)))
        return self.linear(x.flatten(1))


def cifar_densenet121(num_classes=10, in_channels=3, input_size=32):
    """DenseNet-121 for CIFAR (3x3 stem, no max pool); see ``CIFARDenseNet``."""
    return CIFARDenseNet((6, 12, 24, 16), 32, 0.5, num_classes, in_channels, input_size)
