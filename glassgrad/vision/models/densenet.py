"""torchvision's DenseNets (Huang et al. 2017): every layer sees the concatenation of all before it."""

import re
from collections import OrderedDict

import glassgrad as torch
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.vision.models import _weights


class _DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (``bn_size * growth_rate``) then BN-ReLU-3x3 conv (``growth_rate``) on the
    concatenation of its inputs. Input: a tensor or a list of (N, C_i, H, W). Output: (N, growth_rate, H, W)."""

    def __init__(self, num_input_features, growth_rate, bn_size, drop_rate, memory_efficient=False):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        # Accepted for torchvision's signature; checkpointing saves memory only, the result is the same.
        self.memory_efficient = memory_efficient

    def forward(self, input):
        features = [input] if isinstance(input, torch.Tensor) else input
        out = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
        out = self.conv2(self.relu2(self.norm2(out)))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return out


class _DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers ``denselayer1``..; output: input and every layer's features, concatenated."""

    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate, memory_efficient=False):
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate, memory_efficient)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, init_features):
        features = [init_features]
        for _, layer in self.items():
            features.append(layer(features))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    """BN, ReLU, 1x1 conv, 2x2 average pool: halves resolution (and, in DenseNet, the channels)."""

    def __init__(self, num_input_features, num_output_features):
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(num_input_features))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("conv", nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1, bias=False))
        self.add_module("pool", nn.AvgPool2d(kernel_size=2, stride=2))


class DenseNet(nn.Module):
    """7x7/2 stem and 3x3/2 max pool, dense blocks joined by transitions, final batch norm, ReLU,
    global average pool, linear. Convolutions start Kaiming-normal (fan_in), batch norms 1/0, the
    linear's bias 0.

    Input: (N, 3, H, W), 224x224 for ImageNet weights. Output: (N, num_classes).
    """

    def __init__(
        self,
        growth_rate=32,
        block_config=(6, 12, 24, 16),
        num_init_features=64,
        bn_size=4,
        drop_rate=0,
        num_classes=1000,
        memory_efficient=False,
    ):
        super().__init__()
        self.features = nn.Sequential(
            OrderedDict(
                [
                    ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
                    ("norm0", nn.BatchNorm2d(num_init_features)),
                    ("relu0", nn.ReLU(inplace=True)),
                    ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
                ]
            )
        )
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, num_features, bn_size, growth_rate, drop_rate, memory_efficient)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(num_features, num_features // 2))
                num_features //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        out = F.relu(self.features(x), inplace=True)
        out = F.adaptive_avg_pool2d(out, (1, 1)).flatten(1)
        return self.classifier(out)


# The published DenseNet weights name layers "norm.1"; the modules are "norm1".
_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)


def _rename_old_keys(state):
    renamed = {}
    for key, value in state.items():
        match = _OLD_KEY.match(key)
        renamed[match.group(1) + match.group(2) if match else key] = value
    return renamed


def _densenet(name, growth_rate, block_config, num_init_features, weights, pretrained, progress, kwargs):
    weights = _weights.resolve(weights, pretrained, name)
    if weights is not None:
        _weights.check_classes(weights, kwargs)
    model = DenseNet(growth_rate, block_config, num_init_features, **kwargs)
    if weights is not None:
        _weights.load_into(model, weights, progress, remap=_rename_old_keys)
    return model


def densenet121(*, weights=None, progress=True, pretrained=False, **kwargs):
    """torchvision's DenseNet-121 (7,978,856 parameters at 1000 classes). ``weights``: None, a ``Weights``
    or a local file (the published ``norm.1``-style keys are renamed); keyword arguments go to ``DenseNet``."""
    return _densenet("densenet121", 32, (6, 12, 24, 16), 64, weights, pretrained, progress, kwargs)
