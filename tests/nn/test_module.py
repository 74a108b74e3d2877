"""The module system: registration, traversal, state dicts, modes, dtype moves, hooks, repr."""

from collections import OrderedDict

import numpy as np
import pytest

import glassgrad
from glassgrad import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.register_buffer("scale", glassgrad.ones(4))
        self.register_buffer("cache", glassgrad.zeros(2), persistent=False)

    def forward(self, x):
        return self.bn(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(4, 2))
        self.extra = nn.Parameter(glassgrad.zeros(2))

    def forward(self, x):
        return self.head(self.block(x)) + self.extra


def test_registration_and_traversal_names():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "extra",
        "block.fc.weight",
        "block.fc.bias",
        "block.bn.weight",
        "block.bn.bias",
        "head.1.weight",
        "head.1.bias",
    ]
    assert [n for n, _ in net.named_buffers()] == [
        "block.scale",
        "block.cache",
        "block.bn.running_mean",
        "block.bn.running_var",
        "block.bn.num_batches_tracked",
    ]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "block.bn", "head", "head.0", "head.1"]
    assert [n for n, _ in net.named_children()] == ["block", "head"]
    assert len(list(net.parameters())) == 7
    assert len(list(net.parameters(recurse=False))) == 1
    assert net.get_submodule("head.1") is net.head[1]
    assert net.get_parameter("block.fc.bias") is net.block.fc.bias
    assert net.get_buffer("block.bn.running_var") is net.block.bn.running_var


def test_shared_parameters_are_listed_once():
    a = nn.Linear(2, 2)
    seq = nn.Sequential(a, a)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_setattr_rules():
    m = nn.Module()
    m.w = nn.Parameter(glassgrad.ones(2))
    assert "w" in m._parameters and "w" not in m.__dict__
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        m.w = glassgrad.ones(2)
    m.w = None
    assert m.w is None and list(m.parameters()) == []
    m.register_buffer("b", glassgrad.zeros(1))
    m.b = glassgrad.ones(3)
    assert m._buffers["b"].shape == (3,)
    with pytest.raises(TypeError, match="buffer"):
        m.b = 3
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", glassgrad.zeros(1))
    del m.b
    assert "b" not in m._buffers
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nothing'"):
        _ = m.nothing


def test_state_dict_round_trip_and_sharing():
    glassgrad.manual_seed(0)
    src, dst = Net(), Net()
    sd = src.state_dict()
    assert "block.cache" not in sd  # non-persistent buffer
    assert sd["block.bn.num_batches_tracked"].dtype == glassgrad.int64
    assert not sd["block.fc.weight"].requires_grad
    assert np.shares_memory(sd["block.fc.weight"].array, src.block.fc.weight.array)
    result = dst.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for (n1, t1), (n2, t2) in zip(src.state_dict().items(), dst.state_dict().items()):
        assert n1 == n2
        np.testing.assert_array_equal(t1.array, t2.array)
    # Copies, not aliases: changing the source later leaves the destination alone.
    with glassgrad.no_grad():
        src.block.fc.weight.fill_(7.0)
    assert not np.any(dst.block.fc.weight.array == 7.0)
    assert dst.block.fc.weight.requires_grad


def test_load_state_dict_strict_errors_and_non_strict_report():
    net = Net()
    sd = net.state_dict()
    del sd["head.1.bias"]
    sd["head.2.weight"] = glassgrad.zeros(1)
    with pytest.raises(RuntimeError) as info:
        Net().load_state_dict(sd)
    message = str(info.value)
    assert "Error(s) in loading state_dict for Net" in message
    assert 'Missing key(s) in state_dict: "head.1.bias"' in message
    assert 'Unexpected key(s) in state_dict: "head.2.weight"' in message
    missing, unexpected = Net().load_state_dict(sd, strict=False)
    assert missing == ["head.1.bias"] and unexpected == ["head.2.weight"]


def test_load_state_dict_shape_mismatch():
    sd = nn.Linear(3, 5).state_dict()
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with shape .*\[5, 3\]"):
        nn.Linear(3, 4).load_state_dict(sd, strict=False)


