"""The CNN lineage from LeNet to ResNet, and torchvision's ImageNet architectures under torchvision's names.

The lineage (``MODELS``, the CIFAR-scale networks ``glassgrad train`` builds): every model takes ``num_classes``, ``in_channels`` and ``input_size`` (an int or ``(H, W)``), so any of
them can be trained on any image dataset; ``get_model(name, **kwargs)`` builds one by name and
``MODELS`` lists them with one-line descriptions. ``TORCHVISION_MODELS`` (``resnet18``..``resnet152``,
``vgg11``..``vgg19_bn``, ``alexnet``, ``googlenet``, ``mobilenet_v2``, ``densenet121``, ``squeezenet1_0/1_1``)
are built exactly as torchvision builds them, with the same state-dict keys, and load local weight files.
"""

import inspect

from glassgrad.vision.models._weights import (
    ImageClassification,
    ResNet18_Weights,
    ResNet50_Weights,
    VGG16_Weights,
    VGG19_Weights,
    Weights,
    get_weight,
)
from glassgrad.vision.models.alexnet import AlexNet, alexnet
from glassgrad.vision.models.cifar_alexnet import CifarAlexNet
from glassgrad.vision.models.cifar_densenet import CIFARDenseNet, cifar_densenet121
from glassgrad.vision.models.cifar_googlenet import CifarGoogLeNet, CifarInception
from glassgrad.vision.models.cifar_mobilenet_v2 import CIFARMobileNetV2, cifar_mobilenet_v2
from glassgrad.vision.models.cifar_resnet import (
    CifarBasicBlock,
    CifarResNet,
    cifar_resnet18,
    cifar_resnet34,
    resnet20,
    resnet32,
    resnet44,
    resnet56,
)
from glassgrad.vision.models.cifar_vgg import (
    CifarVGG,
    cifar_vgg11,
    cifar_vgg11_bn,
    cifar_vgg13,
    cifar_vgg13_bn,
    cifar_vgg16,
    cifar_vgg16_bn,
    cifar_vgg19,
    cifar_vgg19_bn,
)
from glassgrad.vision.models.densenet import DenseNet, densenet121
from glassgrad.vision.models.googlenet import GoogLeNet, GoogLeNetOutputs, Inception, InceptionAux, googlenet
from glassgrad.vision.models.lenet import LeNet5
from glassgrad.vision.models.mobilenetv2 import MobileNetV2, mobilenet_v2
from glassgrad.vision.models.nin import NiN
from glassgrad.vision.models.resnet import (
    BasicBlock,
    Bottleneck,
    ResNet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
)
from glassgrad.vision.models.simple_cnn import SimpleCNN
from glassgrad.vision.models.squeezenet import SqueezeNet, squeezenet1_0, squeezenet1_1
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
    "cifar_alexnet": (CifarAlexNet, 2012, "AlexNet scaled for 32x32: 5 convs with ReLU, dropout, 4096-wide classifier"),
    "nin": (NiN, 2014, "Network in Network: mlpconv blocks (1x1 convs) and global average pooling"),
    "cifar_vgg11": (cifar_vgg11, 2015, "VGG-11: stacks of 3x3 convs, CIFAR head"),
    "cifar_vgg11_bn": (cifar_vgg11_bn, 2015, "VGG-11 with batch norm"),
    "cifar_vgg13": (cifar_vgg13, 2015, "VGG-13: stacks of 3x3 convs, CIFAR head"),
    "cifar_vgg13_bn": (cifar_vgg13_bn, 2015, "VGG-13 with batch norm"),
    "cifar_vgg16": (cifar_vgg16, 2015, "VGG-16: stacks of 3x3 convs, CIFAR head"),
    "cifar_vgg16_bn": (cifar_vgg16_bn, 2015, "VGG-16 with batch norm"),
    "cifar_vgg19": (cifar_vgg19, 2015, "VGG-19: stacks of 3x3 convs, CIFAR head"),
    "cifar_vgg19_bn": (cifar_vgg19_bn, 2015, "VGG-19 with batch norm"),
    "cifar_googlenet": (
        CifarGoogLeNet,
        2015,
        "GoogLeNet / Inception v1: parallel 1x1, 3x3, 5x5 and pool branches, CIFAR stem",
    ),
    "resnet20": (resnet20, 2016, "ResNet-20 for CIFAR: 3 stages of 16/32/64 channels, identity shortcuts (option A)"),
    "resnet32": (resnet32, 2016, "ResNet-32 for CIFAR, option A shortcuts"),
    "resnet44": (resnet44, 2016, "ResNet-44 for CIFAR, option A shortcuts"),
    "resnet56": (resnet56, 2016, "ResNet-56 for CIFAR, option A shortcuts"),
    "cifar_resnet18": (
        cifar_resnet18,
        2016,
        "ResNet-18 with a CIFAR stem: 4 stages of 64-512 channels, projection shortcuts",
    ),
    "cifar_resnet34": (cifar_resnet34, 2016, "ResNet-34 with a CIFAR stem, projection shortcuts"),
    "cifar_densenet121": (
        cifar_densenet121,
        2017,
        "DenseNet-121 (BC, growth 32) with a CIFAR stem: concatenated features",
    ),
    "cifar_mobilenet_v2": (cifar_mobilenet_v2, 2018, "MobileNetV2 for CIFAR: inverted residuals, depthwise 3x3 convs"),
}


