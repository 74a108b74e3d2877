"""conv2d/conv1d: a naive loop reference against the im2col version and the direct kernel,
gradcheck for every option, errors, saved arrays, the reused workspaces, and the Conv modules'
shapes and initialisation."""

import math

import numpy as np
import pytest

import glassgrad
import glassgrad.ops.conv as conv_module
from glassgrad import nn
from glassgrad.autograd import gradcheck
from glassgrad.backend import direct_conv, winograd_tiles, workspace
from glassgrad.nn import functional as F
from glassgrad.nn.functional import conv1d, conv2d
from glassgrad.ops.conv import Convolution, select
from glassgrad.ops.conv.geometry import Geometry


def naive_conv2d(x, w, b, stride, padding, dilation, groups):
    """Test-only reference: the definition, one output element at a time (float64)."""
    (sh, sw), (dh, dw) = stride, dilation
    (pt, pb), (pl, pr) = padding
    n, c, h, wd = x.shape
    c_out, cg, kh, kw = w.shape
    xp = np.zeros((n, c, h + pt + pb, wd + pl + pr))
    xp[:, :, pt : pt + h, pl : pl + wd] = x
    ho = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    og = c_out // groups
    out = np.zeros((n, c_out, ho, wo))
    for i in range(n):
        for o in range(c_out):
            g = o // og
            for y in range(ho):
                for z in range(wo):
                    total = 0.0 if b is None else b[o]
                    for ci in range(cg):
                        for p in range(kh):
                            for q in range(kw):
                                total += xp[i, g * cg + ci, y * sh + p * dh, z * sw + q * dw] * w[o, ci, p, q]
                    out[i, o, y, z] = total
    return out


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# (input shape, weight shape, stride, padding, dilation, groups, bias)
CASES = [
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 0, 1, 1, True),
    ((2, 3, 6, 5), (4, 3, 3, 3), 1, 1, 1, 1, False),
    ((1, 2, 7, 6), (3, 2, 3, 2), 2, 1, 1, 1, True),
    ((2, 2, 7, 8), (2, 2, 2, 3), (2, 3), (1, 2), 1, 1, True),
    ((1, 2, 8, 7), (3, 2, 3, 3), 1, 2, 2, 1, True),
    ((1, 2, 9, 9), (2, 2, 2, 3), (1, 2), 0, (3, 2), 1, False),
    ((2, 4, 5, 6), (6, 2, 3, 3), 1, 1, 1, 2, True),
    ((1, 4, 6, 6), (4, 1, 3, 3), 2, 1, 1, 4, True),
    ((2, 3, 4, 4), (5, 3, 1, 1), 1, 0, 1, 1, True),
    ((1, 2, 4, 5), (2, 2, 4, 5), 1, 0, 1, 1, True),
]


@pytest.fixture(params=["nhwc", "wide"])
def layout(request):
    """Each forward layout in turn: the NHWC columns everywhere, or the wide rows for every stride-1 case."""
    with glassgrad.backends.conv.flags(algorithm="im2col" if request.param == "nhwc" else "wide"):
        yield request.param


def padding_pairs(padding):
    ph, pw = pair(padding)
    return ((ph, ph), (pw, pw))


@pytest.mark.parametrize("case", CASES)
def test_matches_naive_loops(case, layout, rng):
    xs, ws, stride, padding, dilation, groups, bias = case
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[0]) if bias else None
    out = conv2d(
        glassgrad.tensor(x),
        glassgrad.tensor(w),
        None if b is None else glassgrad.tensor(b),
        stride,
        padding,
        dilation,
        groups,
    )
    expected = naive_conv2d(x, w, b, pair(stride), padding_pairs(padding), pair(dilation), groups)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_gradcheck(case, layout, rng):
    xs, ws, stride, padding, dilation, groups, bias = case
    x = glassgrad.tensor(rng.standard_normal(xs), requires_grad=True)
    w = glassgrad.tensor(rng.standard_normal(ws), requires_grad=True)
    b = glassgrad.tensor(rng.standard_normal(ws[0]), requires_grad=True) if bias else None
    inputs = (x, w) if b is None else (x, w, b)
    assert gradcheck(
        lambda *t: conv2d(t[0], t[1], t[2] if len(t) > 2 else None, stride, padding, dilation, groups), inputs
    )


@pytest.mark.parametrize("kernel,dilation", [(3, 1), (2, 1), ((2, 3), (1, 2)), (4, 2)])
def test_padding_same_keeps_size_and_matches_explicit_padding(kernel, dilation, rng):
    x = rng.standard_normal((1, 2, 6, 7))
    w = rng.standard_normal((3, 2) + pair(kernel))
    out = conv2d(glassgrad.tensor(x), glassgrad.tensor(w), padding="same", dilation=dilation)
    assert out.shape == (1, 3, 6, 7)
    # PyTorch's rule: total padding d*(k-1), the odd one out goes to the bottom/right.
    pads = []
    for k, d in zip(pair(kernel), pair(dilation)):
        total = d * (k - 1)
        pads.append((total // 2, total - total // 2))
    expected = naive_conv2d(x, w, None, (1, 1), tuple(pads), pair(dilation), 1)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    xt = glassgrad.tensor(x, requires_grad=True)
    wt = glassgrad.tensor(w, requires_grad=True)
    assert gradcheck(lambda a, b: conv2d(a, b, padding="same", dilation=dilation), (xt, wt))


def test_padding_valid_is_zero_padding(rng):
    x, w = glassgrad.tensor(rng.standard_normal((1, 2, 5, 5))), glassgrad.tensor(rng.standard_normal((3, 2, 3, 3)))
    np.testing.assert_array_equal(conv2d(x, w, padding="valid").numpy(), conv2d(x, w).numpy())


def test_unbatched_input(rng):
    x = glassgrad.tensor(rng.standard_normal((2, 5, 5)), requires_grad=True)
    w = glassgrad.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    out = conv2d(x, w, padding=1)
    assert out.shape == (3, 5, 5)
    np.testing.assert_allclose(out.detach().numpy(), conv2d(x.detach()[None], w.detach(), padding=1).numpy()[0])
    assert gradcheck(lambda a, b: conv2d(a, b, padding=1), (x, w))


def test_float32_end_to_end(rng):
    x = glassgrad.tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    w = glassgrad.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    b = glassgrad.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True)
    out = conv2d(x, w, b, padding=1)
    assert out.dtype == glassgrad.float32
    out.sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == glassgrad.float32
    expected = naive_conv2d(
        x.detach().numpy().astype(np.float64),
        w.detach().numpy(),
        b.detach().numpy(),
        (1, 1),
        ((1, 1), (1, 1)),
        (1, 1),
        1,
    )
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    # d(sum)/d(bias) is the number of output pixels per channel
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, 2 * 36, dtype=np.float32))


