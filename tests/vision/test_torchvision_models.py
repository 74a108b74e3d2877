"""torchvision's architectures under torchvision's names: the same state-dict layout (always checked,
against figures recorded from torchvision 0.29.1), torchvision's init rules, local weight files, and
(where torchvision imports) torchvision's own random-weight state dicts giving torchvision's logits."""

import hashlib
import json

import numpy as np
import pytest

import glassgrad
from glassgrad import nn
from glassgrad.vision import models

# name -> (state-dict entries, parameters, sha256 of the sorted "key (shape)" lines), recorded from
# torchvision 0.29.1 builders with weights=None (googlenet with its auxiliary classifiers).
LAYOUT = {
    "alexnet": (16, 61_100_840, "935c1ea73a7869eef424454bd79f9a16fdcb7a6342ab404d13f9ead2466d1092"),
    "vgg11": (22, 132_863_336, "b11acd4f90d9643fb47e4326d0f40d1ae7ee580b0509f272826300b0996358c2"),
    "vgg11_bn": (62, 132_868_840, "56ed5816909a813293b13a7b24c808b5f2594f625d2f5b4ae45cac233d75a268"),
    "vgg13": (26, 133_047_848, "79ca8fd7a1480aa7c17b8cdc8d302bc34640bccfe080031fa21b40f7b70edc21"),
    "vgg13_bn": (76, 133_053_736, "e4f52ce016e5e82f373b5f48665a1bbeb1a16e6ead9829c72cfed1b3d6635444"),
    "vgg16": (32, 138_357_544, "ba63c2556d912509cba94697742dd762a05c284047650150bab0c2ddc806bb59"),
    "vgg16_bn": (97, 138_365_992, "86bad13b66635552f31b1a53eaf739fc05bf6111f696e97fd006755355d50d26"),
    "vgg19": (38, 143_667_240, "393fac8b08b63fbee1e3ef721e98f1710adc57be373a2067ea1af78fc5ccb504"),
    "vgg19_bn": (118, 143_678_248, "faf0fdbb92f698c6862d90e64500a658c4328d5dbadfc9e24785038b3c1208a6"),
    "googlenet": (364, 13_004_888, "de3745733576b3b1a65be26aef551602f1147352b1e78f96d2acb50a7d1a29e3"),
    "resnet18": (122, 11_689_512, "5191d63ec398959223d67ef37376f9061e6965b859fc2d4e40e23d037147a0d7"),
    "resnet34": (218, 21_797_672, "f8de2a1812ef85e46b3f60c61589921afee0c2a6d4165e27508ad215f101671b"),
    "resnet50": (320, 25_557_032, "a87e91cd6bd1f939e0b723852e567a7205d33b0ac984ac02dd1a5f225d37c036"),
    "resnet101": (626, 44_549_160, "dbc3ca74fffafc728641ec2b524ccedcbae337de9d3e3cf1f0552330d07303ea"),
    "resnet152": (932, 60_192_808, "7d486dbdc941506eeed76c4b06e6a00c943ff5aa11c0ced1b2e1b12faebd4729"),
    "squeezenet1_0": (52, 1_248_424, "142983e4c19c76ad42af4358558f0d6974b53d4f100968f0d866c885c8dc5018"),
    "squeezenet1_1": (52, 1_235_496, "3fbd2a746421cada0f54c8e59ea6b1b6e563ad4cc1db312b5017c6d8fed0ee08"),
    "densenet121": (727, 7_978_856, "9c659ec278435e95dba57acdc3b0b3e81670779625122b059b6168bbfa51e232"),
    "mobilenet_v2": (314, 3_504_872, "e3eb10f890f74c6ee65e79c53b1a3c9ee5dd5c8d8eb4ec3185d92cbea9d47b89"),
}


def _layout(model):
    state = model.state_dict()
    lines = "\n".join(f"{k} {tuple(v.shape)}" for k, v in sorted(state.items()))
    params = sum(p.numel() for p in model.parameters())
    return len(state), params, hashlib.sha256(lines.encode()).hexdigest()


@pytest.fixture
def no_init(monkeypatch):
    """Layers allocated but not initialised: the layout of a 140M-parameter VGG in a second."""
    for name in ["uniform_", "normal_", "trunc_normal_", "kaiming_normal_", "kaiming_uniform_", "constant_"]:
        monkeypatch.setattr(nn.init, name, lambda tensor, *args, **kwargs: tensor)
    monkeypatch.setattr(nn.init, "_default_weight_and_bias_", lambda weight, bias: None)


