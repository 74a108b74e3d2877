"""Lazy modules: uninitialized until the first call, then the regular layer, as PyTorch's."""

import numpy as np
import pytest

import glassgrad
from glassgrad import nn
from glassgrad.nn.parameter import UninitializedParameter

torch = pytest.importorskip("torch", reason="parity tests compare against PyTorch")

CASES = [
    ("LazyLinear", (5,), {}, (3, 4), "Linear"),
    ("LazyLinear", (5,), {"bias": False}, (2, 3, 7), "Linear"),
    ("LazyConv2d", (6, 3), {"padding": 1, "stride": 2}, (2, 4, 5, 5), "Conv2d"),
    ("LazyConv2d", (4, 2), {"groups": 2, "bias": False}, (6, 4, 4), "Conv2d"),
    ("LazyConv1d", (4, 3), {"dilation": 2}, (2, 3, 9), "Conv1d"),
    ("LazyBatchNorm1d", (), {}, (4, 3), "BatchNorm1d"),
    ("LazyBatchNorm1d", (), {"affine": False}, (4, 3, 5), "BatchNorm1d"),
    ("LazyBatchNorm2d", (), {"momentum": 0.3}, (4, 3, 2, 2), "BatchNorm2d"),
]


@pytest.mark.parametrize("name,args,kwargs,shape,becomes", CASES)
def test_lazy_module_becomes_regular_and_matches_torch(name, args, kwargs, shape, becomes, rng):
    tm = getattr(torch.nn, name)(*args, **kwargs).double()
    gm = getattr(nn, name)(*args, **kwargs).double()
    assert repr(gm) == repr(tm)
    assert gm.has_uninitialized_params()
    for p in gm.parameters():
        assert isinstance(p, UninitializedParameter)
    x = rng.normal(size=shape)
    with torch.no_grad():
        tm(torch.tensor(x))
    gm(glassgrad.tensor(x))
    assert type(gm) is getattr(nn, becomes) and type(tm) is getattr(torch.nn, becomes)
    assert repr(gm) == repr(tm)
    assert {k: tuple(v.shape) for k, v in gm.state_dict().items()} == {
        k: tuple(v.shape) for k, v in tm.state_dict().items()
    }
    for p in gm.parameters():
        assert type(p) is nn.Parameter and p.dtype == glassgrad.float64
    gm.load_state_dict({k: glassgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    tm.eval()
    gm.eval()
    np.testing.assert_allclose(
        gm(glassgrad.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-10
    )


def test_lazy_init_draws_as_the_regular_layer():
    glassgrad.manual_seed(3)
    lazy = nn.LazyLinear(4)
    lazy(glassgrad.zeros(2, 6))
    glassgrad.manual_seed(3)
    regular = nn.Linear(6, 4)
    np.testing.assert_array_equal(lazy.weight.detach().numpy(), regular.weight.detach().numpy())
    np.testing.assert_array_equal(lazy.bias.detach().numpy(), regular.bias.detach().numpy())
    bn = nn.LazyBatchNorm2d()
    bn(glassgrad.randn(2, 3, 2, 2))
    np.testing.assert_array_equal(bn.weight.detach().numpy(), np.ones(3, np.float32))
    assert bn.num_batches_tracked.item() == 1


def test_optimizer_built_before_the_first_call_trains_the_materialized_parameters():
    glassgrad.manual_seed(0)
    model = nn.Sequential(nn.LazyConv2d(2, 3), nn.Flatten(), nn.LazyLinear(1))
    params = list(model.parameters())
    opt = glassgrad.optim.SGD(params, lr=0.1)
    x = glassgrad.randn(4, 3, 5, 5)
    loss = model(x).pow(2).mean()
    assert [p is q for p, q in zip(params, model.parameters())] == [True] * 4
    before = model[2].weight.detach().numpy().copy()
    loss.backward()
    opt.step()
    assert not np.allclose(model[2].weight.detach().numpy(), before)
    assert tuple(model[2].weight.shape) == (1, 18)


def test_uninitialized_access_and_state_dict_loading():
    layer = nn.LazyLinear(3)
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
        _ = layer.weight.shape
    source = nn.Linear(5, 3)
    layer.load_state_dict(source.state_dict())
    assert type(layer) is nn.Linear and tuple(layer.weight.shape) == (3, 5)
    np.testing.assert_array_equal(layer.weight.detach().numpy(), source.weight.detach().numpy())
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(glassgrad.zeros(1, 3, 5, 5))