@pytest.mark.parametrize(
    "xs,ws,stride,padding,dilation,groups",
    [((2, 3, 9), (4, 3, 3), 1, 1, 1, 1), ((1, 4, 11), (2, 2, 2), 2, 0, 3, 2), ((2, 2, 6), (3, 2, 3), 1, "same", 2, 1)],
)
def test_conv1d_is_conv2d_of_height_one(xs, ws, stride, padding, dilation, groups, rng):
    x = glassgrad.tensor(rng.standard_normal(xs), requires_grad=True)
    w = glassgrad.tensor(rng.standard_normal(ws), requires_grad=True)
    b = glassgrad.tensor(rng.standard_normal(ws[0]), requires_grad=True)
    out = conv1d(x, w, b, stride, padding, dilation, groups)
    pad2 = "same" if padding == "same" else (0, padding)
    expected = conv2d(
        x.detach()[:, :, None], w.detach()[:, :, None], b.detach(), (1, stride), pad2, (1, dilation), groups
    )
    np.testing.assert_allclose(out.detach().numpy(), expected.numpy()[:, :, 0], rtol=1e-12)
    assert gradcheck(lambda a, c, d: conv1d(a, c, d, stride, padding, dilation, groups), (x, w, b))


def test_conv1d_unbatched(rng):
    x = glassgrad.tensor(rng.standard_normal((2, 7)))
    w = glassgrad.tensor(rng.standard_normal((3, 2, 3)))
    out = conv1d(x, w)
    assert out.shape == (3, 5)
    np.testing.assert_allclose(out.numpy(), conv1d(x[None], w).numpy()[0])


def test_error_names_both_shapes_and_the_fix():
    x = glassgrad.randn(1, 1, 28, 28)
    w = glassgrad.randn(64, 3, 3, 3)
    with pytest.raises(RuntimeError) as info:
        conv2d(x, w)
    message = str(info.value)
    assert "(64, 3, 3, 3)" in message and "(1, 1, 28, 28)" in message
    assert "3 channels" in message and "Conv2d(1, 64" in message


def test_error_kernel_larger_than_padded_input():
    with pytest.raises(RuntimeError, match=r"padded input is only 4"):
        conv2d(glassgrad.randn(1, 1, 2, 2), glassgrad.randn(1, 1, 5, 5), padding=1)


