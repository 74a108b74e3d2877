"""The depthwise convolution (groups = channels): forward and both gradients against the float64
definition, compiled and NumPy paths, gradcheck, the selector's choice, and parity with PyTorch."""

import numpy as np
import pytest

import glassgrad
from glassgrad.autograd import gradcheck
from glassgrad.backend import depthwise_conv
from glassgrad.backends import conv as conv_flags
from glassgrad.nn.functional import conv2d
from glassgrad.ops.conv import select
from glassgrad.ops.conv.geometry import Geometry


def definition(x, w, b, g, stride, padding, dilation):
    """Test-only float64 reference: out, grad_x, grad_w, grad_b of the depthwise convolution
    by its definition, one kernel offset at a time (each a plain sum over pixels)."""
    x, w, g = (np.asarray(a, dtype=np.float64) for a in (x, w, g))
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, c, h, wd = x.shape
    kh, kw = w.shape[2:]
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph : ph + h, pw : pw + wd] = x
    ho, wo = g.shape[2:]
    out = np.zeros((n, c, ho, wo)) + (0 if b is None else np.asarray(b, np.float64).reshape(1, -1, 1, 1))
    gxp = np.zeros_like(xp)
    gw = np.zeros((c, 1, kh, kw))
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
            wij = w[:, 0, i, j].reshape(1, -1, 1, 1)
            out += xp[:, :, rows, cols] * wij
            gxp[:, :, rows, cols] += g * wij
            gw[:, 0, i, j] = (xp[:, :, rows, cols] * g).sum(axis=(0, 2, 3))
    return out, gxp[:, :, ph : ph + h, pw : pw + wd], gw, g.sum(axis=(0, 2, 3))


# (input shape, kernel, stride, padding, dilation, bias)
CASES = [
    ((2, 8, 9, 9), (3, 3), (1, 1), (1, 1), (1, 1), False),
    ((3, 6, 10, 11), (3, 3), (2, 2), (1, 1), (1, 1), True),
    ((1, 4, 12, 10), (5, 5), (1, 1), (2, 2), (1, 1), True),
    ((2, 5, 9, 8), (3, 3), (1, 2), (2, 1), (2, 2), False),
    ((2, 3, 7, 7), (3, 1), (1, 1), (0, 0), (1, 1), True),
    ((4, 16, 4, 4), (3, 3), (2, 2), (1, 1), (1, 1), False),
]


def _output_shape(shape, kernel, stride, padding, dilation):
    return tuple(
        (size + 2 * p - d * (k - 1) - 1) // s + 1
        for size, k, s, p, d in zip(shape[2:], kernel, stride, padding, dilation)
    )


def _run(x, w, b, g, stride, padding, dilation):
    xt = glassgrad.tensor(x, requires_grad=True)
    wt = glassgrad.tensor(w, requires_grad=True)
    bt = None if b is None else glassgrad.tensor(b, requires_grad=True)
    out = conv2d(xt, wt, bt, stride=stride, padding=padding, dilation=dilation, groups=x.shape[1])
    out.backward(glassgrad.tensor(g))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), None if bt is None else bt.grad.numpy()


@pytest.fixture(params=["compiled", "numpy"])
def path(request, monkeypatch):
    if request.param == "compiled":
        if depthwise_conv._numba() is None:
            pytest.skip("numba not available: the compiled depthwise kernels are not built")
    else:
        monkeypatch.setattr(depthwise_conv, "_numba", lambda: None)
    return request.param


