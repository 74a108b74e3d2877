"""Conv3d, MaxPool3d and AvgPool3d (+F): parity with PyTorch on values and gradients, gradcheck, reprs."""

import numpy as np
import pytest

import glassgrad
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.autograd import gradcheck

torch = pytest.importorskip("torch", reason="parity tests compare against PyTorch")


def _both(array):
    return torch.tensor(array, requires_grad=True), glassgrad.tensor(array, requires_grad=True)


def _compare(to, go, pairs, rng, tol=1e-10):
    assert tuple(go.shape) == tuple(to.shape)
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=tol, atol=tol)
    w = rng.normal(size=tuple(to.shape))
    (to * torch.tensor(w)).sum().backward()
    (go * glassgrad.tensor(w)).sum().backward()
    for t, g in pairs:
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "options,groups",
    [
        ({}, 1),
        ({"stride": (2, 1, 2), "padding": (1, 0, 1), "dilation": (1, 2, 1)}, 2),
        ({"padding": "same"}, 2),
        ({"padding": "valid", "stride": 2}, 1),
    ],
)
def test_conv3d_parity(options, groups, rng):
    x, w, b = rng.normal(size=(2, 4, 5, 6, 7)), rng.normal(size=(6, 4 // groups, 2, 3, 2)), rng.normal(size=6)
    (tx, gx), (tw, gw), (tb, gb) = _both(x), _both(w), _both(b)
    with pytest.warns(UserWarning) if options.get("padding") == "same" else _nothing():
        to = torch.nn.functional.conv3d(tx, tw, tb, groups=groups, **options)
    go = F.conv3d(gx, gw, gb, groups=groups, **options)
    _compare(to, go, [(tx, gx), (tw, gw), (tb, gb)], rng)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


POOLS = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": (3, 2, 2), "stride": (2, 1, 2), "padding": (1, 0, 1)},
    {"kernel_size": 2, "stride": 2, "ceil_mode": True},
]


@pytest.mark.parametrize("options", POOLS)
@pytest.mark.parametrize("dilation", [1, (2, 1, 1)])
def test_max_pool3d_parity(options, dilation, rng):
    tx, gx = _both(rng.normal(size=(2, 3, 5, 6, 7)))
    to = torch.nn.functional.max_pool3d(tx, dilation=dilation, **options)
    go = F.max_pool3d(gx, dilation=dilation, **options)
    _compare(to, go, [(tx, gx)], rng)


@pytest.mark.parametrize("options", POOLS)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("divisor_override", [None, 3])
def test_avg_pool3d_parity(options, count_include_pad, divisor_override, rng):
    tx, gx = _both(rng.normal(size=(2, 3, 5, 6, 7)))
    kw = dict(count_include_pad=count_include_pad, divisor_override=divisor_override, **options)
    _compare(torch.nn.functional.avg_pool3d(tx, **kw), F.avg_pool3d(gx, **kw), [(tx, gx)], rng)


def test_modules_unbatched_gradcheck_and_errors(rng):
    torch.manual_seed(0)
    tm = torch.nn.Conv3d(2, 3, 2, padding=1).double()
    gm = nn.Conv3d(2, 3, 2, padding=1).double()
    assert repr(gm) == repr(tm)
    gm.load_state_dict({k: glassgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = rng.normal(size=(2, 3, 4, 3))
    np.testing.assert_allclose(
        gm(glassgrad.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(), atol=1e-10
    )
    assert repr(nn.MaxPool3d(2)) == repr(torch.nn.MaxPool3d(2))
    assert repr(nn.AvgPool3d(3, 2, 1)) == repr(torch.nn.AvgPool3d(3, 2, 1))
    np.testing.assert_allclose(
        nn.MaxPool3d(2)(glassgrad.tensor(x)).numpy(), torch.nn.MaxPool3d(2)(torch.tensor(x)).numpy()
    )
    xs = glassgrad.tensor(rng.normal(size=(1, 2, 3, 3, 3)), requires_grad=True)
    ws = glassgrad.tensor(rng.normal(size=(2, 1, 2, 2, 2)), requires_grad=True)
    assert gradcheck(lambda x, w: F.conv3d(x, w, None, 1, 1, 1, 2), (xs, ws))
    assert gradcheck(lambda x: F.avg_pool3d(x, 2, 1, 1, count_include_pad=False), (xs,))
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.max_pool3d(xs, 2, padding=2)
    with pytest.raises(NotImplementedError, match="return_indices=True is not available"):
        F.max_pool3d(xs, 2, return_indices=True)


@pytest.mark.parametrize("batched", [True, False])
def test_1d_pooling_parity(batched, rng):
    shape = (2, 3, 11) if batched else (3, 11)
    for t_mod, g_mod in [
        (torch.nn.MaxPool1d(3, 2, 1, dilation=2, ceil_mode=True), nn.MaxPool1d(3, 2, 1, dilation=2, ceil_mode=True)),
        (torch.nn.AvgPool1d(3, 2, 1, count_include_pad=False), nn.AvgPool1d(3, 2, 1, count_include_pad=False)),
        (torch.nn.AvgPool1d(2, ceil_mode=True), nn.AvgPool1d(2, ceil_mode=True)),
        (torch.nn.AdaptiveAvgPool1d(4), nn.AdaptiveAvgPool1d(4)),
        (torch.nn.AdaptiveMaxPool1d(5), nn.AdaptiveMaxPool1d(5)),
    ]:
        assert repr(g_mod) == repr(t_mod)
        tx, gx = _both(rng.normal(size=shape))
        _compare(t_mod(tx), g_mod(gx), [(tx, gx)], rng)
    x = rng.normal(size=shape)
    t_out, t_idx = torch.nn.functional.max_pool1d(torch.tensor(x), 3, 2, 1, return_indices=True)
    g_out, g_idx = F.max_pool1d(glassgrad.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(g_idx.numpy(), t_idx.numpy())
    np.testing.assert_array_equal(g_out.numpy(), t_out.numpy())
    t_out, t_idx = torch.nn.functional.adaptive_max_pool1d(torch.tensor(x), 4, return_indices=True)
    g_out, g_idx = F.adaptive_max_pool1d(glassgrad.tensor(x), 4, return_indices=True)
    np.testing.assert_array_equal(g_idx.numpy(), t_idx.numpy())
