"""torchvision's SqueezeNets (Iandola et al. 2016): fire modules, no fully connected layer."""

import glassgrad as torch
from glassgrad import nn
from glassgrad.vision.models import _weights


class Fire(nn.Module):
    """1x1 squeeze (ReLU), then 1x1 and 3x3 expansions (ReLU) concatenated.

    Input: (N, inplanes, H, W). Output: (N, expand1x1_planes + expand3x3_planes, H, W).
    """

    def __init__(self, inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes):
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x))], 1
        )


class SqueezeNet(nn.Module):
    """``version='1_0'`` (7x7 stem, 96 filters) or ``'1_1'`` (3x3 stem, 64 filters, pools earlier:
    the same accuracy for 2.4x less computation), eight fire modules, and a classifier of dropout, 1x1
    conv to ``num_classes``, ReLU and global average pool. Convolutions start Kaiming-uniform with zero
    bias, the final one N(0, 0.01).

    Input: (N, 3, H, W), 224x224 for ImageNet weights. Output: (N, num_classes).
    """

    def __init__(self, version="1_0", num_classes=1000, dropout=0.5):
        super().__init__()
        self.num_classes = num_classes
        pool = lambda: nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)  # noqa: E731
        if version == "1_0":
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, kernel_size=7, stride=2),
                nn.ReLU(inplace=True),
                pool(),
                Fire(96, 16, 64, 64),
                Fire(128, 16, 64, 64),
                Fire(128, 32, 128, 128),
                pool(),
                Fire(256, 32, 128, 128),
                Fire(256, 48, 192, 192),
                Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256),
                pool(),
                Fire(512, 64, 256, 256),
            )
        elif version == "1_1":
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, kernel_size=3, stride=2),
                nn.ReLU(inplace=True),
                pool(),
                Fire(64, 16, 64, 64),
                Fire(128, 16, 64, 64),
                pool(),
                Fire(128, 32, 128, 128),
                Fire(256, 32, 128, 128),
                pool(),
                Fire(256, 48, 192, 192),
                Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256),
                Fire(512, 64, 256, 256),
            )
        else:
            raise ValueError(f"Unsupported SqueezeNet version {version}: 1_0 or 1_1 expected")
        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1))
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        return self.classifier(self.features(x)).flatten(1)


def _squeezenet(version, weights, pretrained, progress, kwargs):
    weights = _weights.resolve(weights, pretrained, f"squeezenet{version}")
    if weights is not None:
        _weights.check_classes(weights, kwargs)
    model = SqueezeNet(version, **kwargs)
    if weights is not None:
        _weights.load_into(model, weights, progress)
    return model


def squeezenet1_0(*, weights=None, progress=True, pretrained=False, **kwargs):
    """torchvision's SqueezeNet 1.0 (1,248,424 parameters at 1000 classes); see ``SqueezeNet``."""
    return _squeezenet("1_0", weights, pretrained, progress, kwargs)


def squeezenet1_1(*, weights=None, progress=True, pretrained=False, **kwargs):
    """torchvision's SqueezeNet 1.1 (1,235,496 parameters at 1000 classes). ``weights``: None, a ``Weights``
    or a local safetensors/state-dict file; other keyword arguments go to ``SqueezeNet``."""
    return _squeezenet("1_1", weights, pretrained, progress, kwargs)
