"""ONNX export: every zoo model passes onnx.checker and runs in onnxruntime with glassgrad's numbers."""

import numpy as np
import pytest

import glassgrad
import glassgrad.onnx
from glassgrad import nn
from glassgrad.nn import functional as F
from glassgrad.vision.models import MODELS, TORCHVISION_MODELS, get_model

onnx = pytest.importorskip("onnx", reason="the onnx package is not installed (pip install onnx)")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")


def _run(path, array, name="input"):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: array})


def _trained_statistics(model, shape):
    """Running statistics from a few training-mode batches, as a trained model has them."""
    model.train()
    with glassgrad.no_grad():
        for _ in range(2):
            model(glassgrad.randn(*shape))
    model.eval()


def _close(got, expected):
    scale = max(1.0, float(np.abs(expected).max()))
    return float(np.abs(got - expected).max()) / scale


@pytest.mark.parametrize("name", list(MODELS))
def test_zoo_model_exports_and_runs_in_onnxruntime(name, tmp_path):
    glassgrad.manual_seed(0)
    model = get_model(name, num_classes=10, in_channels=3, input_size=32)
    _trained_statistics(model, (4, 3, 32, 32))
    path = tmp_path / f"{name}.onnx"
    axes = {"input": {0: "batch"}, "output": {0: "batch"}}
    glassgrad.onnx.export(model, glassgrad.randn(2, 3, 32, 32), path, dynamic_axes=axes)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    # Another batch size than the traced one: the batch axis is dynamic.
    probe = glassgrad.randn(3, 3, 32, 32)
    with glassgrad.no_grad():
        expected = model(probe).numpy()
    (got,) = _run(path, probe.numpy())
    assert got.shape == expected.shape
    assert _close(got, expected) < 1e-5