# torchvision's ImageNet architectures under torchvision's names: name -> (builder, year, description).
# They take torchvision's keyword arguments (weights=, num_classes=, ...), not in_channels/input_size.
TORCHVISION_MODELS = {
    "alexnet": (alexnet, 2012, "torchvision's AlexNet: 11x11/4 stem, 6x6 pool, 4096-4096 classifier"),
    "vgg11": (vgg11, 2015, "torchvision's VGG-11 (config A), 7x7 pool, 4096-4096 classifier"),
    "vgg11_bn": (vgg11_bn, 2015, "torchvision's VGG-11 with batch norm"),
    "vgg13": (vgg13, 2015, "torchvision's VGG-13 (config B)"),
    "vgg13_bn": (vgg13_bn, 2015, "torchvision's VGG-13 with batch norm"),
    "vgg16": (vgg16, 2015, "torchvision's VGG-16 (config D)"),
    "vgg16_bn": (vgg16_bn, 2015, "torchvision's VGG-16 with batch norm"),
    "vgg19": (vgg19, 2015, "torchvision's VGG-19 (config E)"),
    "vgg19_bn": (vgg19_bn, 2015, "torchvision's VGG-19 with batch norm"),
    "googlenet": (googlenet, 2015, "torchvision's GoogLeNet (Inception v1 with batch norm, auxiliary classifiers)"),
    "resnet18": (resnet18, 2016, "torchvision's ResNet-18: 7x7/2 stem, max pool, basic blocks"),
    "resnet34": (resnet34, 2016, "torchvision's ResNet-34, basic blocks"),
    "resnet50": (resnet50, 2016, "torchvision's ResNet-50, bottleneck blocks (stride on the 3x3, v1.5)"),
    "resnet101": (resnet101, 2016, "torchvision's ResNet-101, bottleneck blocks"),
    "resnet152": (resnet152, 2016, "torchvision's ResNet-152, bottleneck blocks"),
    "squeezenet1_0": (squeezenet1_0, 2016, "torchvision's SqueezeNet 1.0: fire modules, conv classifier"),
    "squeezenet1_1": (squeezenet1_1, 2016, "torchvision's SqueezeNet 1.1: 3x3 stem, 2.4x less computation"),
    "densenet121": (densenet121, 2017, "torchvision's DenseNet-121: growth 32, blocks 6-12-24-16"),
    "mobilenet_v2": (mobilenet_v2, 2018, "torchvision's MobileNetV2: inverted residuals, linear bottlenecks"),
}

_SMALL_IMAGE_OPTIONS = ("in_channels", "input_size")


def list_models():
    """Every name ``get_model`` accepts: the lineage (``MODELS``), then torchvision's (``TORCHVISION_MODELS``)."""
    return list(MODELS) + list(TORCHVISION_MODELS)


