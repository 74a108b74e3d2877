"""`glassgrad models` lists every builder of glassgrad.vision.models by group, with parameter counts and
the input they are counted at; `glassgrad summary` feeds torchvision's ImageNet models 224x224."""

import re

import pytest

from glassgrad.cli import main
from glassgrad.vision.models import MODELS, TORCHVISION_MODELS, get_model


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _table(out):
    """{group title: {name: (year, parameters, input)}} from the command's output."""
    groups, title = {}, None
    for line in out.splitlines():
        if line and not line.startswith(" "):
            title = line
            groups[title] = {}
        elif line.startswith("  ") and not line.split()[0] == "name":
            name, year, count, size = line.split()[:4]
            groups[title][name] = (int(year), int(count.replace(",", "")), size)
    return groups


def test_models_lists_both_groups_with_counts(capsys):
    code, out, err = run(capsys, "models")
    assert code == 0, err
    (cifar_title, cifar), (imagenet_title, imagenet) = _table(out).items()
    assert cifar_title.startswith("CIFAR-scale") and imagenet_title.startswith("torchvision's ImageNet")
    assert list(cifar) == list(MODELS) and list(imagenet) == list(TORCHVISION_MODELS)
    # torchvision's published sizes (torchvision.models docs) and the lineage's own.
    assert imagenet["resnet50"] == (2016, 25_557_032, "3x224x224")
    assert imagenet["vgg16"][1] == 138_357_544 and imagenet["squeezenet1_1"][1] == 1_235_496
    assert imagenet["mobilenet_v2"][1] == 3_504_872 and imagenet["densenet121"][1] == 7_978_856
    assert cifar["resnet20"] == (2016, 269_722, "3x32x32") and cifar["lenet5"][1] == 61_706
    assert cifar["simple_cnn"][1] == 620_810
    for name in ("cifar_resnet18", "googlenet", "alexnet"):
        group = cifar if name in MODELS else imagenet
        built = sum(p.numel() for p in get_model(name).parameters())
        assert group[name][1] == built, name
    code, again, _ = run(capsys, "models", "--count")
    assert code == 0 and again == out


def test_summary_gives_imagenet_models_224_inputs(capsys):
    code, out, err = run(capsys, "summary", "resnet50", "--depth", "1")
    assert code == 0, err
    assert "Total params: 25,557,032" in out and "for input [1, 3, 224, 224]" in out
    assert "fc (Linear)" in out and "[1, 1000]" in out
    assert re.search(r"Total MACs: 4,089,\d{3},\d{3}", out), out  # torchinfo's 4.09 G for ResNet-50
    code, out, err = run(capsys, "summary", "resnet18", "--input-size", "128", "160", "--num-classes", "7")
    assert code == 0, err
    assert "for input [1, 3, 128, 160]" in out and "[1, 7]" in out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["summary", "resnet50", "--input-size", "1", "224", "224"], "takes 3 channels, not 1"),
        (["summary", "resnet5"], "unknown model 'resnet5'"),
    ],
)
def test_summary_errors_are_one_line(capsys, argv, needle):
    code, _, err = run(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, err
