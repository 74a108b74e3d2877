"""torchvision's ImageNet GoogLeNet (Szegedy et al. 2015, Inception v1, with batch norm as torchvision).

For 32x32 images use ``cifar_googlenet`` in ``cifar_googlenet``.
"""

from collections import namedtuple

import glassgrad as torch
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.vision.models import _weights

# What a training-mode forward with auxiliary classifiers returns, as torchvision.
GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])


class BasicConv2d(nn.Module):
    """Convolution without bias, BatchNorm (eps 0.001), ReLU; keys ``conv.*`` and ``bn.*``."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    """Four branches concatenated along channels: 1x1; 1x1 -> 3x3; 1x1 -> 3x3 (torchvision's 3x3
    where the paper has 5x5); 3x3 max pool -> 1x1.

    Input: (N, in_channels, H, W). Output: (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W).
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, conv_block=None):
        super().__init__()
        conv_block = conv_block or BasicConv2d
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            conv_block(in_channels, ch3x3red, kernel_size=1), conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1)
        )
        self.branch3 = nn.Sequential(
            conv_block(in_channels, ch5x5red, kernel_size=1), conv_block(ch5x5red, ch5x5, kernel_size=3, padding=1)
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            conv_block(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """The auxiliary classifier: adaptive average pool to 4x4, 1x1 conv (128), fc 2048 -> 1024, ReLU,
    dropout, fc -> num_classes. Input: (N, in_channels, H, W). Output: (N, num_classes)."""

    def __init__(self, in_channels, num_classes, conv_block=None, dropout=0.7):
        super().__init__()
        conv_block = conv_block or BasicConv2d
        self.conv = conv_block(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4))).flatten(1)
        return self.fc2(self.dropout(F.relu(self.fc1(x), inplace=True)))


class GoogLeNet(nn.Module):
    """Stem (7x7/2 conv, pools, 1x1 and 3x3 convs), Inception 3a-3b, 4a-4e, 5a-5b with the paper's
    widths, global average pool, dropout, fc. ``aux_logits`` adds the two auxiliary classifiers
    (after 4a and 4d), used only in training mode, where the forward returns
    ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``. ``transform_input`` maps inputs
    normalized with ImageNet's mean/std to the (x - 0.5) / 0.5 scaling the original weights expect.
    Convolutions and linears start truncated-normal (std 0.01, within +-2), batch norms at 1/0.

    Input: (N, 3, H, W), 224x224 for ImageNet weights. Output: (N, num_classes) in eval mode.
    """

    def __init__(
        self,
        num_classes=1000,
        aux_logits=True,
        transform_input=False,
        init_weights=None,
        blocks=None,
        dropout=0.2,
        dropout_aux=0.7,
    ):
        super().__init__()
        conv_block, inception_block, inception_aux_block = blocks or (BasicConv2d, Inception, InceptionAux)
        if init_weights is None:
            init_weights = True
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.conv1 = conv_block(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = conv_block(64, 64, kernel_size=1)
        self.conv3 = conv_block(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = inception_block(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = inception_block(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = inception_block(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = inception_block(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = inception_block(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = inception_block(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = inception_block(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = inception_block(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = inception_block(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = inception_aux_block(512, num_classes, dropout=dropout_aux)
            self.aux2 = inception_aux_block(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    def _transform_input(self, x):
        if not self.transform_input:
            return x
        # Undo ImageNet's normalization, then apply the original weights' (x - 0.5) / 0.5.
        channels = [
            torch.unsqueeze(x[:, c], 1) * (std / 0.5) + (mean - 0.5) / 0.5
            for c, (mean, std) in enumerate(zip(_weights.IMAGENET_MEAN, _weights.IMAGENET_STD))
        ]
        return torch.cat(channels, 1)

    def forward(self, x):
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet(*, weights=None, progress=True, pretrained=False, **kwargs):
    """torchvision's GoogLeNet: 6,624,904 parameters at 1000 classes without the auxiliary classifiers
    (13,004,888 with them, the default without weights). With ``weights`` (None, a ``Weights`` or a
    local file), ``transform_input`` defaults to True and the auxiliary classifiers are dropped
    unless ``aux_logits=True``, as torchvision; a file without them loads into a model without them."""
    weights = _weights.resolve(weights, pretrained, "googlenet")
    if weights is None:
        return GoogLeNet(**kwargs)
    kwargs.setdefault("transform_input", True)
    keep_aux = kwargs.pop("aux_logits", False)
    kwargs["init_weights"] = False
    _weights.check_classes(weights, kwargs)
    state = weights.get_state_dict(progress=progress)
    has_aux = any(k.startswith(("aux1.", "aux2.")) for k in state)
    if keep_aux and not has_aux:
        raise ValueError(f"{weights.path} holds no auxiliary classifiers (aux1.*, aux2.*); drop aux_logits=True")
    model = GoogLeNet(aux_logits=has_aux, **kwargs)
    model.load_state_dict(state)
    if not keep_aux:
        model.aux_logits = False
        model.aux1 = None
        model.aux2 = None
    return model
