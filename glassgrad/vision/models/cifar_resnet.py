"""Residual networks (He, Zhang, Ren, Sun 2016) for small images: the CIFAR family and ResNet-18/34 with a
CIFAR stem (``cifar_resnet18``/``cifar_resnet34``; torchvision's ImageNet layout is in ``resnet``)."""

import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.vision.models._common import check_size, pair


class CifarBasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm, added to a shortcut, then ReLU.

    ``shortcut='A'`` (the CIFAR paper's option A): where the shape changes, the shortcut takes every
    second pixel and pads the new channels with zeros, adding no parameters.
    ``shortcut='B'``: a 1x1 convolution with stride and BatchNorm where the shape changes (the
    ImageNet ResNets).

    Input: (N, in_planes, H, W). Output: (N, planes, H / stride, W / stride).
    """

    expansion = 1

    def __init__(self, in_planes, planes, stride=1, shortcut="B"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride = stride
        self.pad_channels = 0
        self.downsample = None
        if stride != 1 or in_planes != planes:
            if shortcut == "A":
                self.pad_channels = planes - in_planes
            else:
                self.downsample = nn.Sequential(
                    nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
                )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        elif self.stride != 1 or self.pad_channels:
            identity = x[:, :, :: self.stride, :: self.stride]
            half = self.pad_channels // 2
            identity = F.pad(identity, (0, 0, 0, 0, half, self.pad_channels - half))
        else:
            identity = x
        return F.relu(out + identity)


class CifarResNet(nn.Module):
    """A 3x3 convolution stem (no max pool: CIFAR images are small), stages of ``CifarBasicBlock``s whose
    first block halves the resolution (except in the first stage), global average pooling, a
    linear layer.

    ``widths=(16, 32, 64)``, ``shortcut='A'`` and ``blocks=(n, n, n)`` give the CIFAR ResNet-(6n+2) of the
    paper; ``widths=(64, 128, 256, 512)``, ``shortcut='B'`` give ``cifar_resnet18``/``cifar_resnet34``.
    Use the factories. Parameters with 10 classes: ``resnet20`` 269,722 (the paper's "0.27M"),
    ``resnet32`` 464,154, ``resnet44`` 658,586, ``resnet56`` 853,018 with option A shortcuts; with
    ``shortcut='B'`` the two projections add 2,752 (``resnet20`` 272,474). ``cifar_resnet18`` 11,173,962,
    ``cifar_resnet34`` 21,282,122.
    With one input channel, subtract 2 * 9 * widths[0] (288 for the CIFAR family, 1,152 for 18/34).

    Input: (N, in_channels, H, W). Output: (N, num_classes) logits.
    """

    def __init__(self, blocks, widths, num_classes=10, in_channels=3, input_size=32, shortcut="A"):
        super().__init__()
        if shortcut not in ("A", "B"):
            raise ValueError(
                f"CifarResNet: shortcut must be 'A' (zero-padding identity) or 'B' (1x1 projection), got {shortcut!r}"
            )
        h, w = pair(input_size)
        check_size("CifarResNet", h, w, 1)
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        in_planes = widths[0]
        for index, (count, planes) in enumerate(zip(blocks, widths)):
            stride = 1 if index == 0 else 2
            stage = []
            for block in range(count):
                stage.append(CifarBasicBlock(in_planes, planes, stride if block == 0 else 1, shortcut))
                in_planes = planes
            setattr(self, f"layer{index + 1}", nn.Sequential(*stage))
        self.num_stages = len(blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for index in range(self.num_stages):
            x = getattr(self, f"layer{index + 1}")(x)
        x = self.avgpool(x)
        return self.fc(x.flatten(1))


def _cifar(depth):
    def build(num_classes=10, in_channels=3, input_size=32, shortcut="A"):
        n = (depth - 2) // 6
        return CifarResNet((n, n, n), (16, 32, 64), num_classes, in_channels, input_size, shortcut=shortcut)

    build.__name__ = f"resnet{depth}"
    build.__doc__ = (
        f"ResNet-{depth} for CIFAR (He et al. 2016, section 4.2), option A shortcuts by default; see ``CifarResNet``."
    )
    return build


def _imagenet_style(depth, blocks):
    def build(num_classes=10, in_channels=3, input_size=32):
        return CifarResNet(blocks, (64, 128, 256, 512), num_classes, in_channels, input_size, shortcut="B")

    build.__name__ = f"cifar_resnet{depth}"
    build.__doc__ = f"ResNet-{depth} with a 3x3 CIFAR stem and projection (option B) shortcuts; see ``CifarResNet``."
    return build


resnet20, resnet32, resnet44, resnet56 = (_cifar(d) for d in (20, 32, 44, 56))
cifar_resnet18 = _imagenet_style(18, (2, 2, 2, 2))
cifar_resnet34 = _imagenet_style(34, (3, 4, 6, 3))
