"""glassgrad.interop: modules to torch and back with the same names, weights and outputs (float64),
and tensors shared through DLPack and NumPy without copies."""

import numpy as np
import pytest

import glassgrad
from glassgrad import nn
from glassgrad.vision import models

torch = pytest.importorskip("torch", reason="PyTorch not installed: interop tests skipped")
from glassgrad.interop import from_torch, to_torch  # noqa: E402

# One per family of the zoo, small where the constructor allows; (name, options, input shape).
ZOO = [
    ("simple_cnn", {"activation": "relu", "batch_norm": True}, (2, 3, 32, 32)),
    ("lenet5", {"input_size": 28}, (2, 1, 28, 28)),
    ("cifar_alexnet", {"input_size": 16, "hidden": 32, "lrn": True}, (2, 3, 16, 16)),
    ("nin", {"input_size": 8}, (2, 3, 8, 8)),
    ("cifar_vgg11_bn", {"input_size": 8}, (2, 3, 8, 8)),
    ("cifar_googlenet", {"input_size": 8}, (2, 3, 8, 8)),
    ("resnet20", {"input_size": 8}, (2, 3, 8, 8)),
    ("cifar_resnet18", {"input_size": 8}, (2, 3, 8, 8)),
    ("resnet18", {"num_classes": 7}, (1, 3, 32, 32)),
    ("resnet50", {"num_classes": 7}, (1, 3, 32, 32)),
    ("googlenet", {"num_classes": 7}, (1, 3, 32, 32)),
    ("mobilenet_v2", {"num_classes": 7}, (1, 3, 32, 32)),
    ("densenet121", {"num_classes": 7}, (1, 3, 32, 32)),
    ("squeezenet1_1", {"num_classes": 7}, (1, 3, 64, 64)),
]


def _randomise_statistics(model, rng):
    # Running statistics away from 0/1, so that batch norms take part in the comparison.
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.array[...] = rng.standard_normal(module.running_mean.shape) * 0.1
            module.running_var.array[...] = rng.uniform(0.5, 1.5, module.running_var.shape)


@pytest.mark.parametrize("name, options, shape", ZOO, ids=[z[0] for z in ZOO])
def test_round_trip_gives_the_same_outputs(name, options, shape):
    rng = np.random.default_rng(0)
    glassgrad.manual_seed(0)
    model = models.get_model(name, **options)
    _randomise_statistics(model, rng)
    model = model.double().eval()
    converted = to_torch(model)
    assert isinstance(converted, torch.nn.Module) and type(converted).__name__ == type(model).__name__
    ours, theirs = model.state_dict(), converted.state_dict()
    assert list(ours) == list(theirs)
    for key, value in ours.items():
        np.testing.assert_array_equal(theirs[key].numpy(), value.detach().numpy(), err_msg=key)
    assert not converted.training
    x = rng.standard_normal(shape)
    with glassgrad.no_grad():
        expected = model(glassgrad.tensor(x)).numpy()
    with torch.no_grad():
        got = converted(torch.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    back = from_torch(converted)
    assert type(back) is type(model) and list(back.state_dict()) == list(ours)
    with glassgrad.no_grad():
        np.testing.assert_array_equal(back(glassgrad.tensor(x)).numpy(), expected)


def test_leaf_layers_keep_their_constructor_arguments():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, dilation=1, groups=1, bias=False),
        nn.BatchNorm2d(8, eps=1e-3, momentum=0.3),
        nn.ReLU6(inplace=True),
        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 5),
    )
    converted = to_torch(model)
    conv, bn, _, pool, drop, _, linear = converted
    assert (conv.stride, conv.padding, conv.bias) == ((2, 2), (1, 1), None)
    assert (bn.eps, bn.momentum, pool.ceil_mode, drop.p, linear.out_features) == (1e-3, 0.3, True, 0.25, 5)
    assert isinstance(converted[2], torch.nn.ReLU6) and converted[2].inplace


