"""torchvision's ImageNet VGGs (Simonyan, Zisserman 2015): the same modules, state-dict keys and init.

For 32x32 images use ``cifar_vgg11``.. (one linear layer on 512 features) in ``cifar_vgg``.
"""

from glassgrad import nn
from glassgrad.vision.models import _weights

# Filters per 3x3 convolution; "M" is a 2x2 max pool. The paper's configurations A, B, D, E.
CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_layers(config, batch_norm=False):
    """``features``: conv 3x3 (padding 1) [+ BatchNorm] + ReLU per number, 2x2 max pool per "M"."""
    layers = []
    channels = 3
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(channels, item, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(item))
        layers.append(nn.ReLU(inplace=True))
        channels = item
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """``features``, adaptive average pool to 7x7, and the 4096-4096 classifier with dropout.
    Convolutions start Kaiming-normal (fan_out) with zero bias, linears N(0, 0.01) with zero bias.

    Input: (N, 3, H, W), 224x224 for ImageNet weights (>= 32). Output: (N, num_classes).
    """

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _builder(config, batch_norm, params):
    name = config + ("_bn" if batch_norm else "")

    def build(*, weights=None, progress=True, pretrained=False, **kwargs):
        weights = _weights.resolve(weights, pretrained, name)
        if weights is not None:
            kwargs["init_weights"] = False
            _weights.check_classes(weights, kwargs)
        model = VGG(make_layers(CONFIGS[config], batch_norm), **kwargs)
        if weights is not None:
            _weights.load_into(model, weights, progress)
        return model

    build.__name__ = build.__qualname__ = name
    build.__doc__ = (
        f"torchvision's {name} ({params} parameters at 1000 classes). ``weights``: None, a ``Weights`` or a "
        "local safetensors/state-dict file; other keyword arguments go to ``VGG``."
    )
    return build


vgg11 = _builder("vgg11", False, "132,863,336")
vgg11_bn = _builder("vgg11", True, "132,868,840")
vgg13 = _builder("vgg13", False, "133,047,848")
vgg13_bn = _builder("vgg13", True, "133,053,736")
vgg16 = _builder("vgg16", False, "138,357,544")
vgg16_bn = _builder("vgg16", True, "138,365,992")
vgg19 = _builder("vgg19", False, "143,667,240")
vgg19_bn = _builder("vgg19", True, "143,678,248")