class _Everything(nn.Module):
    """The ops a zoo network does not all use: functional calls, slicing, cat, pad, upsample."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2)
        self.dilated = nn.Conv2d(6, 6, 3, padding=2, dilation=2, bias=False)
        self.lrn = nn.LocalResponseNorm(3)
        self.prelu = nn.PReLU(6)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        y = self.prelu(self.lrn(self.conv(x)))
        y = F.gelu(self.dilated(y)) + F.silu(y) * 0.5 - F.hardswish(y) / 3
        joined = glassgrad.cat([y[:, :3], F.leaky_relu(y[:, 3:], 0.2)], dim=1)
        z = F.pad(joined, (1, 0, 0, 1), value=0.25)
        z = F.interpolate(z, scale_factor=2, mode="bilinear", align_corners=False)
        z = F.interpolate(z, size=(9, 7), mode="nearest")
        z = F.max_pool2d(z, 3, stride=2, padding=1, ceil_mode=True)
        z = F.avg_pool2d(z, 2, ceil_mode=False).flatten(1)
        y = F.adaptive_avg_pool2d(joined, (3, 2)).flatten(1)[:, :8]
        y = self.norm(y.clamp(-2, 2)).tanh() + y.sigmoid() * F.elu(y) + F.softplus(y, beta=2)
        return F.log_softmax(self.head(y), dim=1), F.hardtanh(y, -0.5, 0.5).mean(dim=1), z


def test_functional_ops_and_two_outputs_match(tmp_path):
    glassgrad.manual_seed(1)
    model = _Everything()
    x = glassgrad.randn(2, 4, 12, 10)
    path = tmp_path / "everything.onnx"
    names = ["logp", "level", "pooled"]
    proto = glassgrad.onnx.export(model, x, path, input_names=["image"], output_names=names, opset_version=18)
    ops = {node.op_type for node in proto.graph.node}
    assert {"Conv", "LRN", "PRelu", "Erf", "Concat", "Pad", "Gather", "MaxPool", "AveragePool", "MatMul"} <= ops
    assert {"LayerNormalization", "Clip", "Softplus", "LogSoftmax", "ReduceMean", "Slice"} <= ops
    with glassgrad.no_grad():
        expected = model(x)
    got = _run(path, x.numpy(), name="image")
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        assert _close(g, e.numpy()) < 1e-5


@pytest.mark.parametrize("opset", [13, 17, 21])
def test_reductions_in_each_opset_signature(opset, tmp_path):
    class Reduce(nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3)) + x.amax(dim=(2, 3)) + x.sum(dim=3).sum(dim=2) * 0.1

    x = glassgrad.randn(2, 3, 4, 5)
    path = tmp_path / "reduce.onnx"
    glassgrad.onnx.export(Reduce(), x, path, opset_version=opset)
    (got,) = _run(path, x.numpy())
    np.testing.assert_allclose(got, Reduce()(x).numpy(), rtol=1e-5, atol=1e-6)


def test_unsupported_op_is_named(tmp_path):
    class Sorted(nn.Module):
        def forward(self, x):
            return glassgrad.cumsum(x, dim=1) if hasattr(glassgrad, "cumsum") else x.var(dim=1)

    with pytest.raises(glassgrad.onnx.OnnxExportError, match=r"the op \w+ .*has no ONNX converter.*Convolution"):
        glassgrad.onnx.export(Sorted(), glassgrad.randn(2, 3), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_training_mode_dropout_and_batch_statistics_are_refused(tmp_path):
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3, track_running_stats=False))
    with pytest.raises(glassgrad.onnx.OnnxExportError, match="batch statistics"):
        glassgrad.onnx.export(model, glassgrad.randn(4, 3), tmp_path / "bn.onnx")


def test_value_computed_outside_glassgrad_is_refused(tmp_path):
    class Sneaky(nn.Module):
        def forward(self, x):
            return glassgrad.from_numpy(x.numpy()[:, ::-1]) * 2

    with pytest.raises(glassgrad.onnx.OnnxExportError, match="derived from the model's input"):
        glassgrad.onnx.export(Sneaky(), glassgrad.randn(2, 3), tmp_path / "s.onnx")


def test_initializers_are_named_as_in_the_state_dict(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(inplace=True))
    _trained_statistics(model, (2, 1, 5, 5))
    proto = glassgrad.onnx.export(model, glassgrad.randn(1, 1, 5, 5), tmp_path / "m.onnx")
    names = {init.name for init in proto.graph.initializer}
    assert {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"} <= names
    assert [node.op_type for node in proto.graph.node] == ["Conv", "BatchNormalization", "Relu", "Identity"]
    stored = {init.name: onnx.numpy_helper.to_array(init) for init in proto.graph.initializer}
    np.testing.assert_array_equal(stored["1.running_var"], model[1].running_var.numpy())


def test_missing_onnx_says_what_to_install(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'glassgrad\[onnx\]'"):
        glassgrad.onnx.export(nn.Linear(2, 2), glassgrad.randn(1, 2), tmp_path / "l.onnx")


def test_export_command_writes_and_checks(tmp_path, capsys):
    from glassgrad.cli import main

    run = tmp_path / "run"
    assert main(["train", "--model", "lenet5", "--epochs", "1", "--limit", "64", "--quiet", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["export", str(run / "checkpoint.pt"), "--format", "onnx"]) == 0
    out = capsys.readouterr().out
    assert (run / "model.onnx").exists()
    assert "checked with onnxruntime" in out
    difference = float(out.rsplit("glassgrad ", 1)[1])
    assert difference < 1e-5


# torchvision's ImageNet architectures, at 64x64 (their adaptive pooling takes any size).
TORCHVISION = list(TORCHVISION_MODELS)


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_architecture_exports_and_runs_in_onnxruntime(name, tmp_path):
    glassgrad.manual_seed(0)
    model = TORCHVISION_MODELS[name][0](num_classes=10)
    _trained_statistics(model, (2, 3, 64, 64))
    path = tmp_path / f"{name}.onnx"
    glassgrad.onnx.export(model, glassgrad.randn(1, 3, 64, 64), path, dynamic_axes={"input": {0: "batch"}})
    probe = glassgrad.randn(2, 3, 64, 64)
    with glassgrad.no_grad():
        expected = model(probe).numpy()
    (got,) = _run(path, probe.numpy())
    assert _close(got, expected) < 1e-5
