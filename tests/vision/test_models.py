"""The CNN lineage: parameter counts, output shapes, a small batch each family can overfit, and
the same outputs as the same source run by PyTorch."""

import pathlib
import sys
import types

import numpy as np
import pytest

import glassgrad
from glassgrad import nn
from glassgrad.vision import models
from glassgrad.vision.models import get_model

# (name, constructor options, parameters) at 10 classes; the numbers stated in the docstrings.
PARAMETER_COUNTS = [
    ("simple_cnn", {}, 620_362),
    ("simple_cnn", {"in_channels": 1, "input_size": 28}, 390_410),
    ("simple_cnn", {"in_channels": 1, "input_size": 8}, 128_266),
    ("lenet5", {}, 61_706),
    ("lenet5", {"input_size": 28}, 61_706),
    ("cifar_alexnet", {}, 23_272_266),
    ("cifar_alexnet", {"in_channels": 1, "input_size": 28}, 20_125_386),
    ("nin", {}, 966_986),
    ("cifar_vgg11", {}, 9_225_610),
    ("cifar_vgg11_bn", {}, 9_231_114),
    ("cifar_vgg13", {}, 9_410_122),
    ("cifar_vgg13_bn", {}, 9_416_010),
    ("cifar_vgg16", {}, 14_719_818),
    ("cifar_vgg16_bn", {}, 14_728_266),
    ("cifar_vgg19", {}, 20_029_514),
    ("cifar_vgg19_bn", {}, 20_040_522),
    ("cifar_googlenet", {}, 5_602_474),
    ("resnet20", {}, 269_722),
    ("resnet20", {"shortcut": "B"}, 272_474),
    ("resnet32", {}, 464_154),
    ("resnet44", {}, 658_586),
    ("resnet56", {}, 853_018),
    ("cifar_resnet18", {}, 11_173_962),
    ("cifar_resnet34", {}, 21_282_122),
    ("cifar_mobilenet_v2", {}, 2_236_682),
    ("cifar_densenet121", {}, 6_956_298),
]


def count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name, options, expected", PARAMETER_COUNTS)
def test_parameter_count(name, options, expected):
    assert count(get_model(name, **options)) == expected


def test_every_registered_model_has_a_stated_count_and_description():
    counted = {name for name, _, _ in PARAMETER_COUNTS}
    assert counted == set(models.MODELS)
    for builder, year, description in models.MODELS.values():
        assert callable(builder) and 1990 < year < 2030 and len(description) > 10


def test_simple_cnn_is_the_seed_network():
    model = get_model("simple_cnn")
    keys = list(model.state_dict())
    assert keys == [
        "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight", "conv3.bias",
        "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
    ]  # fmt: skip
    assert tuple(model.fc1.weight.shape) == (256, 2048)
    assert isinstance(model.sigmoid, nn.Sigmoid)
    bn = get_model("simple_cnn", activation="relu", batch_norm=True)
    assert isinstance(bn.relu, nn.ReLU) and tuple(bn.bn3.weight.shape) == (128,)


# One input per family, small enough to be quick; (name, options, input shape).
FORWARD = [
    ("simple_cnn", {"in_channels": 1, "input_size": 8, "activation": "relu", "batch_norm": True}, (2, 1, 8, 8)),
    ("lenet5", {"input_size": 28}, (2, 1, 28, 28)),
    ("cifar_alexnet", {"input_size": 16, "hidden": 32, "lrn": True}, (2, 3, 16, 16)),
    ("nin", {"input_size": 8}, (2, 3, 8, 8)),
    ("cifar_vgg11_bn", {"in_channels": 1, "input_size": 8}, (2, 1, 8, 8)),
    ("cifar_googlenet", {"input_size": 8}, (2, 3, 8, 8)),
    ("resnet20", {"in_channels": 1, "input_size": 8}, (2, 1, 8, 8)),
    ("cifar_resnet18", {"input_size": 8}, (2, 3, 8, 8)),
    ("cifar_mobilenet_v2", {"in_channels": 1, "input_size": 8, "width_mult": 0.5}, (2, 1, 8, 8)),
    ("cifar_densenet121", {"input_size": 8}, (2, 3, 8, 8)),
]


@pytest.mark.parametrize("name, options, shape", FORWARD, ids=[f[0] for f in FORWARD])
def test_output_shape(name, options, shape):
    model = get_model(name, num_classes=7, **options)
    model.eval()
    with glassgrad.no_grad():
        out = model(glassgrad.randn(*shape))
    assert tuple(out.shape) == (shape[0], 7)
    assert np.isfinite(out.numpy()).all()


def test_vgg_accepts_28x28_and_32x32():
    model = get_model("cifar_vgg11", in_channels=1, input_size=28).eval()
    with glassgrad.no_grad():
        assert tuple(model(glassgrad.randn(1, 1, 28, 28)).shape) == (1, 10)