def model_options(name):
    """The keyword arguments the model ``name`` accepts (beyond ``num_classes``, ``in_channels``, ``input_size``)."""
    builder = _registry(name)[0]
    skip = {"self", "num_classes", "in_channels", "input_size", "config", "kwargs"}
    return [p for p in inspect.signature(builder).parameters if p not in skip]


def canonical_name(name):
    """The registered name that ``name`` spells ("ResNet-50" -> "resnet50"); ValueError for an unknown one."""
    return _canonical(name)


def _canonical(name):
    # "ResNet-20", "resnet_20" and "resnet20" all name resnet20; exact names win ("vgg11_bn").
    lowered = str(name).lower()
    if lowered in MODELS or lowered in TORCHVISION_MODELS:
        return lowered
    squeeze = lowered.replace("-", "").replace("_", "")
    for key in list_models():
        if key.replace("_", "") == squeeze:
            return key
    raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(list_models())}")


def _registry(name):
    key = _canonical(name)
    return MODELS[key] if key in MODELS else TORCHVISION_MODELS[key]


def get_model(name, **kwargs):
    """Build the model ``name`` (case-insensitive, ``-`` or ``_``), e.g. ``get_model('resnet20', num_classes=100)``
    or ``get_model('resnet50', weights='resnet50.safetensors')``."""
    key = _canonical(name)
    if key in TORCHVISION_MODELS:
        small = [k for k in _SMALL_IMAGE_OPTIONS if k in kwargs]
        if small:
            hint = f"cifar_{key}" if f"cifar_{key}" in MODELS else "a model from `glassgrad models`"
            raise ValueError(
                f"model {name!r} is torchvision's ImageNet architecture (3 channels, 224x224) and takes no "
                f"{', '.join(small)}; for small images use {hint}"
            )
        cls = inspect.signature(_constructor(key)).parameters
        builder = inspect.signature(TORCHVISION_MODELS[key][0]).parameters
        accepted = [p for p in list(builder) + list(cls) if p not in ("self", "kwargs", "block", "layers", "features")]
    else:
        accepted = list(inspect.signature(MODELS[key][0]).parameters)
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        raise ValueError(
            f"model {name!r} takes no option {', '.join(map(repr, unknown))}; it accepts {', '.join(accepted)}"
        )
    return _registry(key)[0](**kwargs)


def _constructor(key):
    if key.startswith("resnet"):
        return ResNet
    if key.startswith("vgg"):
        return VGG
    if key.startswith("squeezenet"):
        return SqueezeNet
    return {"alexnet": AlexNet, "googlenet": GoogLeNet, "densenet121": DenseNet, "mobilenet_v2": MobileNetV2}[key]


__all__ = [
    "canonical_name",
    "MODELS",
    "ResNet18_Weights",
    "ResNet50_Weights",
    "VGG16_Weights",
    "VGG19_Weights",
    "TORCHVISION_MODELS",
    "AlexNet",
    "CIFARDenseNet",
    "CIFARMobileNetV2",
    "BasicBlock",
    "Bottleneck",
    "CifarAlexNet",
    "CifarBasicBlock",
    "CifarGoogLeNet",
    "CifarInception",
    "CifarResNet",
    "CifarVGG",
    "DenseNet",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "ImageClassification",
    "Inception",
    "InceptionAux",
    "LeNet5",
    "MobileNetV2",
    "NiN",
    "ResNet",
    "SimpleCNN",
    "SqueezeNet",
    "VGG",
    "Weights",
    "alexnet",
    "cifar_densenet121",
    "cifar_mobilenet_v2",
    "cifar_resnet18",
    "cifar_resnet34",
    "cifar_vgg11",
    "cifar_vgg11_bn",
    "cifar_vgg13",
    "cifar_vgg13_bn",
    "cifar_vgg16",
    "cifar_vgg16_bn",
    "cifar_vgg19",
    "cifar_vgg19_bn",
    "densenet121",
    "get_model",
    "get_weight",
    "googlenet",
    "list_models",
    "mobilenet_v2",
    "model_options",
    "resnet18",
    "resnet20",
    "resnet32",
    "resnet34",
    "resnet44",
    "resnet50",
    "resnet56",
    "resnet101",
    "resnet152",
    "squeezenet1_0",
    "squeezenet1_1",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]
