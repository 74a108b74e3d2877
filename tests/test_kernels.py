"""glassgrad.backend: the NumPy reference kernels against plain definitions, the numba kernels
against the reference (bit for bit), and the forced NumPy fallback (GLASSGRAD_NO_NUMBA=1)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from glassgrad.backend import numpy_kernels as ref

numba_kernels = None
try:
    from glassgrad.backend import numba_kernels
except ImportError:
    pass

needs_numba = pytest.mark.skipif(numba_kernels is None, reason="numba not installed: compiled kernels not tested")


def _rand(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# -- the reference against plain definitions ------------------------------------------------


def test_reference_elementwise_definitions():
    rng = np.random.default_rng(0)
    x = _rand(rng, (3, 5), np.float64)
    g = _rand(rng, (3, 5), np.float64)
    s = ref.sigmoid(x)
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(ref.sigmoid_backward(g, s), g * s * (1 - s), rtol=1e-14)
    t = np.tanh(x)
    np.testing.assert_allclose(ref.tanh_backward(g, t), g * (1 - t**2), rtol=1e-14)
    r = ref.relu(x)
    assert np.array_equal(r, np.where(x > 0, x, 0))
    assert np.array_equal(ref.relu_backward(g, r), np.where(x > 0, g, 0))


def test_reference_sigmoid_saturates_without_nan_and_keeps_float32():
    x = np.array([-1000.0, -88.0, 0.0, 88.0, 1000.0], dtype=np.float32)
    s = ref.sigmoid(x)
    assert s.dtype == np.float32
    assert s[0] == 0.0 and s[2] == 0.5 and s[-1] == 1.0
    assert not np.isnan(s).any()


def test_reference_relu_keeps_nan():
    out = ref.relu(np.array([np.nan, -1.0, 2.0], dtype=np.float32))
    assert np.isnan(out[0]) and out[1] == 0 and out[2] == 2


def test_reference_layout_changes():
    rng = np.random.default_rng(1)
    x = _rand(rng, (2, 3, 4, 5))
    xp = ref.nchw_to_padded_nhwc(x, 1, 2, 0, 1)
    assert xp.shape == (2, 7, 6, 3)
    assert np.array_equal(xp[:, 1:5, 0:5, :], x.transpose(0, 2, 3, 1))
    assert xp[:, 0].sum() == 0 and xp[:, 5:].sum() == 0 and xp[:, :, 5].sum() == 0
    rows = x.transpose(0, 2, 3, 1).reshape(-1, 3)
    bias = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    assert np.array_equal(ref.nhwc_to_nchw(rows, 2, 4, 5), x)
    assert np.array_equal(ref.nhwc_to_nchw(rows, 2, 4, 5, bias), x + bias.reshape(1, 3, 1, 1))
    assert np.array_equal(ref.nchw_to_nhwc(x), x.transpose(0, 2, 3, 1))


def _col2im_naive(grad_cols, x_shape, stride, padding, dilation):
    n, h_out, w_out, kh, kw, c = grad_cols.shape
    (pt, _), (pl, _) = padding
    out = np.zeros(x_shape, dtype=np.float64)
    for oi in range(h_out):
        for oj in range(w_out):
            for i in range(kh):
                for j in range(kw):
                    r, q = oi * stride[0] + i * dilation[0] - pt, oj * stride[1] + j * dilation[1] - pl
                    if 0 <= r < x_shape[2] and 0 <= q < x_shape[3]:
                        out[:, :, r, q] += grad_cols[:, oi, oj, i, j, :]
    return out


COL2IM_CASES = [
    # (x_shape (N, C, H, W), kernel, stride, padding ((top, bottom), (left, right)), dilation)
    ((2, 3, 6, 6), (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    ((2, 2, 7, 5), (3, 2), (2, 1), ((1, 0), (0, 1)), (1, 1)),
    ((1, 4, 9, 9), (3, 3), (2, 2), ((2, 2), (2, 2)), (2, 2)),
    ((3, 1, 4, 4), (1, 1), (2, 2), ((0, 0), (0, 0)), (1, 1)),
]


def _out_size(size, k, s, pads, d):
    return (size + pads[0] + pads[1] - d * (k - 1) - 1) // s + 1


@pytest.mark.parametrize("x_shape, kernel, stride, padding, dilation", COL2IM_CASES)
def test_reference_col2im_matches_naive_loop(x_shape, kernel, stride, padding, dilation):
    rng = np.random.default_rng(2)
    h_out = _out_size(x_shape[2], kernel[0], stride[0], padding[0], dilation[0])
    w_out = _out_size(x_shape[3], kernel[1], stride[1], padding[1], dilation[1])
    grad_cols = _rand(rng, (x_shape[0], h_out, w_out, *kernel, x_shape[1]), np.float64)
    got = ref.col2im_nhwc(grad_cols, x_shape, stride, padding, dilation)
    np.testing.assert_allclose(got, _col2im_naive(grad_cols, x_shape, stride, padding, dilation), rtol=1e-12)


def _pool_naive(x, kernel, stride, padding, dilation, out_hw):
    n, c, h, w = x.shape
    out = np.full((n, c, *out_hw), -np.inf, dtype=x.dtype)
    arg = np.full((n, c, *out_hw), -1, dtype=np.int64)
    for b in range(n):
        for k in range(c):
            for oi in range(out_hw[0]):
                for oj in range(out_hw[1]):
                    for i in range(kernel[0]):
                        for j in range(kernel[1]):
                            r = oi * stride[0] + i * dilation[0] - padding[0]
                            q = oj * stride[1] + j * dilation[1] - padding[1]
                            if 0 <= r < h and 0 <= q < w:
                                v = x[b, k, r, q]
                                if arg[b, k, oi, oj] < 0 or v > out[b, k, oi, oj]:
                                    out[b, k, oi, oj], arg[b, k, oi, oj] = v, r * w + q
    return out, arg


POOL_CASES = [
    # (x_shape, kernel, stride, padding, dilation, out_hw); the last runs past the edge (ceil_mode)
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), (1, 1), (4, 4)),
    ((2, 3, 9, 7), (2, 2), (2, 2), (0, 0), (1, 1), (4, 3)),
    ((1, 2, 7, 7), (3, 3), (2, 2), (1, 1), (1, 1), (4, 4)),
    ((1, 2, 9, 8), (3, 2), (1, 2), (1, 0), (2, 1), (7, 4)),
    ((1, 2, 5, 5), (2, 2), (2, 2), (0, 0), (1, 1), (3, 3)),
]


@pytest.mark.parametrize("x_shape, kernel, stride, padding, dilation, out_hw", POOL_CASES)
def test_reference_max_pool_matches_naive_loop(x_shape, kernel, stride, padding, dilation, out_hw):
    rng = np.random.default_rng(3)
    # Rounded values make ties, which must resolve to the first maximum.
    x = np.round(_rand(rng, x_shape) * 2) / 2
    out, arg = ref.max_pool2d(x, kernel, stride, padding, dilation, out_hw)
    want_out, want_arg = _pool_naive(x, kernel, stride, padding, dilation, out_hw)
    assert np.array_equal(out, want_out)
    assert np.array_equal(arg, want_arg)
    grad = _rand(rng, out.shape)
    want = np.zeros(x.size, dtype=np.float64)
    flat = want_arg + (np.arange(x_shape[0] * x_shape[1]) * x_shape[2] * x_shape[3]).reshape(*x_shape[:2], 1, 1)
    np.add.at(want, flat.reshape(-1), grad.reshape(-1))
    np.testing.assert_allclose(ref.max_pool2d_backward(grad, arg, x_shape), want.reshape(x_shape), rtol=1e-6)


def test_reference_max_pool_nan_wins():
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]]]], dtype=np.float32)
    out, arg = ref.max_pool2d(x, (2, 2), (2, 2), (0, 0), (1, 1), (1, 1))
    assert np.isnan(out[0, 0, 0, 0]) and arg[0, 0, 0, 0] == 1


# -- numba against the reference, bit for bit -------------------------------------------------


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (3, 5, 11), (4, 64, 32, 32)])  # serial and parallel paths
def test_numba_elementwise_equals_reference(dtype, shape):
    rng = np.random.default_rng(4)
    x = _rand(rng, shape, dtype)
    x.reshape(-1)[:3] = [np.nan, 0.0, -0.0]
    g = _rand(rng, shape, dtype)
    s = ref.sigmoid(x)
    t = np.tanh(x)
    r = ref.relu(x)
    pairs = [
        (numba_kernels.sigmoid(x), s),
        (numba_kernels.sigmoid_backward(g, s), ref.sigmoid_backward(g, s)),
        (numba_kernels.relu(x), r),
        (numba_kernels.relu_backward(g, r), ref.relu_backward(g, r)),
        (numba_kernels.tanh_backward(g, t), ref.tanh_backward(g, t)),
    ]
    for got, want in pairs:
        assert got.dtype == want.dtype == dtype
        assert np.array_equal(got, want, equal_nan=True)


@needs_numba
def test_numba_elementwise_accepts_non_contiguous_input():
    rng = np.random.default_rng(5)
    x = _rand(rng, (6, 8)).T
    g = _rand(rng, (8, 6))
    assert np.array_equal(numba_kernels.relu(x), ref.relu(x))
    assert np.array_equal(numba_kernels.relu_backward(g, x), ref.relu_backward(g, x))


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_layout_changes_equal_reference(dtype):
    rng = np.random.default_rng(6)
    x = _rand(rng, (3, 5, 7, 6), dtype)
    assert np.array_equal(numba_kernels.nchw_to_padded_nhwc(x, 1, 2, 0, 1), ref.nchw_to_padded_nhwc(x, 1, 2, 0, 1))
    assert np.array_equal(numba_kernels.nchw_to_nhwc(x), ref.nchw_to_nhwc(x))
    rows = _rand(rng, (3 * 7 * 6, 5), dtype)
    bias = _rand(rng, (5,), dtype)
    assert np.array_equal(numba_kernels.nhwc_to_nchw(rows, 3, 7, 6), ref.nhwc_to_nchw(rows, 3, 7, 6))
    assert np.array_equal(numba_kernels.nhwc_to_nchw(rows, 3, 7, 6, bias), ref.nhwc_to_nchw(rows, 3, 7, 6, bias))


@needs_numba
@pytest.mark.parametrize("x_shape, kernel, stride, padding, dilation", COL2IM_CASES)
def test_numba_col2im_equals_reference(x_shape, kernel, stride, padding, dilation):
    rng = np.random.default_rng(7)
    h_out = _out_size(x_shape[2], kernel[0], stride[0], padding[0], dilation[0])
    w_out = _out_size(x_shape[3], kernel[1], stride[1], padding[1], dilation[1])
    grad_cols = _rand(rng, (x_shape[0], h_out, w_out, *kernel, x_shape[1]))
    got = numba_kernels.col2im_nhwc(grad_cols, x_shape, stride, padding, dilation)
    assert np.array_equal(got, ref.col2im_nhwc(grad_cols, x_shape, stride, padding, dilation))


@needs_numba
@pytest.mark.parametrize("x_shape, kernel, stride, padding, dilation, out_hw", POOL_CASES)
def test_numba_max_pool_equals_reference(x_shape, kernel, stride, padding, dilation, out_hw):
    rng = np.random.default_rng(8)
    x = np.round(_rand(rng, x_shape) * 2) / 2
    x[0, 0, 1, 1] = np.nan
    got_out, got_arg = numba_kernels.max_pool2d(x, kernel, stride, padding, dilation, out_hw)
    want_out, want_arg = ref.max_pool2d(x, kernel, stride, padding, dilation, out_hw)
    assert np.array_equal(got_out, want_out, equal_nan=True)
    assert np.array_equal(got_arg, want_arg)
    grad = _rand(rng, want_out.shape)
    got = numba_kernels.max_pool2d_backward(grad, got_arg, x_shape)
    assert np.array_equal(got, ref.max_pool2d_backward(grad, want_arg, x_shape))


# -- choosing the backend ---------------------------------------------------------------------


def _backend_in_child(env_value):
    env = dict(os.environ)
    env.pop("GLASSGRAD_NO_NUMBA", None)
    if env_value is not None:
        env["GLASSGRAD_NO_NUMBA"] = env_value
    code = (
        "import json, sys, numpy as np; import glassgrad.backend as b; "
        "out = b.relu(np.array([-1.0, 2.0], dtype=np.float32)).tolist(); "
        "print(json.dumps([b.BACKEND, b.REASON, out, 'numba' in sys.modules]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout)


def test_glassgrad_no_numba_forces_the_numpy_fallback():
    backend, reason, out, numba_loaded = _backend_in_child("1")
    assert backend == "numpy"
    assert "GLASSGRAD_NO_NUMBA" in reason
    assert out == [0.0, 2.0]
    assert not numba_loaded


@needs_numba
def test_numba_is_chosen_when_installed_and_loaded_only_on_first_use():
    backend, _, out, numba_loaded = _backend_in_child(None)
    assert backend == "numba" and out == [0.0, 2.0] and numba_loaded
    code = "import sys, glassgrad; print('numba' in sys.modules)"
    lazy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert lazy.stdout.strip() == "False"