# The loss falls on one repeated batch: every family can learn (dropout off to keep it deterministic).
# (name, options, image size, steps, lr, factor): the loss must fall below factor x its start. The
# networks without batch norm start slower; NiN (nine plain ReLU convolutions) slowest of all.
OVERFIT = [
    ("simple_cnn", {"in_channels": 1, "input_size": 8, "activation": "relu"}, 8, 10, 2e-3, 0.5),
    ("lenet5", {"input_size": 8}, 8, 10, 2e-3, 0.5),
    ("cifar_alexnet", {"in_channels": 1, "input_size": 16, "hidden": 32, "dropout": 0.0}, 16, 20, 2e-3, 0.7),
    ("nin", {"in_channels": 1, "input_size": 4, "dropout": 0.0}, 4, 25, 5e-4, 0.92),
    ("cifar_vgg11_bn", {"in_channels": 1, "input_size": 8}, 8, 10, 2e-3, 0.5),
    ("cifar_googlenet", {"in_channels": 1, "input_size": 8, "dropout": 0.0}, 8, 5, 2e-3, 0.5),
    ("resnet20", {"in_channels": 1, "input_size": 8}, 8, 10, 2e-3, 0.5),
]


@pytest.mark.parametrize("name, options, size, steps, lr, factor", OVERFIT, ids=[o[0] for o in OVERFIT])
def test_overfits_one_batch(name, options, size, steps, lr, factor, rng):
    model = get_model(name, num_classes=4, **options)
    # Four noisy copies of four random patterns: learnable by any of the architectures.
    labels = np.arange(8) % 4
    patterns = rng.standard_normal((4, 1, size, size))
    x = glassgrad.tensor((patterns[labels] + 0.3 * rng.standard_normal((8, 1, size, size))).astype(np.float32))
    y = glassgrad.tensor(labels)
    optimizer = glassgrad.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < factor * losses[0], losses


def test_get_model_errors():
    with pytest.raises(ValueError, match="unknown model 'resnet99'"):
        get_model("resnet99")
    with pytest.raises(ValueError, match="takes no option 'activation'"):
        get_model("resnet20", activation="relu")
    with pytest.raises(ValueError, match="too small"):
        get_model("cifar_alexnet", input_size=8)
    with pytest.raises(ValueError, match="unknown activation"):
        get_model("simple_cnn", activation="swish")
    assert type(get_model("ResNet-20")).__name__ == "CifarResNet"


# ----- the same source under PyTorch: same tree, same outputs for the same weights -----

PARITY = [
    ("simple_cnn", {}, (2, 3, 32, 32)),
    ("simple_cnn", {"in_channels": 1, "input_size": 28, "activation": "relu", "batch_norm": True}, (2, 1, 28, 28)),
    ("lenet5", {"input_size": 28}, (2, 1, 28, 28)),
    ("cifar_alexnet", {"input_size": 16, "hidden": 32, "lrn": True}, (2, 3, 16, 16)),
    ("nin", {"input_size": 8}, (2, 3, 8, 8)),
    ("cifar_vgg11_bn", {"input_size": 8}, (2, 3, 8, 8)),
    ("cifar_googlenet", {"input_size": 8}, (2, 3, 8, 8)),
    ("resnet20", {"input_size": 8}, (2, 3, 8, 8)),
    ("cifar_mobilenet_v2", {"input_size": 8}, (2, 3, 8, 8)),
    ("cifar_densenet121", {"input_size": 8}, (2, 3, 8, 8)),
]


@pytest.mark.parametrize("name, options, shape", PARITY, ids=[f"{p[0]}-{i}" for i, p in enumerate(PARITY)])
def test_same_outputs_as_pytorch(name, options, shape, rng):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests skipped")
    reference = _models_under_torch().get_model(name, **options)
    model = get_model(name, **options)
    state = reference.state_dict()
    assert list(state) == list(model.state_dict())
    model.load_state_dict({k: glassgrad.tensor(v.numpy()) for k, v in state.items()})
    reference.eval()
    model.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.tensor(x)).numpy()
    with glassgrad.no_grad():
        got = model(glassgrad.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def _models_under_torch():
    """glassgrad/vision/models loaded with ``torch`` in place of ``glassgrad``: the model files import
    only ``glassgrad``, ``glassgrad.nn`` and ``glassgrad.nn.functional``, so the same source builds
    PyTorch modules with the same tree."""
    package = "_lineage_models_under_torch"
    if package in sys.modules:
        return sys.modules[package]
    source = pathlib.Path(models.__file__).parent
    # The package first, so that ``from <package> import _weights`` finds the submodules as they come.
    root = types.ModuleType(package)
    root.__path__ = []
    sys.modules[package] = root
    submodules = ["_common", "_weights", "simple_cnn", "lenet", "nin", "alexnet", "vgg", "googlenet", "resnet"]
    submodules += ["mobilenetv2", "densenet", "squeezenet", "cifar_alexnet", "cifar_vgg", "cifar_googlenet"]
    submodules += ["cifar_mobilenet_v2", "cifar_densenet"]
    for name in [*submodules, "cifar_resnet", "__init__"]:
        text = (source / f"{name}.py").read_text()
        text = text.replace("glassgrad.vision.models", package).replace("glassgrad", "torch")
        module = root if name == "__init__" else types.ModuleType(f"{package}.{name}")
        if name != "__init__":
            sys.modules[module.__name__] = module
            setattr(root, name, module)
        exec(compile(text, str(source / f"{name}.py"), "exec"), module.__dict__)
    return root
