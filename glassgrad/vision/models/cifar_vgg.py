"""VGG (Simonyan, Zisserman 2015) with the CIFAR head: one linear layer on 512 features."""

from glassgrad import nn
from glassgrad.vision.models._common import check_size, pair
from glassgrad.vision.models.vgg import CONFIGS


class CifarVGG(nn.Module):
    """VGG's stacks of 3x3 convolutions (padding 1, ReLU, optional BatchNorm after each) and five max
    pools, followed by the CIFAR head: global average pooling and ``Linear(512, num_classes)`` (the
    ImageNet head's 4096-wide layers would hold most of the parameters for a 1x1 map).

    The pools use ``ceil_mode=True`` so that 28x28 inputs end at 1x1 like 32x32 ones
    (28 -> 14 -> 7 -> 4 -> 2 -> 1); for 32x32 that changes nothing.

    Parameters at 3 input channels and 10 classes (independent of the input size): vgg11 9,225,610,
    vgg13 9,410,122, vgg16 14,719,818, vgg19 20,029,514; the ``_bn`` variants add 2 per channel of
    every convolution: 9,231,114 / 9,416,010 / 14,728,266 / 20,040,522. One input channel: 1,152 fewer.

    Input: (N, in_channels, H, W). Output: (N, num_classes) logits.
    """

    def __init__(self, config="vgg11", num_classes=10, in_channels=3, input_size=32, batch_norm=False):
        super().__init__()
        if isinstance(config, str):
            if config not in CONFIGS:
                raise ValueError(f"CifarVGG: unknown config {config!r}; choose one of {sorted(CONFIGS)}")
            config = CONFIGS[config]
        h, w = pair(input_size)
        check_size("CifarVGG", h, w, 1)
        layers = []
        channels = in_channels
        for item in config:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
                continue
            layers.append(nn.Conv2d(channels, item, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(item))
            layers.append(nn.ReLU(inplace=True))
            channels = item
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _factory(name, batch_norm):
    def build(num_classes=10, in_channels=3, input_size=32):
        return CifarVGG(
            name, num_classes=num_classes, in_channels=in_channels, input_size=input_size, batch_norm=batch_norm
        )

    build.__name__ = "cifar_" + name + ("_bn" if batch_norm else "")
    build.__doc__ = f"{name.upper()}{' with batch norm' if batch_norm else ''}, CIFAR head (see ``CifarVGG``)."
    return build


cifar_vgg11, cifar_vgg11_bn = _factory("vgg11", False), _factory("vgg11", True)
cifar_vgg13, cifar_vgg13_bn = _factory("vgg13", False), _factory("vgg13", True)
cifar_vgg16, cifar_vgg16_bn = _factory("vgg16", False), _factory("vgg16", True)
cifar_vgg19, cifar_vgg19_bn = _factory("vgg19", False), _factory("vgg19", True)
