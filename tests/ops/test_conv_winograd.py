"""Winograd's F(2x2, 3x3) ("winograd"): forward and both gradients against the float64 definition,
gradcheck with the algorithm forced, the selector's rule, the NumPy reference of the transforms,
and the chunking."""

import numpy as np
import pytest

import glassgrad
from glassgrad.autograd import gradcheck
from glassgrad.backend import winograd_tiles, workspace
from glassgrad.nn.functional import conv2d
from glassgrad.ops.conv import Convolution, select, winograd
from glassgrad.ops.conv.geometry import Geometry


def definition(x, w, b, g, padding):
    """Test-only float64 reference of a stride-1 convolution: out, grad_x, grad_w."""
    x, w, g = (np.asarray(a, dtype=np.float64) for a in (x, w, g))
    p = padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    kh, kw = w.shape[2:]
    ho, wo = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    out = np.zeros((x.shape[0], w.shape[0], ho, wo))
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            window = xp[:, :, i : i + ho, j : j + wo]
            out += np.einsum("nchw,kc->nkhw", window, w[:, :, i, j])
            gxp[:, :, i : i + ho, j : j + wo] += np.einsum("nkhw,kc->nchw", g, w[:, :, i, j])
            gw[:, :, i, j] = np.einsum("nkhw,nchw->kc", g, window)
    if b is not None:
        out += np.asarray(b, np.float64).reshape(1, -1, 1, 1)
    grad_x = gxp[:, :, p : p + x.shape[2], p : p + x.shape[3]]
    return out, grad_x, gw


def _run(x, w, b, g, padding, algorithm="winograd"):
    xt, wt = glassgrad.tensor(x, requires_grad=True), glassgrad.tensor(w, requires_grad=True)
    bt = None if b is None else glassgrad.tensor(b, requires_grad=True)
    with glassgrad.backends.conv.flags(algorithm=algorithm):
        out, node = Convolution.apply_with_node(xt, wt, bt, padding=((padding, padding), (padding, padding)))
        out.backward(glassgrad.tensor(g))
    return node.plan, out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


CASES = [
    # (x shape, C_out, padding): odd and even outputs, no padding, a padding of 2, one pixel wide
    ((2, 3, 8, 8), 4, 1),
    ((3, 5, 7, 9), 6, 1),
    ((1, 2, 6, 5), 3, 0),
    ((2, 4, 4, 9), 5, 2),
    ((2, 3, 3, 3), 2, 0),
    ((4, 16, 5, 6), 8, 1),
]