def test_every_torchvision_builder_is_recorded():
    assert set(LAYOUT) == set(models.TORCHVISION_MODELS)
    assert not set(models.TORCHVISION_MODELS) & set(models.MODELS)


@pytest.mark.parametrize("name", sorted(LAYOUT))
def test_state_dict_layout_is_torchvisions(name, no_init):
    assert _layout(models.get_model(name)) == LAYOUT[name]


def test_published_parameter_counts():
    # torchvision's documented figures; googlenet's 6,624,904 is without the auxiliary classifiers.
    published = {"resnet18": 11_689_512, "resnet50": 25_557_032, "vgg16": 138_357_544, "alexnet": 61_100_840}
    published |= {"mobilenet_v2": 3_504_872, "densenet121": 7_978_856, "squeezenet1_1": 1_235_496}
    for name, count in published.items():
        assert LAYOUT[name][1] == count
    model = models.googlenet(aux_logits=False)
    assert sum(p.numel() for p in model.parameters()) == 6_624_904


def _std(t):
    return float(t.detach().numpy().std())


def test_init_follows_torchvision():
    glassgrad.manual_seed(0)
    resnet = models.resnet18(zero_init_residual=True)
    fan_out = 64 * 7 * 7
    assert _std(resnet.conv1.weight) == pytest.approx((2 / fan_out) ** 0.5, rel=0.05)
    assert (resnet.bn1.weight.detach().numpy() == 1).all() and (resnet.bn1.bias.detach().numpy() == 0).all()
    assert (resnet.layer1[0].bn2.weight.detach().numpy() == 0).all()
    vgg = models.vgg11_bn()
    assert _std(vgg.classifier[6].weight) == pytest.approx(0.01, rel=0.05)
    assert (vgg.classifier[0].bias.detach().numpy() == 0).all() and (vgg.features[0].bias.detach().numpy() == 0).all()
    googlenet = models.googlenet()
    w = googlenet.fc.weight.detach().numpy()
    # torchvision truncates at +-2 absolute (200 standard deviations): in effect a plain N(0, 0.01).
    assert np.abs(w).max() <= 2 and w.std() == pytest.approx(0.01, rel=0.05)
    squeeze = models.squeezenet1_1()
    assert _std(squeeze.classifier[1].weight) == pytest.approx(0.01, rel=0.05)
    bound = (6 / (3 * 3 * 3)) ** 0.5  # kaiming_uniform_, fan_in, gain sqrt(2)
    w = squeeze.features[0].weight.detach().numpy()
    assert np.abs(w).max() <= bound and w.std() == pytest.approx(bound / 3**0.5, rel=0.1)
    mobile = models.mobilenet_v2()
    assert _std(mobile.classifier[1].weight) == pytest.approx(0.01, rel=0.05)
    dense = models.densenet121()
    conv0 = dense.features.conv0.weight
    assert _std(conv0) == pytest.approx((2 / (3 * 7 * 7)) ** 0.5, rel=0.05)
    assert (dense.classifier.bias.detach().numpy() == 0).all()


def test_googlenet_outputs_and_transform_input():
    glassgrad.manual_seed(0)
    model = models.googlenet(num_classes=5)
    x = glassgrad.randn(2, 3, 64, 64)
    out = model(x)
    assert type(out).__name__ == "GoogLeNetOutputs" and [tuple(o.shape) for o in out] == [(2, 5)] * 3
    model.eval()
    with glassgrad.no_grad():
        logits = model(x)
        model.transform_input = True
        shifted = model(x)
        model.transform_input = False
        by_hand = x.clone()
        for c, (mean, std) in enumerate(zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))):
            by_hand[:, c] = x[:, c] * (std / 0.5) + (mean - 0.5) / 0.5
        np.testing.assert_allclose(shifted.detach().numpy(), model(by_hand).detach().numpy(), rtol=1e-5, atol=1e-6)
        model.transform_input = True
        moved = model._transform_input(x).detach().numpy()
    np.testing.assert_allclose(moved, by_hand.detach().numpy(), rtol=1e-6, atol=1e-6)
    assert tuple(logits.shape) == (2, 5) and np.abs(moved - x.detach().numpy()).max() > 0.1


