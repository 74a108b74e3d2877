"""ConvTranspose1d/2d and F.conv_transpose1d/2d: parity with PyTorch on values and all gradients
(float64 and float32, every algorithm), gradcheck, output_size, init, repr and errors."""

import numpy as np
import pytest

import glassgrad
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.autograd import gradcheck
from glassgrad.backends import conv as backends_conv

torch = pytest.importorskip("torch", reason="parity tests compare against PyTorch")

# (C_in, C_out, groups, kernel, stride, padding, dilation, output_padding, H)
CASES_2D = [
    (4, 6, 2, 3, 2, 1, 1, 1, 5),
    (3, 2, 1, (2, 3), (1, 2), (0, 1), (2, 1), (1, 1), 6),
    (2, 3, 1, 1, 1, 0, 1, 0, 4),
    (2, 2, 1, 3, 3, 0, 1, 2, 4),  # output_padding beyond the padding: rows that get only the bias
    (4, 4, 4, 3, 2, 2, 2, 1, 5),
    (3, 16, 1, 3, 1, 1, 1, 0, 20),
]


def _both(array):
    return torch.tensor(array, requires_grad=True), glassgrad.tensor(array, requires_grad=True)


@pytest.mark.parametrize("case", CASES_2D)
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 2e-4)])
@pytest.mark.parametrize("algorithm", ["auto", "im2col"])
def test_conv_transpose2d_parity(case, dtype, tol, algorithm, rng):
    c_in, c_out, groups, k, s, p, d, op, h = case
    kernel = k if isinstance(k, tuple) else (k, k)
    arrays = [
        rng.normal(size=(2, c_in, h, h + 1)).astype(dtype),
        rng.normal(size=(c_in, c_out // groups, *kernel)).astype(dtype),
        rng.normal(size=c_out).astype(dtype),
    ]
    (tx, gx), (tw, gw), (tb, gb) = (_both(a) for a in arrays)
    to = torch.nn.functional.conv_transpose2d(tx, tw, tb, s, p, op, groups, d)
    with backends_conv.flags(algorithm):
        go = F.conv_transpose2d(gx, gw, gb, s, p, op, groups, d)
        np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=tol, atol=tol)
        r = rng.normal(size=tuple(to.shape)).astype(dtype)
        (to * torch.tensor(r)).sum().backward()
        (go * glassgrad.tensor(r)).sum().backward()
    for t, g in ((tx, gx), (tw, gw), (tb, gb)):
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("case", [(3, 4, 1, 3, 2, 1, 1, 1, 7), (4, 2, 2, 2, 1, 0, 3, 2, 5)])
def test_conv_transpose1d_parity_and_unbatched(case, rng):
    c_in, c_out, groups, k, s, p, d, op, length = case
    arrays = [rng.normal(size=(2, c_in, length)), rng.normal(size=(c_in, c_out // groups, k)), rng.normal(size=c_out)]
    (tx, gx), (tw, gw), (tb, gb) = (_both(a) for a in arrays)
    to = torch.nn.functional.conv_transpose1d(tx, tw, tb, s, p, op, groups, d)
    go = F.conv_transpose1d(gx, gw, gb, s, p, op, groups, d)
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-10)
    to.sum().backward()
    go.sum().backward()
    for t, g in ((tx, gx), (tw, gw), (tb, gb)):
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-10)
    single = F.conv_transpose1d(gx[0], gw, gb, s, p, op, groups, d)
    np.testing.assert_allclose(single.detach().numpy(), go[0].detach().numpy(), rtol=1e-12)


def test_gradcheck(rng):
    x = glassgrad.tensor(rng.normal(size=(1, 4, 3, 3)), requires_grad=True)
    w = glassgrad.tensor(rng.normal(size=(4, 1, 2, 3)), requires_grad=True)
    b = glassgrad.tensor(rng.normal(size=2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, 2, (0, 1), 1, 2, (1, 2)), (x, w, b))
    x1 = glassgrad.tensor(rng.normal(size=(2, 2, 4)), requires_grad=True)
    w1 = glassgrad.tensor(rng.normal(size=(2, 3, 3)), requires_grad=True)
    assert gradcheck(lambda x, w: F.conv_transpose1d(x, w, None, 3, 1, 2), (x1, w1))


@pytest.mark.parametrize("cls", ["ConvTranspose1d", "ConvTranspose2d"])
def test_modules_match_torch(cls, rng):
    kwargs = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1, bias=True)
    tm = getattr(torch.nn, cls)(4, 6, 3, **kwargs).double()
    gm = getattr(nn, cls)(4, 6, 3, **kwargs).double()
    assert repr(gm) == repr(tm)
    assert {k: tuple(v.shape) for k, v in gm.state_dict().items()} == {
        k: tuple(v.shape) for k, v in tm.state_dict().items()
    }
    bound = 1 / np.sqrt(3 * (3 if cls.endswith("2d") else 1))  # fan_in = out_channels/groups * kernel
    assert np.abs(gm.weight.detach().numpy()).max() <= bound
    gm.load_state_dict({k: glassgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    shape = (2, 4, 5, 5) if cls.endswith("2d") else (2, 4, 5)
    x = rng.normal(size=shape)
    np.testing.assert_allclose(
        gm(glassgrad.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(), atol=1e-10
    )
    assert repr(nn.ConvTranspose2d(2, 3, 3, bias=False, dilation=2)) == repr(
        torch.nn.ConvTranspose2d(2, 3, 3, bias=False, dilation=2)
    )


def test_output_size_argument(rng):
    torch.manual_seed(0)
    tm = torch.nn.ConvTranspose2d(2, 3, 3, stride=3, padding=1).double()
    gm = nn.ConvTranspose2d(2, 3, 3, stride=3, padding=1).double()
    gm.load_state_dict({k: glassgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = rng.normal(size=(1, 2, 4, 4))
    for size in [(10, 10), (11, 12), (1, 3, 12, 10)]:
        t = tm(torch.tensor(x), output_size=size)
        g = gm(glassgrad.tensor(x), output_size=size)
        assert tuple(g.shape) == tuple(t.shape)
        np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), atol=1e-10)
    with pytest.raises(
        ValueError, match=r"requested an output size of \[13, 10\], but valid sizes range from \[10, 10\] to \[12, 12\]"
    ):
        gm(glassgrad.tensor(x), output_size=(13, 10))


def test_errors():
    x = glassgrad.zeros(1, 3, 4, 4)
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(x, glassgrad.zeros(3, 2, 3, 3), output_padding=1)
    with pytest.raises(RuntimeError, match="expected input\\[1, 3, 4, 4\\] to have 5 channels, but got 3"):
        F.conv_transpose2d(x, glassgrad.zeros(5, 2, 3, 3))
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(3, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding must be an int or a tuple"):
        F.conv_transpose1d(glassgrad.zeros(1, 3, 4), glassgrad.zeros(3, 2, 3), padding="same")