@pytest.mark.parametrize("shape, c_out, padding", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [False, True])
def test_forward_and_input_gradient_match_the_float64_definition(shape, c_out, padding, dtype, bias, rng):
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((c_out, shape[1], 3, 3)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if bias else None
    ho, wo = shape[2] + 2 * padding - 2, shape[3] + 2 * padding - 2
    g = rng.standard_normal((shape[0], c_out, ho, wo)).astype(dtype)
    plan, out, gx, gw = _run(x, w, b, g, padding)
    assert plan.forward == plan.weight_grad == "winograd"
    assert plan.input_grad == ("winograd" if padding <= 2 else "im2col")
    want = definition(x, w, b, g, padding)
    for name, got, ref in zip(("out", "grad_x", "grad_w"), (out, gx, gw), want):
        assert got.dtype == dtype, name
        scale = np.abs(ref).max()
        # F(2,3) in float32: the transforms add up to 4 terms twice before and after the sum over
        # channels, so the error grows beyond im2col's; relative to the output's scale it stays
        # within a few float32 epsilons. float64: the same sums, to its rounding.
        tol = 2e-6 * scale if dtype == np.float32 else 1e-13 * scale
        np.testing.assert_allclose(got, ref, rtol=0, atol=tol, err_msg=name)


def test_float32_error_is_small_on_wide_layers(rng):
    """At 256 channels (where "auto" takes it) the float32 error stays near im2col's."""
    x = rng.standard_normal((2, 256, 8, 8)).astype(np.float32)
    w = (rng.standard_normal((64, 256, 3, 3)) / 48).astype(np.float32)
    g = rng.standard_normal((2, 64, 8, 8)).astype(np.float32)
    want = definition(x, w, None, g, 1)
    wino = _run(x, w, None, g, 1)
    cols = _run(x, w, None, g, 1, algorithm="im2col")
    for k, name in ((1, "out"), (2, "grad_x")):
        scale = np.abs(want[k - 1]).max()
        err_w = np.abs(wino[k] - want[k - 1]).max() / scale
        err_c = np.abs(cols[k] - want[k - 1]).max() / scale
        assert err_w < 5e-6, name
        assert err_w < 10 * err_c + 1e-7, (name, err_w, err_c)


def test_gradcheck_float64_forced(rng):
    x = glassgrad.tensor(rng.standard_normal((2, 3, 5, 4)), requires_grad=True)
    w = glassgrad.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    b = glassgrad.tensor(rng.standard_normal(4), requires_grad=True)
    with glassgrad.backends.conv.flags(algorithm="winograd"):
        _, node = Convolution.apply_with_node(x, w, b, padding=((1, 1), (1, 1)))
        assert node.plan == ("winograd", "winograd", "winograd")
        assert gradcheck(lambda a, k, c: conv2d(a, k, c, padding=1), (x, w, b))
        assert gradcheck(lambda a, k: conv2d(a, k), (x, w))


def test_numpy_transforms_match_the_compiled_ones(rng, monkeypatch):
    """The NumPy reference of the tile transforms gives what the compiled loops give."""
    x = rng.standard_normal((3, 5, 7, 6)).astype(np.float32)
    w = rng.standard_normal((4, 5, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    g = rng.standard_normal((3, 4, 7, 6)).astype(np.float32)
    compiled = _run(x, w, b, g, 1)
    monkeypatch.setattr(winograd_tiles, "_compiled", {"kernels": None})
    assert not winograd_tiles.compiled()
    reference = _run(x, w, b, g, 1)
    for a, e in zip(compiled[1:], reference[1:]):
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "min_tiles, chunk_bytes, parts", [(1, 1, 2), (1 << 20, 3 << 20, 2), (256, 3 << 20, 1), (256, 3 << 20, 2)]
)
def test_same_values_whatever_the_chunks_and_threads(min_tiles, chunk_bytes, parts, rng, monkeypatch):
    """One chunk (its products shared among threads), one image per chunk, one thread: the same
    bits whatever the threads. Other chunks agree to float32 rounding only: the weight gradient
    sums its chunks' partials, and a BLAS may round a product's columns differently for another
    number of columns (OpenBLAS's Haswell kernels on AMD EPYC do)."""
    x = rng.standard_normal((5, 8, 6, 6)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    g = rng.standard_normal((5, 8, 6, 6)).astype(np.float32)
    want = _run(x, w, None, g, 1)
    monkeypatch.setattr(winograd, "MIN_TILES", min_tiles)
    monkeypatch.setattr(workspace, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(workspace, "MIN_SPLIT_WORK", 0)
    monkeypatch.setattr(workspace, "_parts", lambda: parts)
    geo = Geometry(x.shape, w.shape, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    count = len(winograd.chunks(geo, 5, 4))
    assert count == (5 if chunk_bytes == 1 else 1)
    got = _run(x, w, None, g, 1)
    if chunk_bytes == 1:  # one image per chunk
        for a, e in zip(got[1:], want[1:]):
            np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)
        return
    for a, e in zip(got[1:3], want[1:3]):  # one chunk: the output and input gradient
        np.testing.assert_array_equal(a, e)
    if (min_tiles, chunk_bytes) == (256, 3 << 20):  # the defaults: only the threads differ
        np.testing.assert_array_equal(got[3], want[3])
    else:
        np.testing.assert_allclose(got[3], want[3], rtol=1e-5, atol=1e-5)


def _plan(xs, ws, stride=(1, 1), padding=1, dilation=(1, 1), groups=1, dtype=np.float32):
    geo = Geometry(xs, ws, stride, ((padding, padding), (padding, padding)), dilation, groups)
    return select.select(geo, dtype)


def test_selector_takes_winograd_where_it_was_measured_to_pay(monkeypatch):
    monkeypatch.setattr(winograd_tiles, "compiled", lambda: True)
    assert _plan((32, 64, 32, 32), (64, 64, 3, 3))[:2] == ("winograd", "winograd")
    assert _plan((32, 512, 4, 4), (512, 512, 3, 3))[:2] == ("winograd", "winograd")
    assert _plan((32, 128, 16, 16), (256, 128, 3, 3))[:2] == ("winograd", "winograd")
    # all three passes, the weight gradient included
    assert _plan((32, 64, 32, 32), (64, 64, 3, 3)) == ("winograd", "winograd", "winograd")
    # few output channels on many input channels (DenseNet's 128 -> 32), and the other way round:
    # the harmonic mean of the channels decides, 51.2 here against 42.7 for 64 -> 32
    assert _plan((16, 128, 8, 8), (32, 128, 3, 3)) == ("winograd", "winograd", "winograd")
    assert _plan((16, 32, 8, 8), (128, 32, 3, 3)) == ("winograd", "winograd", "winograd")
    assert _plan((16, 256, 8, 8), (32, 256, 3, 3)) == ("winograd", "winograd", "winograd")
    assert "winograd" not in _plan((16, 64, 16, 16), (32, 64, 3, 3))
    assert "winograd" not in _plan((16, 256, 16, 16), (16, 256, 3, 3))
    # few channels, strided, 5x5, dilated, grouped, float64: never by "auto"
    assert "winograd" not in _plan((32, 32, 16, 16), (32, 32, 3, 3))
    assert "winograd" not in _plan((32, 3, 32, 32), (64, 3, 3, 3))
    assert _plan((32, 64, 32, 32), (128, 64, 3, 3), stride=(2, 2)).forward != "winograd"
    assert "winograd" not in _plan((32, 64, 16, 16), (64, 64, 5, 5), padding=2)
    assert "winograd" not in _plan((32, 64, 16, 16), (64, 64, 3, 3), dilation=(2, 2), padding=2)
    assert "winograd" not in _plan((32, 64, 16, 16), (64, 32, 3, 3), groups=2)
    assert "winograd" not in _plan((32, 64, 16, 16), (64, 64, 3, 3), dtype=np.float64)
    # without the compiled transforms the NumPy ones cost more than the products save
    monkeypatch.setattr(winograd_tiles, "compiled", lambda: False)
    assert "winograd" not in _plan((32, 64, 32, 32), (64, 64, 3, 3))


def test_forced_winograd_leaves_what_it_cannot_run_to_auto():
    with glassgrad.backends.conv.flags(algorithm="winograd"):
        assert _plan((2, 4, 8, 8), (4, 4, 3, 3), dtype=np.float64)[:2] == ("winograd", "winograd")
        assert _plan((2, 4, 8, 8), (4, 4, 3, 3), padding=3).input_grad != "winograd"  # beyond the reach
        assert "winograd" not in _plan((2, 4, 8, 8), (4, 4, 3, 3), stride=(2, 2))
        assert "winograd" not in _plan((2, 4, 8, 8), (4, 4, 1, 1), padding=0)
        assert _plan((2, 4, 8, 8), (4, 4, 3, 3)).weight_grad == "winograd"  # 4 channels: forced only
    assert _plan((2, 4, 8, 8), (4, 4, 3, 3)).weight_grad != "winograd"


def test_chunks_are_evened_out():
    """ImageNet ResNet's 256-channel 14x14 layers at batch 8: six images make the 256 tiles of a
    chunk, and 6 + 2 images left one of two threads idle for half the pass."""
    geo = Geometry((8, 256, 14, 14), (256, 256, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    assert winograd.chunks(geo, 8, 4) == [(0, 4), (4, 8)]
    assert winograd.chunks(geo, 13, 4) == [(0, 4), (4, 8), (8, 13)]  # 6 + 6 + 1 before
    assert winograd.chunks(geo, 1, 4) == [(0, 1)]
    for n in range(1, 40):
        sizes = [hi - lo for lo, hi in winograd.chunks(geo, n, 4)]
        assert sum(sizes) == n and max(sizes) - min(sizes) <= 1


def test_a_smaller_image_after_a_larger_one_with_the_same_tiles():
    """A 2x2 and a 1x1 image both round up to one 4x4 tile; the 2x2 image's values must not stay
    in what is the 1x1 image's border (this gave VGG-11's 1x1 layers relative errors of 3)."""
    rng = np.random.default_rng(7)
    w = (rng.standard_normal((64, 64, 3, 3)) / 24).astype(np.float32)
    for size in (2, 1, 3, 1):
        x = rng.standard_normal((2, 64, size, size)).astype(np.float32)
        with glassgrad.backends.conv.flags(algorithm="winograd"), glassgrad.no_grad():
            got = conv2d(glassgrad.tensor(x), glassgrad.tensor(w), padding=1).numpy()
        expected = definition(x, w, None, np.zeros((2, 64, size, size)), 1)[0]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
