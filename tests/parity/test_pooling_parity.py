"""Pooling against PyTorch: values, indices and input gradients in float32 and float64, ties and NaN
included, plus the modules' repr."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests skipped")
TF = torch.nn.functional

import glassgrad  # noqa: E402
from glassgrad import nn  # noqa: E402
from glassgrad.nn import functional as F  # noqa: E402

TOL = {np.float32: dict(rtol=1e-4, atol=1e-6), np.float64: dict(rtol=1e-6, atol=1e-12)}


def compare(g_fn, t_fn, x, rng, indices=False):
    gx, tx = glassgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    g_out, t_out = g_fn(gx), t_fn(tx)
    if indices:
        (g_out, g_idx), (t_out, t_idx) = g_out, t_out
        np.testing.assert_array_equal(g_idx.numpy(), t_idx.numpy())
    upstream = rng.standard_normal(tuple(t_out.shape)).astype(x.dtype)
    g_out.backward(glassgrad.tensor(upstream))
    t_out.backward(torch.tensor(upstream))
    tol = TOL[x.dtype.type]
    assert g_out.dtype == gx.grad.dtype == glassgrad.tensor(x).dtype
    np.testing.assert_allclose(g_out.detach().numpy(), t_out.detach().numpy(), **tol)
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), **tol)


MAX_CASES = [
    ((4, 3, 8, 8), 2, None, 0, 1, False),
    ((2, 3, 9, 7), 2, None, 0, 1, False),
    ((2, 3, 9, 9), 3, 2, 1, 1, False),
    ((2, 3, 10, 9), 3, 2, 1, 1, True),
    ((2, 2, 11, 10), (3, 2), (2, 1), (1, 1), (2, 1), True),
    ((2, 2, 8, 8), 3, 1, 1, 1, False),
    ((1, 2, 9, 9), 2, 3, 1, 1, True),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", MAX_CASES)
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool2d_parity(case, dtype, ties, rng):
    xs, k, s, p, d, ceil = case
    x = rng.standard_normal(xs)
    if ties:  # few distinct values: many windows hold their maximum more than once
        x = np.round(x)
    x = x.astype(dtype)
    compare(
        lambda a: F.max_pool2d(a, k, s, p, d, ceil, return_indices=True),
        lambda a: TF.max_pool2d(a, k, s, p, d, ceil, return_indices=True),
        x,
        rng,
        indices=True,
    )


def test_max_pool2d_nan_parity(rng):
    x = np.round(rng.standard_normal((2, 2, 8, 8))).astype(np.float32)
    x[rng.random(x.shape) < 0.15] = np.nan
    g_out, g_idx = F.max_pool2d(glassgrad.tensor(x), 3, 2, 1, return_indices=True)
    t_out, t_idx = TF.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(g_out.numpy(), t_out.numpy())  # NaN == NaN for assert_array_equal
    np.testing.assert_array_equal(g_idx.numpy(), t_idx.numpy())


AVG_CASES = [
    ((4, 3, 8, 8), 2, None, 0, False, True, None),
    ((2, 3, 9, 9), 3, 2, 1, False, True, None),
    ((2, 3, 9, 9), 3, 2, 1, False, False, None),
    ((2, 3, 10, 9), 3, 2, 1, True, True, None),
    ((2, 3, 10, 9), 3, 2, 1, True, False, None),
    ((2, 2, 11, 10), (3, 2), (2, 1), (1, 0), True, False, None),
    ((2, 2, 7, 7), 3, 1, 1, False, True, 3),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool2d_parity(case, dtype, rng):
    xs, k, s, p, ceil, include, override = case
    x = rng.standard_normal(xs).astype(dtype)
    compare(
        lambda a: F.avg_pool2d(a, k, s, p, ceil, include, override),
        lambda a: TF.avg_pool2d(a, k, s, p, ceil, include, override),
        x,
        rng,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, (2, 3), (3, 5), (4, 4), (None, 3), (9, 11)])
def test_adaptive_pools_parity(size, dtype, rng):
    x = rng.standard_normal((2, 3, 8, 7)).astype(dtype)
    compare(lambda a: F.adaptive_avg_pool2d(a, size), lambda a: TF.adaptive_avg_pool2d(a, size), x, rng)
    compare(
        lambda a: F.adaptive_max_pool2d(a, size, return_indices=True),
        lambda a: TF.adaptive_max_pool2d(a, size, return_indices=True),
        np.round(x * 2),
        rng,
        indices=True,
    )


def test_module_reprs_and_outputs(rng):
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    pairs = [
        (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
        (nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
        (nn.AvgPool2d(3, 2, 1, count_include_pad=False), torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False)),
        (nn.AdaptiveAvgPool2d((2, 2)), torch.nn.AdaptiveAvgPool2d((2, 2))),
        (nn.AdaptiveMaxPool2d(4), torch.nn.AdaptiveMaxPool2d(4)),
    ]
    for g_mod, t_mod in pairs:
        assert repr(g_mod) == repr(t_mod)
        np.testing.assert_allclose(
            g_mod(glassgrad.tensor(x)).numpy(), t_mod(torch.tensor(x)).numpy(), rtol=1e-4, atol=1e-6
        )