@pytest.mark.parametrize("case", CASES, ids=[str(c[:3]) for c in CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_and_gradients_match_the_float64_definition(case, dtype, path, rng):
    shape, kernel, stride, padding, dilation, has_bias = case
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((shape[1], 1, *kernel)).astype(dtype)
    b = rng.standard_normal(shape[1]).astype(dtype) if has_bias else None
    g = rng.standard_normal((shape[0], shape[1], *_output_shape(shape, kernel, stride, padding, dilation)))
    g = g.astype(dtype)
    got = _run(x, w, b, g, stride, padding, dilation)
    expected = definition(x, w, b, g, stride, padding, dilation)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    for name, a, e in zip(("out", "grad_x", "grad_w", "grad_b"), got, expected):
        if a is None:
            continue
        assert a.dtype == dtype, name
        np.testing.assert_allclose(a, e, err_msg=name, **tol)


def test_gradcheck_float64(path, rng):
    x = glassgrad.tensor(rng.standard_normal((2, 3, 6, 5)), requires_grad=True)
    w = glassgrad.tensor(rng.standard_normal((3, 1, 3, 3)), requires_grad=True)
    b = glassgrad.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda a, k, c: conv2d(a, k, c, stride=2, padding=1, groups=3), (x, w, b))
    assert gradcheck(lambda a, k: conv2d(a, k, padding=2, dilation=2, groups=3), (x, w))


@pytest.mark.parametrize("padding, dilation", [(1, 1), (0, 1), (3, 1), (1, 2)])
def test_gradcheck_float64_stride_1_forced(padding, dilation, path, rng):
    # Stride 1 runs the input gradient as the forward pass on the padded gradient by the flipped
    # filters (``depthwise.flipped_padding``) where the padding is within the kernel's reach, and
    # by the scatter into a padded gradient beyond it (padding 3 with a 3x3 undilated kernel).
    x = glassgrad.tensor(rng.standard_normal((2, 3, 7, 6)), requires_grad=True)
    w = glassgrad.tensor(rng.standard_normal((3, 1, 3, 3)), requires_grad=True)
    with conv_flags.flags(algorithm="depthwise"):
        assert gradcheck(lambda a, k: conv2d(a, k, padding=padding, dilation=dilation, groups=3), (x, w))


# (images, channels, input hw, kernel, (top, bottom, left, right) padding, dilation)
STRIDE1 = [
    (3, 5, (7, 9), (3, 3), (1, 1, 1, 1), (1, 1)),
    (2, 4, (6, 5), (3, 3), (0, 2, 1, 0), (2, 1)),
    (1, 3, (8, 8), (5, 3), (2, 2, 0, 0), (1, 2)),
    (4, 2, (4, 4), (1, 1), (0, 0, 0, 0), (1, 1)),
    (2, 6, (3, 11), (2, 4), (1, 0, 3, 0), (1, 1)),
]


@pytest.mark.parametrize("case", STRIDE1, ids=[str(c[3:]) for c in STRIDE1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stride1_kernels_match_the_float64_definition(case, dtype, path, rng):
    # The backend's stride-1 passes (each channel's planes padded into one flat run) against a
    # padded float64 definition, for asymmetric padding, dilation and any kernel; x is not
    # contiguous, as a caller's tensor need not be.
    n, c, (h, w), (kh, kw), (pt, pb, pl, pr), (dh, dw) = case
    x = rng.standard_normal((n, 2 * c, h, w)).astype(dtype)[:, ::2]
    weight = rng.standard_normal((c, kh, kw)).astype(dtype)
    hp, wp = h + pt + pb, w + pl + pr
    ho, wo = hp - (kh - 1) * dh, wp - (kw - 1) * dw
    g = rng.standard_normal((n, c, ho, wo)).astype(dtype)
    xp = np.zeros((n, c, hp, wp))
    xp[:, :, pt : pt + h, pl : pl + w] = x
    out = np.zeros((n, c, ho, wo))
    gw = np.zeros((c, kh, kw))
    for i in range(kh):
        for j in range(kw):
            window = xp[:, :, i * dh : i * dh + ho, j * dw : j * dw + wo]
            out += window * weight[:, i, j].reshape(1, -1, 1, 1)
            gw[:, i, j] = (window * g).sum(axis=(0, 2, 3))
    got = np.empty((n, c, ho, wo), dtype=dtype)
    depthwise_conv.forward_stride1(x, weight, got, (hp, wp), (pt, pl), (dh, dw))
    got_gw = np.empty((c, kh, kw), dtype=dtype)
    depthwise_conv.weight_grad_stride1(x, g, got_gw, (hp, wp), (pt, pl), (dh, dw))
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    assert got.dtype == got_gw.dtype == dtype
    np.testing.assert_allclose(got, out, **tol)
    np.testing.assert_allclose(got_gw, gw, **tol)


def test_stride1_forward_gives_the_bits_of_the_row_loops(path, rng):
    # The flat run sums each output's terms in the order of the row-by-row loops (no FMA, no
    # reassociation), so switching a layer between them changes no result.
    x = rng.standard_normal((3, 7, 9, 10)).astype(np.float32)
    for kernel in ((3, 3), (2, 3)):
        w = rng.standard_normal((7, *kernel)).astype(np.float32)
        xp = np.zeros((3, 7, 11, 12), np.float32)
        xp[:, :, 1:10, 1:11] = x
        ho, wo = 11 - kernel[0] + 1, 12 - kernel[1] + 1
        rows, flat = np.empty((3, 7, ho, wo), np.float32), np.empty((3, 7, ho, wo), np.float32)
        depthwise_conv.forward(xp, w, rows, (1, 1), (1, 1))
        depthwise_conv.forward_stride1(x, w, flat, (11, 12), (1, 1), (1, 1))
        np.testing.assert_array_equal(flat, rows)


@pytest.mark.parametrize("stride", [1, 2])
def test_empty_batch(stride, path):
    x = glassgrad.zeros(0, 8, 5, 5, requires_grad=True)
    w = glassgrad.ones(8, 1, 3, 3, requires_grad=True)
    out = conv2d(x, w, stride=stride, padding=1, groups=8)
    out.sum().backward()
    assert out.shape == (0, 8, 3 if stride == 2 else 5, 3 if stride == 2 else 5)
    assert x.grad.shape == (0, 8, 5, 5)
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((8, 1, 3, 3), np.float32))


def test_flipped_padding_only_within_the_kernels_reach():
    def geo(stride, padding, dilation=(1, 1)):
        return Geometry((2, 8, 9, 9), (8, 1, 3, 3), stride, padding, dilation, 8)

    from glassgrad.ops.conv import depthwise

    assert depthwise.flipped_padding(geo((1, 1), ((1, 1), (1, 1)))) == ((1, 1), (1, 1))
    assert depthwise.flipped_padding(geo((1, 1), ((0, 0), (2, 2)), (2, 1))) == ((4, 4), (0, 0))
    assert depthwise.flipped_padding(geo((2, 2), ((1, 1), (1, 1)))) is None
    assert depthwise.flipped_padding(geo((1, 1), ((3, 3), (1, 1)))) is None


# 64 images at 16x16 make 22 blocks of images; 8 at 4x4 make one range of images, its 64
# channels split in 16 ranges; stride 2 takes chunks of images.
@pytest.mark.parametrize("shape, stride", [((64, 32, 16, 16), 1), ((8, 64, 4, 4), 1), ((16, 24, 12, 12), 2)])
def test_chunks_shared_among_threads_give_the_same_bits(shape, stride, rng):
    # The weight gradient sums its partials in order at any thread count.
    from glassgrad.backend import workspace
    from glassgrad.ops.conv import depthwise

    before = glassgrad.get_num_threads()
    glassgrad.set_num_threads(2)
    try:
        if stride == 1 and workspace.threads_for(1 << 30) > 1:  # threads share blocks (with threadpoolctl)
            geo = Geometry(shape, (shape[1], 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), shape[1])
            assert len(depthwise._blocks(geo, shape[0], 4, 1 << 30)[0]) >= 16
    finally:
        glassgrad.set_num_threads(before)
    n, c, h, _ = shape
    out_hw = (h - 1) // stride + 1
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((c, 1, 3, 3)).astype(np.float32)
    g = rng.standard_normal((n, c, out_hw, out_hw)).astype(np.float32)
    try:
        results = []
        for threads in (1, 2):
            glassgrad.set_num_threads(threads)
            results.append(_run(x, w, None, g, (stride, stride), (1, 1), (1, 1)))
    finally:
        glassgrad.set_num_threads(before)
    for a, b in zip(results[0][:3], results[1][:3]):
        np.testing.assert_array_equal(a, b)
    expected = definition(x, w, None, g, (stride, stride), (1, 1), (1, 1))
    for a, e in zip(results[0][:3], expected[:3]):
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-4)


def test_selector_takes_depthwise_only_for_one_channel_per_group():
    def plan(x_shape, w_shape, groups):
        return select.select(Geometry(x_shape, w_shape, (1, 1), ((1, 1), (1, 1)), (1, 1), groups), np.float32)

    assert plan((8, 32, 16, 16), (32, 1, 3, 3), 32) == select.Plan("depthwise", "depthwise", "depthwise")
    assert plan((8, 32, 16, 16), (64, 1, 3, 3), 32).forward != "depthwise"  # two filters per channel
    assert plan((8, 32, 16, 16), (32, 2, 3, 3), 16).forward != "depthwise"  # two channels per group
    with conv_flags.flags(algorithm="im2col"):
        assert plan((8, 32, 16, 16), (32, 1, 3, 3), 32) == select.Plan("im2col", "im2col", "im2col")


def test_same_as_the_im2col_path(rng):
    x = rng.standard_normal((4, 12, 11, 11)).astype(np.float32)
    w = rng.standard_normal((12, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    g = rng.standard_normal((4, 12, 6, 6)).astype(np.float32)
    got = _run(x, w, b, g, (2, 2), (1, 1), (1, 1))
    with conv_flags.flags(algorithm="im2col"):
        expected = _run(x, w, b, g, (2, 2), (1, 1), (1, 1))
    for a, e in zip(got, expected):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)


def test_same_as_pytorch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: parity test skipped")
    x = rng.standard_normal((3, 10, 13, 12)).astype(np.float32)
    w = rng.standard_normal((10, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(10).astype(np.float32)
    g = rng.standard_normal((3, 10, 7, 6)).astype(np.float32)
    got = _run(x, w, b, g, (2, 2), (1, 1), (1, 1))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = torch.nn.functional.conv2d(xt, wt, bt, stride=2, padding=1, groups=10)
    out.backward(torch.tensor(g))
    for a, e in zip(got, (out, xt.grad, wt.grad, bt.grad)):
        np.testing.assert_allclose(a, e.detach().numpy(), rtol=1e-5, atol=1e-5)