def test_other_errors():
    x = glassgrad.randn(1, 4, 5, 5)
    with pytest.raises(ValueError, match="strided"):
        conv2d(x, glassgrad.randn(2, 4, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="divisible by groups"):
        conv2d(x, glassgrad.randn(3, 2, 3, 3), groups=2)
    with pytest.raises(TypeError, match="same dtype"):
        conv2d(x, glassgrad.randn(2, 4, 3, 3).double())
    with pytest.raises(RuntimeError, match="4-D"):
        conv2d(x, glassgrad.randn(2, 4, 3))
    with pytest.raises(RuntimeError, match="3-D \\(unbatched\\)"):
        conv2d(glassgrad.randn(4, 5), glassgrad.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="padding must be"):
        conv2d(x, glassgrad.randn(2, 4, 3, 3), padding="full")
    with pytest.raises(RuntimeError, match="bias of shape"):
        conv2d(x, glassgrad.randn(2, 4, 3, 3), glassgrad.randn(3))


def test_saves_only_what_backward_needs(rng):
    x = glassgrad.tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
    w = glassgrad.tensor(rng.standard_normal((3, 2, 3, 3)))
    _, node = Convolution.apply_with_node(x, w, None, padding=((1, 1), (1, 1)))
    padded_input, weight = node.saved_tensors
    assert padded_input is None and weight is w.array  # input grad needs only the weight
    with glassgrad.no_grad():
        _, node = Convolution.apply_with_node(x, w, None)
    assert getattr(node, "_saved", None) is None


def test_results_do_not_share_the_reused_workspaces(rng):
    # One input and one output channel without padding: the cases where a copy could be skipped.
    x1 = glassgrad.tensor(rng.standard_normal((3, 1, 4, 4)), requires_grad=True)
    x2 = glassgrad.tensor(rng.standard_normal((3, 1, 4, 4)), requires_grad=True)
    w = glassgrad.tensor(rng.standard_normal((1, 1, 2, 2)), requires_grad=True)
    y1 = conv2d(x1, w)
    first = y1.detach().numpy().copy()
    y1.sum().backward()
    grad1 = x1.grad.numpy().copy()
    y2 = conv2d(x2, w)
    (y2 * 3).sum().backward()
    np.testing.assert_array_equal(y1.detach().numpy(), first)
    np.testing.assert_array_equal(x1.grad.numpy(), grad1)
    assert not np.shares_memory(y1.detach().numpy(), y2.detach().numpy())
    assert not np.shares_memory(x1.grad.numpy(), x2.grad.numpy())


@pytest.mark.parametrize("padding", [1, ((2, 0), (0, 1))])
def test_reused_padded_buffers_keep_their_zero_border(padding, layout, rng, monkeypatch):
    # The padded buffers are zeroed once and then only their inside is written: a batch of NaN
    # and huge values, then a smaller and a larger batch of the same geometry, must each give
    # the naive result (a stale image past the batch, read by the wide layout's thrown-away
    # columns, must not leak in either).

    monkeypatch.setattr(workspace, "CHUNK_BYTES", 1)  # one image per chunk: many reuses
    pads = padding_pairs(padding) if isinstance(padding, int) else padding
    w = rng.standard_normal((4, 3, 3, 3))
    poison = np.full((5, 3, 6, 7), np.nan)
    poison[::2] = 1e300
    conv_module.Convolution.apply(glassgrad.tensor(poison), glassgrad.tensor(w), None, (1, 1), pads)
    for n in (2, 7):
        x = rng.standard_normal((n, 3, 6, 7))
        out = conv_module.Convolution.apply(glassgrad.tensor(x), glassgrad.tensor(w), None, (1, 1), pads)
        expected = naive_conv2d(x, w, None, (1, 1), pads, (1, 1), 1)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_padded_buffers_are_bounded_per_thread(rng, monkeypatch):

    monkeypatch.setattr(workspace, "MAX_BORDERED", 3)
    workspace.clear_workspaces()
    w = rng.standard_normal((2, 2, 3, 3))
    for size in range(4, 10):  # six geometries
        x = rng.standard_normal((2, 2, size, size))
        out = conv2d(glassgrad.tensor(x), glassgrad.tensor(w), padding=1)
        np.testing.assert_allclose(out.numpy(), naive_conv2d(x, w, None, (1, 1), ((1, 1), (1, 1)), (1, 1), 1))
    assert len(workspace._scratch.bordered) == 3


def test_conv2d_module_shapes_init_and_repr():
    glassgrad.manual_seed(0)
    conv = nn.Conv2d(6, 8, (3, 5), stride=2, padding=1, groups=2)
    assert conv.weight.shape == (8, 3, 3, 5) and conv.bias.shape == (8,)
    bound = 1 / math.sqrt(3 * 3 * 5)  # kaiming_uniform_(a=sqrt(5)) on fan_in = 45
    weight, bias = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
    assert np.abs(bias).max() <= bound
    assert weight.dtype == np.float32
    assert repr(conv) == "Conv2d(6, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1), groups=2)"
    assert [name for name, _ in conv.named_parameters()] == ["weight", "bias"]
    x = glassgrad.randn(2, 6, 9, 9)
    out = conv(x)
    assert out.shape == (2, 8, 5, 4)
    expected = naive_conv2d(x.numpy().astype(np.float64), weight, bias, (2, 2), ((1, 1), (1, 1)), (1, 1), 2)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(
        out.detach().numpy(), F.conv2d(x, conv.weight, conv.bias, 2, 1, 1, 2).detach().numpy()
    )


def test_conv_module_options():
    assert repr(nn.Conv2d(1, 2, 3, bias=False, padding="same")) == (
        "Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=same, bias=False)"
    )
    assert nn.Conv2d(1, 2, 3, bias=False).bias is None
    assert repr(nn.Conv1d(2, 4, 3, dilation=2)) == "Conv1d(2, 4, kernel_size=(3,), stride=(1,), dilation=(2,))"
    with pytest.raises(ValueError, match="in_channels"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    out = nn.Conv1d(2, 4, 3)(glassgrad.randn(5, 2, 10))
    assert out.shape == (5, 4, 8)


def test_clear_workspaces_then_convolve_again(rng):
    from glassgrad.ops.conv import clear_workspaces

    x = glassgrad.tensor(rng.standard_normal((2, 2, 5, 5)), requires_grad=True)
    w = glassgrad.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    before = conv2d(x, w, padding=1).detach().numpy().copy()
    clear_workspaces()
    out = conv2d(x, w, padding=1)
    np.testing.assert_array_equal(out.detach().numpy(), before)
    out.sum().backward()
    assert x.grad.shape == (2, 2, 5, 5)


def test_non_contiguous_input_and_weight(rng):
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 2))
    x_view = glassgrad.tensor(np.ascontiguousarray(x.transpose(0, 1, 3, 2))).transpose(2, 3)
    w_view = glassgrad.tensor(np.ascontiguousarray(w.transpose(1, 0, 2, 3))).transpose(0, 1)
    assert not x_view.numpy().flags.c_contiguous
    out = conv2d(x_view, w_view, padding=1, stride=(2, 1))
    expected = naive_conv2d(x, w, None, (2, 1), ((1, 1), (1, 1)), (1, 1), 1)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("stride", [(1, 2), (1, 1)])