def test_local_weights_with_categories_and_transforms(tmp_path):
    glassgrad.manual_seed(0)
    source = models.squeezenet1_1(num_classes=3).eval()
    path = tmp_path / "squeeze.safetensors"
    glassgrad.save(source.state_dict(), path)
    weights = models.get_weight(path, categories=["cat", "dog", "fish"])
    model = models.squeezenet1_1(weights=weights).eval()  # num_classes from the categories
    x = weights.transforms()(glassgrad.rand(3, 300, 260))
    assert tuple(x.shape) == (3, 224, 224)
    with glassgrad.no_grad():
        np.testing.assert_array_equal(model(x[None]).detach().numpy(), source(x[None]).detach().numpy())
    assert weights.meta["categories"] == ["cat", "dog", "fish"] and weights.meta["num_params"] == 1_235_496 - 513 * 997
    with pytest.raises(ValueError, match="num_classes=10 does not match the 3 categories"):
        models.squeezenet1_1(weights=weights, num_classes=10)
    plain = models.get_model("squeezenet1_1", weights=str(path), num_classes=3)
    assert set(plain.state_dict()) == set(source.state_dict())


def test_categories_stored_in_the_safetensors_metadata(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy", reason="safetensors not installed")
    source = models.alexnet(num_classes=2)
    path = tmp_path / "alexnet.safetensors"
    state = {k: v.detach().numpy() for k, v in source.state_dict().items()}
    safetensors_numpy.save_file(state, str(path), metadata={"categories": json.dumps(["no", "yes"]), "recipe": "r"})
    weights = models.Weights(path)
    assert weights.meta["categories"] == ["no", "yes"] and weights.meta["recipe"] == "r"
    model = models.alexnet(weights=weights)
    np.testing.assert_array_equal(model.classifier[6].weight.detach().numpy(), state["classifier.6.weight"])


def test_torch_pth_is_read_by_the_restricted_reader(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: .pth reading skipped")
    source = models.mobilenet_v2(num_classes=4)
    path = tmp_path / "mobile.pth"
    torch.save({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in source.state_dict().items()}, path)
    model = models.mobilenet_v2(weights=path, num_classes=4)
    np.testing.assert_array_equal(
        model.features[1].conv[0][0].weight.detach().numpy(), source.features[1].conv[0][0].weight.detach().numpy()
    )
    torch.save({"state_dict": {"x": torch.zeros(1)}, "code": object.__new__(_Evil)}, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match="refusing to load: its pickle asks for .*_Evil"):
        models.resnet18(weights=tmp_path / "evil.pth")


def test_torchvision_weight_names_use_the_torch_hub_cache_or_say_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    entry = models.VGG16_Weights.IMAGENET1K_V1
    assert models.VGG16_Weights.DEFAULT is entry and repr(entry) == "VGG16_Weights.IMAGENET1K_V1"
    expected = tmp_path / "th" / "hub" / "checkpoints" / "vgg16-397923af.pth"
    with pytest.raises(FileNotFoundError, match="glassgrad downloads nothing. Copy that file to " + str(expected)):
        models.vgg16(weights=entry)
    torch = pytest.importorskip("torch", reason="PyTorch not installed: .pth writing skipped")
    source = models.resnet18(num_classes=1000)
    state = {k: torch.from_numpy(v.detach().numpy().copy()) for k, v in source.state_dict().items()}
    cached = tmp_path / "th" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    cached.parent.mkdir(parents=True)
    torch.save(state, cached)
    model = models.resnet18(weights=models.ResNet18_Weights.IMAGENET1K_V1)
    np.testing.assert_array_equal(model.fc.weight.detach().numpy(), source.fc.weight.detach().numpy())


class _Evil:
    pass


def test_googlenet_weights_with_and_without_aux(tmp_path):
    glassgrad.manual_seed(0)
    with_aux = models.googlenet(num_classes=3)
    path = tmp_path / "g.safetensors"
    glassgrad.save(with_aux.state_dict(), path)
    model = models.googlenet(weights=path, num_classes=3)
    assert model.aux1 is None and model.transform_input and "aux1.fc2.weight" not in model.state_dict()
    kept = models.googlenet(weights=path, num_classes=3, aux_logits=True)
    assert kept.aux1 is not None and len(kept.state_dict()) == 364
    glassgrad.save(model.state_dict(), tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match="no auxiliary classifiers"):
        models.googlenet(weights=tmp_path / "plain.safetensors", aux_logits=True, num_classes=3)
    assert models.googlenet(weights=tmp_path / "plain.safetensors", num_classes=3).aux2 is None


def test_densenet_reads_the_published_key_names(tmp_path):
    source = models.densenet121(num_classes=2)
    state = {}
    for key, value in source.state_dict().items():
        # The published files say "denselayer1.norm.1.weight" for "denselayer1.norm1.weight".
        for part in ("norm1", "norm2", "conv1", "conv2"):
            key = key.replace(f".{part}.", f".{part[:-1]}.{part[-1]}.") if "denselayer" in key else key
        state[key] = value
    assert "features.denseblock1.denselayer1.norm.1.weight" in state
    glassgrad.save(state, tmp_path / "d.safetensors")
    model = models.densenet121(weights=tmp_path / "d.safetensors", num_classes=2)
    np.testing.assert_array_equal(
        model.features.denseblock1.denselayer1.norm1.weight.detach().numpy(),
        source.features.denseblock1.denselayer1.norm1.weight.detach().numpy(),
    )


def test_errors_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="downloads nothing"):
        models.resnet18(pretrained=True)
    with pytest.raises(ValueError, match="downloads nothing"):
        models.resnet50(weights="ResNet50_Weights.IMAGENET1K_V2")
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        models.vgg11(weights=tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a weights file at all")
    with pytest.raises(ValueError, match="bad.safetensors"):
        models.alexnet(weights=tmp_path / "bad.safetensors")
    with pytest.raises(ValueError, match="cifar_resnet18"):
        models.get_model("resnet18", in_channels=1, input_size=32)
    with pytest.raises(ValueError, match="takes no option 'depth'"):
        models.get_model("resnet18", depth=3)
    glassgrad.save(models.squeezenet1_1(num_classes=3).state_dict(), tmp_path / "s.safetensors")
    with pytest.raises(RuntimeError, match="classifier.1.weight"):
        models.squeezenet1_1(weights=tmp_path / "s.safetensors")  # 1000 classes asked, 3 stored


def _torchvision():
    try:
        import torch
        import torchvision
    except Exception as error:  # a torchvision built for another torch fails with more than ImportError
        pytest.skip(f"torchvision not importable ({type(error).__name__}: {error}); parity with it skipped")
    return torch, torchvision


# Small input: every architecture's adaptive pool makes the logits defined at 64x64.
PARITY = ["resnet18", "resnet50", "alexnet", "vgg11_bn", "googlenet", "mobilenet_v2", "densenet121", "squeezenet1_1"]


@pytest.mark.parametrize("name", PARITY)
def test_torchvision_state_dict_gives_torchvisions_logits(name, tmp_path):
    torch, torchvision = _torchvision()
    from safetensors.torch import save_file

    torch.manual_seed(0)
    options = {"aux_logits": True, "init_weights": True} if name == "googlenet" else {}
    reference = getattr(torchvision.models, name)(weights=None, **options)
    generator = torch.Generator().manual_seed(1)
    for module in reference.modules():
        if isinstance(module, torch.nn.BatchNorm2d):  # running statistics that matter
            module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
    path = tmp_path / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    model = models.get_model(name, **({"aux_logits": True} if name == "googlenet" else {}))
    missing, unexpected = model.load_state_dict(glassgrad.load(path), strict=False)
    assert missing == [] and unexpected == []
    loaded = models.get_model(name, weights=path)  # the builder path (googlenet: transform_input, no aux)
    x = torch.randn(2, 3, 64, 64, generator=generator, dtype=torch.float64)
    reference.eval().double()
    loaded.eval().double()
    if name == "googlenet":
        reference.transform_input = True
    with torch.no_grad():
        expected = reference(x).numpy()
    with glassgrad.no_grad():
        got = loaded(glassgrad.tensor(x.detach().numpy())).detach().numpy()
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got / scale, expected / scale, rtol=0, atol=1e-6)


def test_checkpoints_from_before_the_rename_rebuild_the_cifar_network():
    from glassgrad.train import model_from_checkpoint

    kwargs = {"num_classes": 10, "in_channels": 3, "input_size": [8, 8]}
    source = models.get_model("cifar_resnet18", **kwargs)
    state = {"model": source.state_dict(), "model_info": {"name": "resnet18", "kwargs": kwargs}}
    model = model_from_checkpoint(state)
    assert type(model).__name__ == "CifarResNet" and list(model.state_dict()) == list(source.state_dict())


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "mobilenet_v2", "densenet121", "squeezenet1_1"])
def test_from_torch_runs_torchvisions_own_classes(name):
    torch, torchvision = _torchvision()
    from glassgrad.interop import from_torch

    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)(weights=None).double().eval()
    model = from_torch(reference)  # torchvision's forward code, bound to glassgrad
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64))
    with torch.no_grad():
        expected = reference(torch.tensor(x)).numpy()
    with glassgrad.no_grad():
        got = model(glassgrad.tensor(x)).numpy()
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got / scale, expected / scale, rtol=0, atol=1e-10)
