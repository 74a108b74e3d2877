"""conv2d/conv1d and the Conv modules against PyTorch: outputs, input, weight and bias gradients,
in float32 and float64; state_dict keys, shapes and repr."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests skipped")

import glassgrad  # noqa: E402
from glassgrad import nn  # noqa: E402
from glassgrad.nn import functional as F  # noqa: E402

# PyTorch warns that it pads even kernels with 'same' by copying; that is its business, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-6, atol=1e-10)}

# (input shape, weight shape, stride, padding, dilation, groups, bias)
CASES = [
    ((2, 3, 8, 8), (5, 3, 3, 3), 1, 1, 1, 1, True),
    ((2, 3, 9, 7), (4, 3, 3, 2), (2, 1), (1, 0), 1, 1, False),
    ((1, 4, 10, 9), (6, 2, 3, 3), 2, 2, 2, 2, True),
    ((2, 4, 6, 6), (4, 1, 3, 3), 1, 1, 1, 4, True),
    ((2, 3, 7, 8), (4, 3, 2, 4), 1, "same", 1, 1, True),
    ((1, 2, 9, 9), (3, 2, 3, 3), 1, "same", (2, 1), 1, False),
    ((2, 3, 5, 5), (2, 3, 5, 5), 1, "valid", 1, 1, True),
    ((4, 16, 12, 12), (32, 16, 3, 3), 1, 1, 1, 1, True),  # big enough for a real GEMM
    ((8, 8, 24, 24), (16, 8, 3, 3), 1, 1, 1, 1, True),  # N*H*W >= 4096: products split among threads
    ((8, 8, 24, 24), (8, 4, 3, 3), 2, 1, 1, 2, False),
]


def run_both(xs, ws, bias, dtype, rng, g_fn, t_fn):
    x = rng.standard_normal(xs).astype(dtype)
    w = (rng.standard_normal(ws) * 0.3).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype) if bias else None
    gx, gw = glassgrad.tensor(x, requires_grad=True), glassgrad.tensor(w, requires_grad=True)
    gb = glassgrad.tensor(b, requires_grad=True) if bias else None
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True) if bias else None
    g_out, t_out = g_fn(gx, gw, gb), t_fn(tx, tw, tb)
    upstream = rng.standard_normal(tuple(t_out.shape)).astype(dtype)
    g_out.backward(glassgrad.tensor(upstream))
    t_out.backward(torch.tensor(upstream))
    assert tuple(g_out.shape) == tuple(t_out.shape)
    assert g_out.dtype == gx.grad.dtype == gw.grad.dtype == glassgrad.tensor(x).dtype
    close(g_out.detach().numpy(), t_out.detach().numpy(), dtype)
    close(gx.grad.numpy(), tx.grad.numpy(), dtype)
    close(gw.grad.numpy(), tw.grad.numpy(), dtype)
    if bias:
        close(gb.grad.numpy(), tb.grad.numpy(), dtype)


def close(actual, expected, dtype):
    """Relative tolerance per element, plus an absolute floor scaled to the array: a weight
    gradient sums thousands of float32 products, and for the few elements where they nearly
    cancel two correct summation orders differ by more than 1e-4 of the small result."""
    tol = TOL[dtype]
    floor = tol["rtol"] * float(np.abs(expected).max())
    np.testing.assert_allclose(
        actual, expected, rtol=tol["rtol"], atol=max(tol["atol"], floor if dtype == np.float32 else 0)
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_conv2d_parity(case, dtype, rng):
    xs, ws, stride, padding, dilation, groups, bias = case
    run_both(
        xs,
        ws,
        bias,
        dtype,
        rng,
        lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups),
        lambda x, w, b: torch.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "case",
    [
        ((2, 3, 11), (4, 3, 3), 1, 1, 1, 1, True),
        ((1, 4, 12), (2, 2, 4), 2, 1, 2, 2, False),
        ((2, 2, 9), (3, 2, 4), 1, "same", 1, 1, True),
    ],
)
def test_conv1d_parity(case, dtype, rng):
    xs, ws, stride, padding, dilation, groups, bias = case
    run_both(
        xs,
        ws,
        bias,
        dtype,
        rng,
        lambda x, w, b: F.conv1d(x, w, b, stride, padding, dilation, groups),
        lambda x, w, b: torch.nn.functional.conv1d(x, w, b, stride, padding, dilation, groups),
    )


def test_unbatched_parity(rng):
    x = rng.standard_normal((3, 6, 6))
    w = rng.standard_normal((2, 3, 3, 3))
    out = F.conv2d(glassgrad.tensor(x), glassgrad.tensor(w), padding=1)
    expected = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(in_channels=3, out_channels=8, kernel_size=3, padding=1),
        dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=2, dilation=(1, 2), groups=2, bias=False),
        dict(in_channels=2, out_channels=4, kernel_size=4, padding="same"),
    ],
)
def test_conv2d_module_parity(kwargs, rng):
    t_conv = torch.nn.Conv2d(**kwargs)
    g_conv = nn.Conv2d(**kwargs)
    assert repr(g_conv) == repr(t_conv)
    t_state = t_conv.state_dict()
    assert list(g_conv.state_dict()) == list(t_state)
    for key, value in g_conv.state_dict().items():
        assert tuple(value.shape) == tuple(t_state[key].shape)
    g_conv.load_state_dict({k: glassgrad.tensor(v.numpy()) for k, v in t_state.items()})
    x = rng.standard_normal((2, kwargs["in_channels"], 9, 9)).astype(np.float32)
    gx, tx = glassgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    g_out, t_out = g_conv(gx), t_conv(tx)
    np.testing.assert_allclose(g_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-4, atol=1e-5)
    (g_out**2).sum().backward()
    (t_out**2).sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (name, p), (t_name, tp) in zip(g_conv.named_parameters(), t_conv.named_parameters()):
        assert name == t_name
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_default_init_has_pytorchs_bounds():
    glassgrad.manual_seed(1)
    torch.manual_seed(1)
    g_conv, t_conv = nn.Conv2d(16, 32, 3), torch.nn.Conv2d(16, 32, 3)
    for g, t in ((g_conv.weight, t_conv.weight), (g_conv.bias, t_conv.bias)):
        g, t = g.detach().numpy(), t.detach().numpy()
        # Same uniform distribution: same bound (1/sqrt(144)), same spread within sampling noise.
        assert abs(np.abs(g).max() - np.abs(t).max()) < 0.01
        assert abs(g.std() - t.std()) < 0.1 * t.std()


def test_conv1d_module_parity(rng):
    t_conv = torch.nn.Conv1d(3, 5, 3, stride=2, padding=1)
    g_conv = nn.Conv1d(3, 5, 3, stride=2, padding=1)
    assert repr(g_conv) == repr(t_conv)
    g_conv.load_state_dict({k: glassgrad.tensor(v.numpy()) for k, v in t_conv.state_dict().items()})
    x = rng.standard_normal((2, 3, 10)).astype(np.float32)
    np.testing.assert_allclose(
        g_conv(glassgrad.tensor(x)).detach().numpy(), t_conv(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5
    )