def test_chunks_shared_among_threads_give_the_same_bits(parts, groups, stride, layout, rng, monkeypatch):

    # Chunks of one image (five of them, shared unevenly among the threads), split at any size.
    monkeypatch.setattr(workspace, "CHUNK_BYTES", 1)
    monkeypatch.setattr(workspace, "MIN_SPLIT_WORK", 0)
    x = rng.standard_normal((5, 4, 9, 9)).astype(np.float32)
    w = rng.standard_normal((6, 4 // groups, 3, 3)).astype(np.float32)
    results = []
    for n in (1, parts):
        monkeypatch.setattr(workspace, "_parts", lambda n=n: n)
        xt, wt = glassgrad.tensor(x, requires_grad=True), glassgrad.tensor(w, requires_grad=True)
        out = conv2d(xt, wt, padding=1, stride=stride, groups=groups)
        (out * out).sum().backward()
        results.append((out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()))
    for single, split in zip(*results):
        np.testing.assert_array_equal(split, single)
    expected = naive_conv2d(x.astype(np.float64), w, None, stride, ((1, 1), (1, 1)), (1, 1), groups)
    np.testing.assert_allclose(results[1][0], expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("chunk_bytes", [1, 3000, 1 << 30])
@pytest.mark.parametrize("stride", [(2, 1), 1])
def test_any_chunk_size_gives_the_gradients(chunk_bytes, stride, layout, rng, monkeypatch):

    monkeypatch.setattr(workspace, "CHUNK_BYTES", chunk_bytes)
    x = glassgrad.tensor(rng.standard_normal((5, 3, 7, 6)), requires_grad=True)
    w = glassgrad.tensor(rng.standard_normal((4, 3, 3, 2)), requires_grad=True)
    b = glassgrad.tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(lambda x, w, b: conv2d(x, w, b, stride=stride, padding=(1, 0), dilation=(1, 2)), (x, w, b))


@pytest.mark.parametrize(
    "x_shape,w_shape,stride,wide",
    [
        ((2, 3, 32, 32), (16, 3, 3, 3), 1, True),  # ResNet's stem: 3-channel runs, 6% more columns
        ((2, 16, 32, 32), (16, 16, 3, 3), 1, True),
        ((2, 16, 16, 16), (16, 16, 3, 3), 1, True),  # 12.5% more columns, but 48-float runs
        ((2, 32, 16, 16), (32, 32, 3, 3), 1, False),
        ((2, 64, 8, 8), (64, 64, 3, 3), 1, False),  # 25% more columns
        ((2, 16, 32, 32), (32, 16, 3, 3), 2, False),
    ],
)
def test_wide_rows_taken_where_they_were_measured_to_pay(x_shape, w_shape, stride, wide):
    geo = Geometry(x_shape, w_shape, (stride, stride), ((1, 1), (1, 1)), (1, 1), 1)
    assert select.wide_pays(geo) is wide


def test_empty_batch():
    x = glassgrad.randn(0, 3, 8, 8, requires_grad=True)
    w = glassgrad.randn(4, 3, 3, 3, requires_grad=True)
    out = conv2d(x, w, padding=1)
    assert out.shape == (0, 4, 8, 8)
    out.sum().backward()
    assert x.grad.shape == (0, 3, 8, 8)
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((4, 3, 3, 3), dtype=np.float32))


# -- the direct kernels (glassgrad.backend.direct_conv): float32 forward passes and gradients --

needs_kernel = pytest.mark.skipif(
    not direct_conv.available(),
    reason="direct convolution unavailable here (needs numba's llvmlite and AVX2+FMA or ARM64)",
)


@pytest.fixture(params=[(8, 4), (16, 8)], ids=["8x4", "16x8"])
def each_tile(request, monkeypatch):
    """The kernel's tile shapes, (floats per vector, output channels), whatever this CPU takes:
    16-float vectors compile to two 8-float halves without AVX-512."""
    monkeypatch.setitem(direct_conv._state, "tile", request.param)
    return request.param


@pytest.fixture
def always_direct():
    """Every eligible float32 convolution takes the kernel, however many pixels it throws away."""
    with glassgrad.backends.conv.flags(algorithm="direct"):
        yield


# (input shape, weight shape, padding, dilation, bias)
CASES_DIRECT = [
    ((3, 16, 32, 32), (16, 16, 3, 3), 1, 1, False),  # ResNet-20's first stage
    ((2, 3, 32, 32), (32, 3, 3, 3), 1, 1, True),  # the seed's first layer
    ((2, 1, 28, 28), (6, 1, 5, 5), 2, 1, True),  # LeNet-5: 6 output channels, not a multiple of 4
    ((1, 6, 14, 14), (16, 6, 5, 5), 0, 1, True),
    ((2, 5, 9, 7), (7, 5, 2, 3), (1, 2), (2, 1), True),  # uneven kernel, padding and dilation
    ((1, 2, 3, 40), (3, 2, 3, 3), 1, 1, False),  # wide and short: one tile spans rows
    ((2, 4, 6, 6), (1, 4, 3, 3), "same", 2, True),
    ((2, 5, 8, 16), (6, 5, 3, 3), 1, 1, True),  # rows of 16, kept pixels only, 6 channels through a workspace
    ((1, 3, 5, 5), (4, 3, 2, 2), "same", 1, False),  # even kernel: more padding on the bottom/right
]


@needs_kernel
@pytest.mark.parametrize("case", CASES_DIRECT)
def test_matches_the_definition(case, always_direct, each_tile, rng, monkeypatch):
    xs, ws, padding, dilation, bias = case
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32) if bias else None
    calls = []
    kernel_conv2d = direct_conv.conv2d
    monkeypatch.setattr(direct_conv, "conv2d", lambda *a: calls.append(a[3]) or kernel_conv2d(*a))
    out = conv2d(
        glassgrad.tensor(x), glassgrad.tensor(w), None if b is None else glassgrad.tensor(b), 1, padding, dilation
    )
    assert calls, "the direct kernel did not run"
    geo = Geometry(xs, ws, (1, 1), _pads(padding, ws, dilation), _pair(dilation), 1)
    want = naive_conv2d(x.astype(np.float64), w, b, (1, 1), geo.padding, geo.dilation, 1)
    assert out.dtype == glassgrad.float32 and out.shape == want.shape
    np.testing.assert_allclose(out.numpy(), want, rtol=2e-5, atol=2e-5 * np.abs(want).max())


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _pads(padding, ws, dilation):
    from glassgrad.ops.conv.geometry import _conv_padding

    return _conv_padding(padding, ws[2:], (1, 1), _pair(dilation), "test")


@needs_kernel
@pytest.mark.parametrize("width", [10, 16])  # rows computed in full width, or the kept pixels only
@pytest.mark.parametrize("stride, dilation", [(1, 1), (1, (1, 2)), (2, 1), ((2, 3), 2), (3, 1)])
def test_reads_past_the_data_feed_only_thrown_away_pixels(
    stride, dilation, width, always_direct, each_tile, rng, monkeypatch
):
    """NaN wherever the kernel may read but no kept pixel needs (the spare images past the chunk,
    the rows a phase lacks, fresh workspaces): the output is still the definition's."""
    hp, wp = 11 + 2, width + 2  # padding 1

    def nan_inside(key, images, per_image, dtype, written):
        """Zeros where the padding lies, NaN everywhere else (the image's places included)."""
        inside = np.zeros((hp, wp), bool)
        inside[1:-1, 1:-1] = True
        if key[0] == "nchw":
            planes = inside
        else:  # the phases: a row or column a phase lacks is NaN too
            (sh, sw), (hq, wq) = key[2], per_image[2:]
            planes = np.ones((sh * sw, 1, hq, wq), bool)
            for a in range(sh):
                for c in range(sw):
                    part = inside[a::sh, c::sw]
                    planes[a * sw + c, 0, : part.shape[0], : part.shape[1]] = part
        buffer = np.zeros((images, *per_image), dtype)
        buffer[:] = np.where(planes, np.nan, 0).astype(dtype)
        return buffer

    monkeypatch.setattr(workspace, "bordered", nan_inside)
    monkeypatch.setattr(workspace, "workspace", lambda tag, shape, dtype: np.full(shape, np.nan, dtype))
    x = rng.standard_normal((3, 3, 11, width)).astype(np.float32)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    out = conv2d(glassgrad.tensor(x), glassgrad.tensor(w), None, stride, 1, dilation).numpy()
    want = naive_conv2d(x.astype(np.float64), w, None, _pair(stride), ((1, 1), (1, 1)), _pair(dilation), 1)
    np.testing.assert_allclose(out, want, rtol=2e-5, atol=2e-5 * np.abs(want).max())


@needs_kernel
@pytest.mark.parametrize("stride", [2, (2, 1), (1, 3)])
@pytest.mark.parametrize("padding, kernel", [(1, 3), (2, 5), (0, (2, 3))])
def test_strided_forward_through_the_phases(stride, padding, kernel, always_direct, each_tile, rng):
    x = rng.standard_normal((2, 4, 13, 12)).astype(np.float32)
    w = rng.standard_normal((6, 4, *_pair(kernel))).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    out = conv2d(glassgrad.tensor(x), glassgrad.tensor(w), glassgrad.tensor(b), stride, padding).numpy()
    pads = ((_pair(padding)[0],) * 2, (_pair(padding)[1],) * 2)
    want = naive_conv2d(x.astype(np.float64), w, b, _pair(stride), pads, (1, 1), 1)
    np.testing.assert_allclose(out, want, rtol=2e-5, atol=2e-5 * np.abs(want).max())


def test_reach_is_the_furthest_float_read_from_an_image():
    offsets = np.array([0, 1, 2, 40, 41, 42], np.int64)
    assert direct_conv.reach(offsets, 3, 100, 33) == 42 + 2 * 100 + 48


def test_pack_weight_puts_a_tiles_output_channels_side_by_side(each_tile, rng):
    k = each_tile[1]
    weight = rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
    packed = direct_conv.pack_weight(weight)
    assert packed.shape == (-(-6 // k), 2, 9, k) and packed.flags.c_contiguous
    for o in range(packed.shape[0] * k):
        for c in range(2):
            for i in range(3):
                for j in range(3):
                    want = weight[o, c, i, j] if o < 6 else 0
                    assert packed[o // k, c, i * 3 + j, o % k] == want


@needs_kernel
@pytest.mark.parametrize("parts", [1, 2, 3])
@pytest.mark.parametrize("chunk_bytes", [1, 1 << 30])
def test_same_bits_whatever_the_threads_and_chunks(parts, chunk_bytes, always_direct, rng, monkeypatch):
    monkeypatch.setattr(workspace, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(workspace, "MIN_SPLIT_WORK", 0)
    monkeypatch.setattr(workspace, "_parts", lambda: parts)
    x = glassgrad.tensor(rng.standard_normal((7, 5, 12, 12)).astype(np.float32))
    w = glassgrad.tensor(rng.standard_normal((8, 5, 3, 3)).astype(np.float32))
    out = conv2d(x, w, padding=1).numpy()
    monkeypatch.setattr(workspace, "_parts", lambda: 1)
    monkeypatch.setattr(workspace, "CHUNK_BYTES", 1 << 30)
    np.testing.assert_array_equal(out, conv2d(x, w, padding=1).numpy())


@needs_kernel
@pytest.mark.parametrize("case", CASES_DIRECT + [((2, 3, 7, 7), (4, 3, 3, 3), 3, 1, False)])
def test_input_gradient_by_the_kernel(case, always_direct, each_tile, rng, monkeypatch):
    """grad_x as the kernel's convolution of the padded output gradient with the flipped weight
    (the last case pads beyond the kernel's reach: the columns' path), weight grads by the columns."""
    xs, ws, padding, dilation, _ = case
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    upstream = None
    grads = []
    for dtype in (np.float32, np.float64):
        xt = glassgrad.tensor(x.astype(dtype), requires_grad=True)
        wt = glassgrad.tensor(w.astype(dtype), requires_grad=True)
        out = conv2d(xt, wt, None, 1, padding, dilation)
        if upstream is None:
            upstream = rng.standard_normal(out.shape)
        (out * glassgrad.tensor(upstream.astype(dtype))).sum().backward()
        grads.append((xt.grad.numpy(), wt.grad.numpy()))
    for got, want in zip(*grads):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * np.abs(want).max())


def test_input_gradient_geometry():
    geo = Geometry((2, 3, 9, 8), (5, 3, 3, 2), (1, 1), ((1, 2), (0, 1)), (2, 1), 1)
    transposed = geo.input_gradient()
    assert transposed.padding == ((3, 2), (1, 0)) and transposed.out_hw == (9, 8)
    assert (transposed.c_in, transposed.c_out) == (5, 3)
    assert Geometry((2, 3, 9, 8), (5, 3, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 1).input_gradient() is None
    assert Geometry((2, 3, 9, 8), (5, 3, 3, 3), (1, 1), ((3, 3), (1, 1)), (1, 1), 1).input_gradient() is None


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, groups, direct",
    [
        ((2, 3, 32, 32), (16, 3, 3, 3), 1, 1, True),  # ResNet-20's stem
        ((2, 16, 32, 32), (16, 16, 3, 3), 1, 1, True),
        ((2, 32, 16, 16), (32, 32, 3, 3), 1, 1, True),
        ((2, 32, 16, 16), (64, 32, 3, 3), 1, 1, True),  # the seed's second layer
        ((2, 64, 32, 32), (64, 64, 3, 3), 1, 1, True),  # 576 columns, but 32x32
        ((2, 128, 16, 16), (128, 128, 3, 3), 1, 1, False),  # 1,152 columns at 16x16
        ((2, 64, 8, 8), (64, 64, 3, 3), 1, 1, False),  # 8x8: im2col + GEMM was faster
        ((2, 16, 32, 32), (32, 16, 3, 3), 2, 1, True),  # strided: 16x16 outputs from the phases
        ((2, 32, 16, 16), (64, 32, 3, 3), 2, 1, False),  # 8x8 outputs
        ((2, 64, 56, 56), (128, 64, 3, 3), 2, 1, False),  # strided, 28 wide: rows computed in full width
        ((2, 3, 30, 30), (8, 3, 3, 3), 1, 1, True),  # rows of 30: computed 32 wide, 7% more
        ((2, 3, 64, 4), (8, 3, 3, 3), 1, 1, False),  # rows of 4: computed 6 wide, 50% more
        ((2, 16, 32, 32), (16, 8, 3, 3), 1, 2, False),  # grouped
        ((2, 16, 32, 32), (16, 16, 1, 1), 1, 1, False),  # 1x1: the input is its own column matrix
    ],
)
def test_taken_where_it_was_measured_to_pay(x_shape, w_shape, stride, groups, direct, monkeypatch):
    monkeypatch.setattr(direct_conv, "available", lambda: True)
    geo = Geometry(x_shape, w_shape, (stride, stride), ((1, 1), (1, 1)), (1, 1), groups)
    assert select.direct_pays(geo) is direct
    monkeypatch.setattr(direct_conv, "available", lambda: False)
    assert select.direct_pays(geo) is False


def test_float64_never_takes_it(rng, monkeypatch):
    monkeypatch.setattr(direct_conv, "conv2d", lambda *a: pytest.fail("float64 ran the float32 kernel"))
    x = glassgrad.tensor(rng.standard_normal((2, 16, 32, 32)))
    w = glassgrad.tensor(rng.standard_normal((16, 16, 3, 3)))
    assert conv2d(x, w, padding=1).dtype == glassgrad.float64


def test_direct_kernel_refuses_arrays_it_would_overrun(each_tile):
    packed = direct_conv.pack_weight(np.ones((4, 2, 3, 3), np.float32))
    offsets = np.array([i * 6 + j for i in range(3) for j in range(3)], np.int64)
    channels = each_tile[1]
    out = np.empty((1, channels, 32), np.float32)
    needed = direct_conv.reach(offsets, 2, 36, 32)
    with pytest.raises(ValueError, match=f"images hold 72 floats, {needed} are read"):
        direct_conv.conv2d(np.zeros(72, np.float32), packed, out, 1, offsets, 36, 72)
    images = np.zeros(needed, np.float32)
    with pytest.raises(ValueError, match="out has shape"):
        direct_conv.conv2d(images, packed, np.empty((1, channels, 20), np.float32), 1, offsets, 36, 72)
    other = np.ones((1, 2, 9, 12 - channels), np.float32)  # packed for the other tile
    with pytest.raises(ValueError, match="are not pack_weight's"):
        direct_conv.conv2d(images, other, out, 1, offsets, 36, 72)
    with pytest.raises(ValueError, match="float32"):
        direct_conv.conv2d(images.astype(np.float64), packed, out, 1, offsets, 36, 72)
    with pytest.raises(ValueError, match="9 non-negative int64 offsets"):
        direct_conv.conv2d(images, packed, out, 1, offsets[:4], 36, 72)


@needs_kernel
@pytest.mark.parametrize(
    "xs, ws, stride, padding, dilation",
    [
        ((3, 3, 32, 32), (16, 3, 3, 3), 1, 1, 1),  # ResNet-20's stem
        ((2, 5, 16, 16), (8, 5, 3, 3), 1, 1, 1),
        ((2, 4, 32, 32), (8, 4, 3, 3), 2, 1, 1),  # through the phases
        ((2, 3, 16, 16), (4, 3, 5, 5), 1, 2, 1),
        ((2, 3, 16, 16), (4, 3, 3, 3), 1, 2, 2),
        ((2, 3, 16, 16), (4, 3, 2, 2), 1, "same", 1),  # one more row and column of zeros at the end
    ],
)
def test_weight_gradient_by_the_kernel(xs, ws, stride, padding, dilation, always_direct, rng, monkeypatch):
    """The weight gradient summed by the kernel, lane by lane, against the definition's."""
    calls = []
    kernel_weight_grad = direct_conv.weight_grad
    monkeypatch.setattr(direct_conv, "weight_grad", lambda *a: calls.append(a[3]) or kernel_weight_grad(*a))
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    upstream, grads = None, []
    for dtype in (np.float32, np.float64):
        xt = glassgrad.tensor(x.astype(dtype))
        wt = glassgrad.tensor(w.astype(dtype), requires_grad=True)
        out = conv2d(xt, wt, None, stride, padding, dilation)
        if upstream is None:
            upstream = rng.standard_normal(out.shape)
        (out * glassgrad.tensor(upstream.astype(dtype))).sum().backward()
        grads.append(wt.grad.numpy())
    assert calls, "the kernel did not compute the weight gradient"
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-5 * np.abs(grads[1]).max())


# -- the public switch: every algorithm on the same inputs -------------------------------------


def _passes(algorithm, x, w, b, **kwargs):
    """(output, input gradient, weight gradient, bias gradient) of conv2d under ``algorithm``, as NumPy."""
    xt, wt, bt = (glassgrad.tensor(a, requires_grad=True) for a in (x, w, b))
    with glassgrad.backends.conv.flags(algorithm=algorithm):
        out = conv2d(xt, wt, bt, **kwargs)
        out.backward(glassgrad.tensor(np.cos(np.arange(out.numel())).reshape(out.shape).astype(x.dtype)))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize(
    "xs, ws, stride, padding",
    [((2, 4, 16, 16), (8, 4, 3, 3), 1, 1), ((2, 3, 17, 18), (4, 3, 5, 3), 2, 2), ((1, 2, 9, 32), (4, 2, 3, 3), 1, 0)],
)
def test_every_algorithm_gives_the_same_passes(xs, ws, stride, padding, rng, monkeypatch):
    """Forward, input and weight gradients under each forced algorithm agree with each other and with
    the float64 definition; and "direct" really runs the kernel where it is available."""
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (xs, ws, ws[:1]))
    want = _passes(
        "im2col", x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), stride=stride, padding=padding
    )
    ref = naive_conv2d(
        x.astype(np.float64),
        w.astype(np.float64),
        b.astype(np.float64),
        pair(stride),
        padding_pairs(padding),
        (1, 1),
        1,
    )
    np.testing.assert_allclose(want[0], ref, rtol=1e-10, atol=1e-10)
    calls = []
    kernel_conv2d = direct_conv.conv2d
    monkeypatch.setattr(direct_conv, "conv2d", lambda *a: calls.append(a[3]) or kernel_conv2d(*a))
    for algorithm in glassgrad.backends.conv.ALGORITHMS:
        calls.clear()
        got = _passes(algorithm, x, w, b, stride=stride, padding=padding)
        # "depthwise" and "pointwise" cannot run these, nor "winograd" the 5x3 kernel: they take the
        # "auto" choice, as documented.
        assert bool(calls) == (algorithm == "direct" and direct_conv.available()) or algorithm in (
            "auto",
            "depthwise",
            "pointwise",
            "winograd",
        )
        for name, g, r in zip(("output", "grad_input", "grad_weight", "grad_bias"), got, want):
            np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4, err_msg=f"{algorithm}: {name}")