def test_batchnorm_accepts_state_dict_without_num_batches_tracked():
    bn = nn.BatchNorm2d(3)
    sd = bn.state_dict()
    del sd["num_batches_tracked"]
    assert nn.BatchNorm2d(3).load_state_dict(sd).missing_keys == []


def test_train_eval_propagate():
    net = Net()
    assert net.training and net.head[0].training
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError):
        net.train("yes")


def test_zero_grad_and_requires_grad():
    lin = nn.Linear(2, 2)
    lin(glassgrad.ones(1, 2)).sum().backward()
    assert lin.weight.grad is not None
    lin.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(lin.weight.grad.array, 0)
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None
    lin.requires_grad_(False)
    assert not lin.weight.requires_grad


def test_apply_and_to_keep_parameter_identity():
    net = Net()
    weight = net.block.fc.weight
    visited = []
    net.apply(lambda m: visited.append(type(m).__name__))
    assert visited[-1] == "Net" and visited[0] == "Linear"
    net.double()
    assert net.block.fc.weight is weight and weight.dtype == glassgrad.float64
    assert net.block.bn.running_mean.dtype == glassgrad.float64
    assert net.block.bn.num_batches_tracked.dtype == glassgrad.int64
    net.to("cpu", glassgrad.float32)
    assert weight.dtype == glassgrad.float32
    assert net.to(glassgrad.device("cpu")) is net
    with pytest.raises(RuntimeError, match="cuda"):
        net.to("cuda")
    with pytest.raises(TypeError):
        net.to(glassgrad.int64)


def test_repr_like_pytorch():
    expected = (
        "Net(\n"
        "  (block): Block(\n"
        "    (fc): Linear(in_features=3, out_features=4, bias=True)\n"
        "    (bn): BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)\n"
        "  )\n"
        "  (head): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Linear(in_features=4, out_features=2, bias=True)\n"
        "  )\n"
        ")"
    )
    assert repr(Net()) == expected
    assert repr(nn.Dropout(0.2)) == "Dropout(p=0.2, inplace=False)"


def test_forward_hooks_modify_input_and_output():
    lin = nn.Linear(2, 2)
    seen = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: seen.append(args[0].array.copy()) or out + 1)
    out = lin(glassgrad.ones(1, 2))
    np.testing.assert_allclose(out.array, lin.bias.array[None] + 1, rtol=1e-6)
    np.testing.assert_array_equal(seen[0], 0)
    h1.remove()
    h2.remove()
    np.testing.assert_allclose(
        lin(glassgrad.ones(1, 2)).array, lin.weight.array.sum(1)[None] + lin.bias.array, rtol=1e-6
    )
    assert len(seen) == 1


def test_forward_hooks_with_kwargs_and_prepend():
    lin = nn.Linear(2, 2)
    order = []
    lin.register_forward_hook(lambda m, a, o: order.append("second"))
    lin.register_forward_hook(lambda m, a, o: order.append("first"), prepend=True)
    lin.register_forward_pre_hook(lambda m, a, kw: (a, kw), with_kwargs=True)
    lin(glassgrad.ones(1, 2))
    assert order == ["first", "second"]


def test_full_backward_hook_sees_input_and_output_gradients():
    glassgrad.manual_seed(0)
    lin = nn.Linear(3, 2)
    captured = {}

    def hook(module, grad_input, grad_output):
        captured["in"] = grad_input[0].array.copy()
        captured["out"] = grad_output[0].array.copy()

    lin.register_full_backward_hook(hook)
    x = glassgrad.randn(4, 3, requires_grad=True)
    out = lin(x)
    (out * glassgrad.tensor([[1.0, 2.0]])).sum().backward()
    np.testing.assert_allclose(captured["out"], np.tile([1.0, 2.0], (4, 1)))
    np.testing.assert_allclose(captured["in"], captured["out"] @ lin.weight.array, rtol=1e-6)
    np.testing.assert_allclose(x.grad.array, captured["in"], rtol=1e-6)


def test_full_backward_hook_input_without_grad_and_replacement():
    lin = nn.Linear(3, 2)
    calls = []
    lin.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go[0].shape)))
    lin(glassgrad.ones(2, 3)).sum().backward()
    assert calls == [((None,), (2, 2))]

    relu = nn.ReLU()
    relu.register_full_backward_hook(lambda m, gi, go: (gi[0] * 3,))
    x = glassgrad.tensor([1.0, -1.0, 2.0], requires_grad=True)
    relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [3.0, 0.0, 3.0])


