"""Pooling: naive loop references against the offset-view versions, gradcheck for every option
(stride, padding, dilation, ceil_mode, count_include_pad, divisor_override, non-square, overlapping
and non-tiling windows), tie and NaN rules, indices, errors, and the modules."""

import math

import numpy as np
import pytest

import glassgrad
from glassgrad import nn
from glassgrad.autograd import gradcheck
from glassgrad.nn.functional import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from glassgrad.ops.pooling import MaxPool2DWithIndices


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def out_len(size, k, s, p, d, ceil_mode):
    if ceil_mode:
        o = math.ceil((size + 2 * p - d * (k - 1) - 1) / s) + 1
        if (o - 1) * s >= size + p:
            o -= 1
        return o
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def naive_max_pool(x, kernel, stride, padding, dilation, ceil_mode):
    """Test-only reference: values and flat indices, scanning each window in row-major order
    and keeping the first strictly larger value (PyTorch's rule)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pair(kernel), pair(stride), pair(padding), pair(dilation)
    n, c, h, w = x.shape
    ho, wo = out_len(h, kh, sh, ph, dh, ceil_mode), out_len(w, kw, sw, pw, dw, ceil_mode)
    out, idx = np.zeros((n, c, ho, wo)), np.zeros((n, c, ho, wo), dtype=np.int64)
    for a in range(n):
        for b in range(c):
            for i in range(ho):
                for j in range(wo):
                    best, where = -np.inf, None
                    for p in range(kh):
                        for q in range(kw):
                            r, s = i * sh - ph + p * dh, j * sw - pw + q * dw
                            if 0 <= r < h and 0 <= s < w:
                                if where is None or x[a, b, r, s] > best:
                                    best, where = x[a, b, r, s], r * w + s
                    out[a, b, i, j], idx[a, b, i, j] = best, where
    return out, idx


def naive_avg_pool(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel), pair(stride), pair(padding)
    n, c, h, w = x.shape
    ho, wo = out_len(h, kh, sh, ph, 1, ceil_mode), out_len(w, kw, sw, pw, 1, ceil_mode)
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            r0, s0 = i * sh - ph, j * sw - pw
            r1, s1 = min(r0 + kh, h + ph), min(s0 + kw, w + pw)
            size = (r1 - r0) * (s1 - s0)
            r0c, s0c, r1c, s1c = max(r0, 0), max(s0, 0), min(r1, h), min(s1, w)
            total = x[:, :, r0c:r1c, s0c:s1c].sum(axis=(2, 3))
            if divisor_override:
                divisor = divisor_override
            elif count_include_pad:
                divisor = size
            else:
                divisor = (r1c - r0c) * (s1c - s0c)
            out[:, :, i, j] = total / divisor
    return out


def naive_adaptive(x, size, reduce):
    n, c, h, w = x.shape
    ho, wo = size
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            r0, r1 = (i * h) // ho, -(-((i + 1) * h) // ho)
            s0, s1 = (j * w) // wo, -(-((j + 1) * w) // wo)
            out[:, :, i, j] = reduce(x[:, :, r0:r1, s0:s1], axis=(2, 3))
    return out


# (input shape, kernel, stride, padding, dilation, ceil_mode)
MAX_CASES = [
    ((2, 3, 6, 6), 2, None, 0, 1, False),  # tiles the input: reshape path
    ((1, 2, 7, 5), 2, None, 0, 1, False),  # tiles but leaves a last row and column out
    ((1, 2, 7, 7), 3, 2, 1, 1, False),  # overlapping, padded
    ((1, 2, 7, 6), 3, 2, 1, 1, True),
    ((2, 1, 8, 7), (3, 2), (2, 1), (1, 0), (1, 2), True),  # non-square everything
    ((1, 2, 9, 9), 3, 1, 1, 2, False),  # dilation, overlapping offsets
    ((1, 1, 7, 7), 2, 3, 0, 1, False),  # gaps between windows
    ((1, 2, 5, 5), 2, 2, 1, 1, True),
]


@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool_matches_naive_and_gradcheck(case, rng):
    xs, kernel, stride, padding, dilation, ceil_mode = case
    x = rng.standard_normal(xs)
    out, idx = max_pool2d(glassgrad.tensor(x), kernel, stride, padding, dilation, ceil_mode, return_indices=True)
    expected, expected_idx = naive_max_pool(x, kernel, stride or kernel, padding, dilation, ceil_mode)
    np.testing.assert_array_equal(out.numpy(), expected)
    np.testing.assert_array_equal(idx.numpy(), expected_idx)
    assert idx.dtype == glassgrad.int64
    t = glassgrad.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: max_pool2d(a, kernel, stride, padding, dilation, ceil_mode), (t,))


def test_max_pool_without_grad_gives_the_same_values(rng):
    x = glassgrad.tensor(rng.standard_normal((2, 3, 7, 7)).astype(np.float32), requires_grad=True)
    with glassgrad.no_grad():
        fast = max_pool2d(x, 3, 2, 1)
    np.testing.assert_array_equal(fast.numpy(), max_pool2d(x, 3, 2, 1).detach().numpy())
    assert fast.dtype == glassgrad.float32


def test_max_pool_gradient_goes_to_the_first_maximum():
    x = np.array([[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 0.0, 0.0], [5.0, 5.0, 7.0, 7.0], [5.0, 5.0, 7.0, 7.0]]]])
    t = glassgrad.tensor(x, requires_grad=True)
    out, idx = max_pool2d(t, 2, return_indices=True)
    out.sum().backward()
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[1, 2], [8, 10]])
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[0, 2] = expected[2, 0] = expected[2, 2] = 1
    np.testing.assert_array_equal(t.grad.numpy()[0, 0], expected)


def test_max_pool_overlapping_windows_add_gradients():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    t = glassgrad.tensor(x, requires_grad=True)
    max_pool2d(t, 2, stride=1).sum().backward()
    expected = np.zeros((4, 4))
    expected[1:, 1:] = 1  # each window's max is its bottom-right element, each used once
    np.testing.assert_array_equal(t.grad.numpy()[0, 0], expected)
    t.grad = None
    max_pool2d(t, 3, stride=1, padding=1).sum().backward()
    assert t.grad.numpy()[0, 0, 3, 3] == 4  # the corner is the maximum of four windows


def test_max_pool_nan_and_all_minus_inf_windows():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan
    out, idx = max_pool2d(glassgrad.tensor(x), 2, return_indices=True)
    assert np.isnan(out.numpy()[0, 0, 0, 0]) and out.numpy()[0, 0, 0, 1] == 0
    assert idx.numpy()[0, 0, 0, 0] == 4  # PyTorch: the last NaN in the window wins
    # A window of padding and -inf only points at its first element inside the input.
    x = np.full((1, 1, 3, 3), -np.inf)
    out, idx = max_pool2d(glassgrad.tensor(x), 2, stride=2, padding=1, return_indices=True)
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[0, 1], [3, 4]])


def test_max_pool_offsets_kept_only_for_backward(rng):
    x = glassgrad.tensor(rng.standard_normal((1, 1, 4, 4)))
    _, node = MaxPool2DWithIndices.apply_with_node(x)
    assert not hasattr(node, "offsets")


# (input shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
AVG_CASES = [
    ((2, 3, 6, 6), 2, None, 0, False, True, None),
    ((1, 2, 7, 7), 3, 2, 1, False, True, None),
    ((1, 2, 7, 7), 3, 2, 1, False, False, None),
    ((1, 2, 6, 7), 3, 2, 1, True, True, None),
    ((1, 2, 6, 7), 3, 2, 1, True, False, None),
    ((2, 1, 8, 7), (3, 2), (2, 1), (1, 0), True, False, None),
    ((1, 2, 5, 5), 3, 1, 1, False, True, 4),
    ((1, 1, 7, 5), 2, None, 0, False, True, None),
]


@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool_matches_naive_and_gradcheck(case, rng):
    xs, kernel, stride, padding, ceil_mode, include, override = case
    x = rng.standard_normal(xs)
    out = avg_pool2d(glassgrad.tensor(x), kernel, stride, padding, ceil_mode, include, override)
    expected = naive_avg_pool(x, kernel, stride or kernel, padding, ceil_mode, include, override)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-14)
    t = glassgrad.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: avg_pool2d(a, kernel, stride, padding, ceil_mode, include, override), (t,))


ADAPTIVE_SIZES = [1, (2, 3), (3, 2), (4, 4), (2, None), (7, 9)]


@pytest.mark.parametrize("size", ADAPTIVE_SIZES)
def test_adaptive_pools_match_naive_and_gradcheck(size, rng):
    x = rng.standard_normal((2, 2, 5, 6))
    full = tuple(n if s is None else s for s, n in zip(pair(size) if size is not None else (None, None), (5, 6)))
    avg = adaptive_avg_pool2d(glassgrad.tensor(x), size)
    np.testing.assert_allclose(avg.numpy(), naive_adaptive(x, full, np.mean), rtol=1e-12, atol=1e-14)
    mx, idx = adaptive_max_pool2d(glassgrad.tensor(x), size, return_indices=True)
    np.testing.assert_array_equal(mx.numpy(), naive_adaptive(x, full, np.max))
    np.testing.assert_array_equal(
        np.take_along_axis(x.reshape(2, 2, -1), idx.numpy().reshape(2, 2, -1), 2), mx.numpy().reshape(2, 2, -1)
    )
    t = glassgrad.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: adaptive_avg_pool2d(a, size), (t,))
    assert gradcheck(lambda a: adaptive_max_pool2d(a, size), (t,))


def test_adaptive_max_first_maximum_in_overlapping_windows():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0  # shared by all four 2x2 windows of a 3x3 -> 2x2 adaptive pool
    t = glassgrad.tensor(x, requires_grad=True)
    out, idx = adaptive_max_pool2d(t, 2, return_indices=True)
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[4, 4], [4, 4]])
    out.sum().backward()
    assert t.grad.numpy()[0, 0, 1, 1] == 4 and t.grad.numpy().sum() == 4


def test_unbatched_and_float32(rng):
    x = glassgrad.tensor(rng.standard_normal((3, 6, 6)).astype(np.float32), requires_grad=True)
    for fn in (
        lambda a: max_pool2d(a, 2),
        lambda a: avg_pool2d(a, 3, 2, 1),
        lambda a: adaptive_avg_pool2d(a, (4, 5)),
        lambda a: adaptive_max_pool2d(a, 4),
    ):
        out = fn(x)
        assert out.ndim == 3 and out.dtype == glassgrad.float32
        np.testing.assert_array_equal(out.detach().numpy(), fn(x.detach()[None]).numpy()[0])
        x.grad = None
        out.sum().backward()
        assert x.grad.dtype == glassgrad.float32 and x.grad.shape == (3, 6, 6)
    out, idx = max_pool2d(x, 2, return_indices=True)
    assert idx.shape == (3, 3, 3)


def test_errors():
    x = glassgrad.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="half the kernel"):
        max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="half the kernel"):
        avg_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match="too small"):
        max_pool2d(x, 5)
    with pytest.raises(ValueError, match="positive"):
        max_pool2d(x, 2, stride=0)
    with pytest.raises(RuntimeError, match="3-D \\(unbatched\\)"):
        max_pool2d(glassgrad.randn(4, 4), 2)
    with pytest.raises(TypeError, match="floating-point"):
        avg_pool2d(glassgrad.ones(1, 1, 4, 4, dtype=glassgrad.int64), 2)
    with pytest.raises(ValueError, match="output_size"):
        adaptive_avg_pool2d(x, 0)


def test_modules():
    pool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
    assert repr(pool) == "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)"
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AdaptiveAvgPool2d((1, 1))) == "AdaptiveAvgPool2d(output_size=(1, 1))"
    assert repr(nn.AdaptiveMaxPool2d(7)) == "AdaptiveMaxPool2d(output_size=7)"
    x = glassgrad.randn(2, 3, 9, 9)
    np.testing.assert_array_equal(pool(x).numpy(), max_pool2d(x, 3, 2, 1, ceil_mode=True).numpy())
    out, idx = nn.MaxPool2d(2, return_indices=True)(x)
    assert out.shape == idx.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(
        nn.AvgPool2d(3, 2, 1, count_include_pad=False)(x).numpy(),
        avg_pool2d(x, 3, 2, 1, count_include_pad=False).numpy(),
    )
    assert nn.AdaptiveAvgPool2d(1)(x).shape == (2, 3, 1, 1)
    out, idx = nn.AdaptiveMaxPool2d((2, 4), return_indices=True)(x)
    assert out.shape == idx.shape == (2, 3, 2, 4)
    assert list(nn.MaxPool2d(2).parameters()) == []


@pytest.mark.parametrize(
    "fn",
    [
        lambda a: max_pool2d(a, 2),
        lambda a: max_pool2d(a, 3, 2, 1),
        lambda a: avg_pool2d(a, 2),
        lambda a: adaptive_avg_pool2d(a, 3),
        lambda a: adaptive_max_pool2d(a, 3),
    ],
)
def test_empty_batch(fn):
    x = glassgrad.randn(0, 3, 8, 8, requires_grad=True)
    out = fn(x)
    assert out.shape[:2] == (0, 3)
    out.sum().backward()
    assert x.grad.shape == (0, 3, 8, 8)