def test_select_honours_the_switch(monkeypatch):
    monkeypatch.setattr(direct_conv, "available", lambda: True)
    geo = Geometry((2, 16, 32, 32), (16, 16, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    assert select.select(geo, np.float32) == ("direct", "direct", "direct")
    with glassgrad.backends.conv.flags(algorithm="im2col"):
        assert select.select(geo, np.float32) == ("im2col", "im2col", "im2col")
    with glassgrad.backends.conv.flags(algorithm="wide"):
        assert select.select(geo, np.float32) == ("wide", "im2col", "im2col")
    # float64 and groups never run the float32 kernel, forced or not: those passes take "auto"
    grouped = Geometry((2, 16, 32, 32), (16, 8, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 2)
    with glassgrad.backends.conv.flags(algorithm="direct"):
        assert "direct" not in select.select(geo, np.float64)
        assert "direct" not in select.select(grouped, np.float32)
    assert glassgrad.backends.conv.algorithm == "auto"
    with pytest.raises(ValueError, match="must be one of"):
        with glassgrad.backends.conv.flags(algorithm="fft"):
            pass
    monkeypatch.setattr(glassgrad.backends.conv, "algorithm", "fast")
    with pytest.raises(ValueError, match="must be one of"):
        select.select(geo, np.float32)


# -- the plan: one module per algorithm, passes nobody needs skipped -----------------------------


def test_every_algorithm_module_offers_its_passes():
    """Each name the selector can plan has a module with the passes the plan may give it."""
    assert set(select.MODULES) == set(glassgrad.backends.conv.ALGORITHMS) - {"auto"}
    # The wide rows are a forward layout only; pointwise leaves the weight gradient to im2col/direct.
    passes = {"wide": ("forward",), "pointwise": ("forward", "input_grad")}
    for name, module in select.MODULES.items():
        for step in passes.get(name, ("forward", "input_grad", "weight_grad")):
            assert callable(getattr(module, step, None)), (name, step)


def test_select_skips_the_gradients_nobody_needs(monkeypatch):
    monkeypatch.setattr(direct_conv, "available", lambda: True)
    geo = Geometry((2, 16, 32, 32), (16, 16, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    assert select.select(geo, np.float32, (False, True)) == ("direct", None, "direct")
    assert select.select(geo, np.float32, (True, False)) == ("direct", "direct", None)
    with glassgrad.backends.conv.flags(algorithm="im2col"):
        assert select.select(geo, np.float32, (False, False)) == ("im2col", None, None)


@pytest.mark.parametrize("algorithm", ["im2col", "direct"])
def test_only_the_needed_gradients_run(algorithm, rng, monkeypatch):
    """With a constant input only the weight gradient runs (and the reverse); each equals the one
    computed with both."""
    x = rng.standard_normal((3, 4, 16, 16)).astype(np.float32)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    upstream = glassgrad.tensor(rng.standard_normal((3, 8, 16, 16)).astype(np.float32))
    with glassgrad.backends.conv.flags(algorithm=algorithm):
        both = [glassgrad.tensor(a, requires_grad=True) for a in (x, w)]
        conv2d(both[0], both[1], padding=1).backward(upstream)
        for wanted in (0, 1):
            inputs = [glassgrad.tensor(a, requires_grad=(i == wanted)) for i, a in enumerate((x, w))]
            out, node = Convolution.apply_with_node(inputs[0], inputs[1], None, padding=((1, 1), (1, 1)))
            assert (node.plan.input_grad is None) == (wanted == 1)
            assert (node.plan.weight_grad is None) == (wanted == 0)
            out.backward(upstream)
            assert inputs[1 - wanted].grad is None
            np.testing.assert_array_equal(inputs[wanted].grad.numpy(), both[wanted].grad.numpy())


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_modes_match_padding_by_hand_and_gradcheck(mode):
    glassgrad.manual_seed(0)
    layer = nn.Conv2d(2, 3, 3, padding=(1, 2), dilation=(1, 2), padding_mode=mode).double()
    x = glassgrad.randn(1, 2, 5, 6, dtype=glassgrad.float64, requires_grad=True)
    by_hand = conv2d(F.pad(x, (2, 2, 1, 1), mode=mode), layer.weight, layer.bias, dilation=(1, 2))
    np.testing.assert_allclose(layer(x).detach().numpy(), by_hand.detach().numpy(), rtol=1e-12)
    assert gradcheck(layer, (x,))  # through the padding the layer adds
    same = nn.Conv1d(2, 2, 4, padding="same", padding_mode=mode).double()
    assert same(glassgrad.randn(1, 2, 7, dtype=glassgrad.float64)).shape == (1, 2, 7)
    assert "padding_mode=" + mode in repr(layer)


def test_small_images_take_few_chunks_for_the_weight_gradient():
    """Chunks of at least ``least`` images, as long as two chunks remain; none of fewer images
    than the plain rule gives."""
    assert workspace.chunks(32, 1000) == [(lo, lo + 2) for lo in range(0, 32, 2)]
    assert workspace.chunks(32, 1000, least=64) == [(0, 16), (16, 32)]
    assert workspace.chunks(32, 1000, least=8) == [(0, 8), (8, 16), (16, 24), (24, 32)]
    assert workspace.chunks(32, 1000, least=1) == workspace.chunks(32, 1000)
    assert workspace.chunks(1, 1000, least=64) == [(0, 1)]
    assert workspace.chunks(3, 1000, least=64) == [(0, 2), (2, 3)]


def test_direct_weight_gradient_only_up_to_32_channels(monkeypatch):
    """At 32x32 the kernel's weight gradient beat the columns' product on 3-32 input channels of a
    3x3 kernel, and took 2x its time on 64."""
    monkeypatch.setattr(direct_conv, "available", lambda: True)

    def geometry(c_in):
        return Geometry((32, c_in, 32, 32), (64, c_in, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1)

    assert [select.direct_weight_grad_pays(geometry(c)) for c in (3, 16, 32, 64)] == [True, True, True, False]
    assert [select.select(geometry(c), np.float32).weight_grad for c in (3, 16, 32)] == ["direct"] * 3
    # 64 -> 64 takes Winograd's weight gradient where its transforms are compiled, else im2col's
    wanted = "winograd" if winograd_tiles.compiled() else "im2col"
    assert select.select(geometry(64), np.float32).weight_grad == wanted


@pytest.mark.parametrize("algorithm", ["direct", "im2col", "wide", "winograd"])
def test_a_smaller_image_after_a_larger_one_keeps_its_padding_zero(algorithm):
    """Stride-2 phases round 9 and 10 padded rows to 5 each: a 7x7 image after an 8x8 one must not
    see the 8x8 image's last row in its padding (the direct kernel gave relative errors of 0.78)."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    for size, stride in [(8, 2), (7, 2), (8, 2), (6, 2), (2, 1), (1, 1)]:
        x = rng.standard_normal((2, 8, size, size)).astype(np.float32)
        with glassgrad.backends.conv.flags(algorithm="im2col"):
            expected = conv2d(
                glassgrad.tensor(x, dtype=glassgrad.float64),
                glassgrad.tensor(w, dtype=glassgrad.float64),
                stride=stride,
                padding=1,
            ).numpy()
        with glassgrad.backends.conv.flags(algorithm=algorithm), glassgrad.no_grad():
            got = conv2d(glassgrad.tensor(x), glassgrad.tensor(w), stride=stride, padding=1).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