def test_from_torch_rebinds_a_torch_class_to_glassgrad():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh())
            self.head = torch.nn.Linear(6, 2)
            self.scale = 0.5

        def forward(self, x):
            h = torch.cat([self.body(x), self.body(-x)], 0)
            return torch.nn.functional.softmax(self.head(h) * self.scale, dim=1)

    reference = Net().double()
    model = from_torch(reference)
    assert isinstance(model, nn.Module) and isinstance(model.body[1], nn.Tanh) and model.scale == 0.5
    x = np.random.default_rng(1).standard_normal((3, 4))
    with torch.no_grad():
        expected = reference(torch.tensor(x)).numpy()
    with glassgrad.no_grad():
        got = model(glassgrad.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    with pytest.raises(TypeError, match="made by glassgrad.interop"):
        type(model)()


def test_gradients_flow_in_the_converted_module():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    converted = to_torch(model)
    converted(torch.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in converted.parameters())
    assert all(p.requires_grad for p in converted.parameters())


def test_layers_without_a_counterpart_are_named():
    with pytest.raises(TypeError, match=r"mix: torch.nn.Bilinear has no counterpart in glassgrad.nn"):
        from_torch(_with_bilinear())
    with pytest.raises(TypeError, match="expected a glassgrad.nn.Module, got int"):
        to_torch(3)


def _with_bilinear():
    holder = torch.nn.Module()
    holder.mix = torch.nn.Bilinear(2, 3, 4)
    return holder


def test_a_torch_lstm_runs_in_glassgrad():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(2, 3, num_layers=2).double()
    x = torch.randn(4, 1, 2, dtype=torch.float64)
    ours = from_torch(lstm)
    np.testing.assert_allclose(
        ours(glassgrad.from_numpy(x.numpy()))[0].detach().numpy(), lstm(x)[0].detach().numpy(), rtol=1e-12, atol=1e-14
    )


def test_dlpack_shares_memory_both_ways():
    t = glassgrad.arange(6.0).reshape(2, 3)
    shared = torch.from_dlpack(t)
    shared[0, 0] = 42.0
    assert t[0, 0].item() == 42.0 and t.__dlpack_device__() == (1, 0)
    back = glassgrad.from_dlpack(shared)
    assert np.shares_memory(back.numpy(), t.numpy())
    source = torch.zeros(3)
    view = glassgrad.from_dlpack(source)
    source += 1
    np.testing.assert_array_equal(view.numpy(), [1.0, 1.0, 1.0])
    assert np.shares_memory(torch.from_numpy(t.numpy()).numpy(), t.numpy())
    with pytest.raises(RuntimeError, match="detach"):
        glassgrad.from_dlpack(torch.ones(2, requires_grad=True))
    with pytest.raises(RuntimeError, match="require gradient"):
        torch.from_dlpack(glassgrad.ones(2, requires_grad=True))
    with pytest.raises(TypeError, match="expects an object with __dlpack__"):
        glassgrad.from_dlpack([1, 2])


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: nn.GRU(3, 4, batch_first=True), (2, 5, 3)),
        (lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True), (5, 2, 3)),
        (lambda: nn.RNN(3, 4, nonlinearity="relu"), (5, 2, 3)),
    ],
)
def test_recurrent_layers_round_trip(make, shape):
    glassgrad.manual_seed(0)
    ours = make().double()
    theirs = to_torch(ours)
    x = glassgrad.randn(*shape, dtype=glassgrad.float64)
    expected = ours(x)[0].detach().numpy()
    np.testing.assert_allclose(
        theirs(torch.from_numpy(x.numpy()))[0].detach().numpy(), expected, rtol=1e-12, atol=1e-14
    )
    np.testing.assert_array_equal(from_torch(theirs)(x)[0].detach().numpy(), expected)


def test_multihead_attention_round_trips():
    glassgrad.manual_seed(0)
    ours = nn.MultiheadAttention(8, 2).double()
    theirs = to_torch(ours)
    q = glassgrad.randn(4, 2, 8, dtype=glassgrad.float64)
    expected = ours(q, q, q)[0].detach().numpy()
    t = torch.from_numpy(q.numpy())
    np.testing.assert_allclose(theirs(t, t, t)[0].detach().numpy(), expected, rtol=1e-12, atol=1e-14)