def test_backward_pre_hook_and_removal():
    relu = nn.ReLU()
    handle = relu.register_full_backward_pre_hook(lambda m, go: (go[0] * 10,))
    x = glassgrad.tensor([1.0, 2.0], requires_grad=True)
    relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [10.0, 10.0])
    handle.remove()
    x.grad = None
    relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [1.0, 1.0])


def test_missing_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match='missing the required "forward"'):
        nn.Module()(glassgrad.ones(1))


def test_sequential_indexing_and_editing():
    a, b, c = nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and list(tail._modules) == ["1", "2"]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and isinstance(seq[3], nn.Sigmoid)
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and seq[1] is c
    seq[0] = nn.Identity()
    assert isinstance(seq[0], nn.Identity)
    with pytest.raises(IndexError):
        seq[5]
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.Tanh())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    assert named(glassgrad.ones(4, 2)).shape == (4, 3)


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.Linear(2, 1))
    assert len(layers) == 4 and len(list(layers.parameters())) == 8
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    layers.insert(0, nn.ReLU())
    assert isinstance(layers[0], nn.ReLU) and len(layers) == 5
    del layers[0]
    assert list(layers._modules) == ["0", "1", "2", "3"]
    d = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    assert "a" in d and list(d.keys()) == ["a", "b"] and len(d) == 2
    assert list(d.state_dict()) == ["a.weight", "a.bias"]
    d.pop("a")
    assert list(d) == ["b"]


def test_parameter_list_and_dict():
    plist = nn.ParameterList([nn.Parameter(glassgrad.ones(2)), glassgrad.zeros(3)])
    assert len(plist) == 2 and isinstance(plist[1], nn.Parameter)
    assert [n for n, _ in plist.named_parameters()] == ["0", "1"]
    pdict = nn.ParameterDict({"w": glassgrad.ones(1)})
    assert list(pdict.state_dict()) == ["w"]


def test_flatten_unflatten_identity():
    x = glassgrad.arange(24.0).reshape(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Unflatten(1, (3, 4))(nn.Flatten()(x)).shape == (2, 3, 4)
    assert nn.Identity(5, key=1)(x) is x


def test_deepcopy_makes_an_independent_model():
    import copy

    net = Net()
    net(glassgrad.randn(4, 3)).sum().backward()
    twin = copy.deepcopy(net)
    assert isinstance(twin.block.fc.weight, nn.Parameter) and twin.block.fc.weight.requires_grad
    assert twin.block.fc.weight is not net.block.fc.weight
    np.testing.assert_array_equal(twin.block.fc.weight.grad.array, net.block.fc.weight.grad.array)
    with glassgrad.no_grad():
        twin.block.fc.weight.fill_(0.0)
    assert np.any(net.block.fc.weight.array != 0)
    shared = nn.Linear(2, 2)
    pair = copy.deepcopy(nn.Sequential(shared, shared))
    assert pair[0] is pair[1] and len(list(pair.parameters())) == 2


def test_always_called_forward_hook_runs_when_forward_raises():
    lin = nn.Linear(2, 2)
    calls = []
    lin.register_forward_hook(lambda m, a, out: calls.append(out), always_call=True)
    lin.register_forward_hook(lambda m, a, out: calls.append("not always"))
    with pytest.raises(RuntimeError, match="in_features"):
        lin(glassgrad.ones(1, 3))
    assert calls == [None]


def test_load_state_dict_assign_takes_the_tensors():
    lin = nn.Linear(2, 3)
    weight = glassgrad.ones(3, 2, dtype=glassgrad.float64)
    lin.load_state_dict({"weight": weight, "bias": glassgrad.zeros(3)}, assign=True)
    assert isinstance(lin.weight, nn.Parameter) and lin.weight.requires_grad
    assert lin.weight.dtype == glassgrad.float64
    assert np.shares_memory(lin.weight.array, weight.array)
    bn = nn.BatchNorm1d(3)
    running = glassgrad.full((3,), 2.0)
    bn.load_state_dict(dict(bn.state_dict(), running_var=running), assign=True)
    assert bn.running_var is running
