"""The CNN lineage from LeNet to ResNet, as plain ``nn.Module``s with PyTorch-style constructors.

Every model takes ``num_classes``, ``in_channels`` and ``input_size`` (an int or ``(H, W)``), so any of
them can be trained on any image dataset; ``get_model(name, **kwargs)`` builds one by name and
``MODELS`` lists them with one-line descriptions.
"""

import inspect

from glassgrad.vision.models.alexnet import AlexNet
from glassgrad.vision.models.cifar_densenet import CIFARDenseNet, cifar_densenet121
from glassgrad.vision.models.cifar_mobilenet_v2 import CIFARMobileNetV2, cifar_mobilenet_v2
from glassgrad.vision.models.googlenet import GoogLeNet, Inception
from glassgrad.vision.models.lenet import LeNet5
from glassgrad.vision.models.nin import NiN
from glassgrad.vision.models.resnet import (
    BasicBlock,
    ResNet,
    resnet18,
    resnet20,
    resnet32,
    resnet34,
    resnet44,
    resnet56,
)
from glassgrad.vision.models.simple_cnn import SimpleCNN
from glassgrad.vision.models.vgg import (
    VGG,
    vgg11,
    vgg11_bn,
    vgg13,
    vgg13_bn,
    vgg16,
    vgg16_bn,
    vgg19,
    vgg19_bn,
)

# name -> (builder, year, one-line description), in the lineage's order.
MODELS = {
    "simple_cnn": (
        SimpleCNN,
        2025,
        "the seed's CIFAR-10 CNN: 3 convs + 2 linear; sigmoid as in the seed, relu the fix",
    ),
    "lenet5": (LeNet5, 1998, "LeCun's LeNet-5: 5x5 convs, tanh, average pooling, 120-84 classifier"),
    "alexnet": (AlexNet, 2012, "AlexNet scaled for 32x32: 5 convs with ReLU, dropout, 4096-wide classifier"),
    "nin": (NiN, 2014, "Network in Network: mlpconv blocks (1x1 convs) and global average pooling"),
    "vgg11": (vgg11, 2015, "VGG-11: stacks of 3x3 convs, CIFAR head"),
    "vgg11_bn": (vgg11_bn, 2015, "VGG-11 with batch norm"),
    "vgg13": (vgg13, 2015, "VGG-13: stacks of 3x3 convs, CIFAR head"),
    "vgg13_bn": (vgg13_bn, 2015, "VGG-13 with batch norm"),
    "vgg16": (vgg16, 2015, "VGG-16: stacks of 3x3 convs, CIFAR head"),
    "vgg16_bn": (vgg16_bn, 2015, "VGG-16 with batch norm"),
    "vgg19": (vgg19, 2015, "VGG-19: stacks of 3x3 convs, CIFAR head"),
    "vgg19_bn": (vgg19_bn, 2015, "VGG-19 with batch norm"),
    "googlenet": (GoogLeNet, 2015, "GoogLeNet / Inception v1: parallel 1x1, 3x3, 5x5 and pool branches, CIFAR stem"),
    "resnet20": (resnet20, 2016, "ResNet-20 for CIFAR: 3 stages of 16/32/64 channels, identity shortcuts (option A)"),
    "resnet32": (resnet32, 2016, "ResNet-32 for CIFAR, option A shortcuts"),
    "resnet44": (resnet44, 2016, "ResNet-44 for CIFAR, option A shortcuts"),
    "resnet56": (resnet56, 2016, "ResNet-56 for CIFAR, option A shortcuts"),
    "resnet18": (resnet18, 2016, "ResNet-18 with a CIFAR stem: 4 stages of 64-512 channels, projection shortcuts"),
    "resnet34": (resnet34, 2016, "ResNet-34 with a CIFAR stem, projection shortcuts"),
    "cifar_densenet121": (
        cifar_densenet121,
        2017,
        "DenseNet-121 (BC, growth 32) with a CIFAR stem: concatenated features",
    ),
    "cifar_mobilenet_v2": (cifar_mobilenet_v2, 2018, "MobileNetV2 for CIFAR: inverted residuals, depthwise 3x3 convs"),
}


def list_models():
    """The registered model names, in the lineage's order."""
    return list(MODELS)


def model_options(name):
    """The keyword arguments the model ``name`` accepts (beyond ``num_classes``, ``in_channels``, ``input_size``)."""
    builder = MODELS[_canonical(name)][0]
    skip = {"self", "num_classes", "in_channels", "input_size", "config"}
    return [p for p in inspect.signature(builder).parameters if p not in skip]


def _canonical(name):
    # "ResNet-20", "resnet_20" and "resnet20" all name resnet20.
    squeeze = str(name).lower().replace("-", "").replace("_", "")
    for key in MODELS:
        if key.replace("_", "") == squeeze:
            return key
    raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")


def get_model(name, **kwargs):
    """Build the model ``name`` (case-insensitive, ``-`` or ``_``), e.g. ``get_model('resnet20', num_classes=100)``."""
    builder = MODELS[_canonical(name)][0]
    accepted = inspect.signature(builder).parameters
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        raise ValueError(
            f"model {name!r} takes no option {', '.join(map(repr, unknown))}; it accepts {', '.join(accepted)}"
        )
    return builder(**kwargs)


__all__ = [
    "MODELS",
    "AlexNet",
    "CIFARDenseNet",
    "CIFARMobileNetV2",
    "BasicBlock",
    "GoogLeNet",
    "Inception",
    "LeNet5",
    "NiN",
    "ResNet",
    "SimpleCNN",
    "VGG",
    "cifar_densenet121",
    "cifar_mobilenet_v2",
    "get_model",
    "list_models",
    "model_options",
    "resnet18",
    "resnet20",
    "resnet32",
    "resnet34",
    "resnet44",
    "resnet56",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]
