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
    x = _rand(rng, (3, 5), np.float64) * 10
    g = _rand(rng, (3, 5), np.float64)
    s = ref.sigmoid(x)
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-x)), rtol=1e-14)
    np.testing.assert_allclose(ref.sigmoid_backward(g, s), g * s * (1 - s), rtol=1e-14)
    t = np.tanh(x)
    np.testing.assert_allclose(ref.tanh_backward(g, t), g * (1 - t**2), rtol=1e-14)
    r = ref.relu(x)
    assert np.array_equal(r, np.where(x > 0, x, 0))
    assert np.array_equal(ref.relu_backward(g, r), np.where(x > 0, g, 0))


def test_reference_sigmoid_saturates_without_nan_and_keeps_float32():
    x = np.array([-1000.0, -95.0, 0.0, 88.0, 1000.0, np.nan], dtype=np.float32)
    s = ref.sigmoid(x)
    assert s.dtype == np.float32
    assert s[0] == 0.0 and s[2] == 0.5 and s[4] == 1.0
    # exp(-|x|) never overflows: sigmoid(-95) is a tiny positive float32, not 1/inf = 0.
    assert 0 < s[1] < 1e-40
    assert np.isnan(s[5]) and not np.isnan(s[:5]).any()


@pytest.mark.parametrize("impl", ["reference", "numba"])
def test_zero_dim_arrays(impl):
    if impl == "numba" and numba_kernels is None:
        pytest.skip("numba not installed")
    k = ref if impl == "reference" else numba_kernels
    x = np.array(-0.5, dtype=np.float32)
    g = np.array(2.0, dtype=np.float32)
    s = k.sigmoid(x)
    assert np.asarray(s).shape == () and np.isclose(s, 1 / (1 + np.exp(0.5)))
    assert np.isclose(k.sigmoid_backward(g, s), 2 * s * (1 - s))
    assert k.relu(x) == 0 and k.relu_backward(g, k.relu(x)) == 0
    assert np.isclose(k.tanh_backward(g, np.tanh(x)), 2 * (1 - np.tanh(x) ** 2))


def test_reference_relu_keeps_nan():
    out = ref.relu(np.array([np.nan, -1.0, 2.0], dtype=np.float32))
    assert np.isnan(out[0]) and out[1] == 0 and out[2] == 2


def _pool_2x2_naive(x):
    """PyTorch's loop: scan the window row-major, take a value when it is greater or NaN."""
    n, c, h, w = x.shape
    out = np.empty((n, c, h // 2, w // 2), dtype=x.dtype)
    offsets = np.empty(out.shape, dtype=np.int8)
    for index in np.ndindex(out.shape):
        b, k, oi, oj = index
        best, where = None, 0
        for t, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            v = x[b, k, 2 * oi + i, 2 * oj + j]
            if best is None or v > best or np.isnan(v):
                best, where = v, t
        out[index], offsets[index] = best, where
    return out, offsets


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 2, 7, 9), (2, 1, 2, 2)])
def test_reference_max_pool_2x2_matches_naive_loop(shape):
    rng = np.random.default_rng(3)
    # Rounded values make ties, which resolve to the first maximum; NaNs win, the last one.
    x = np.round(_rand(rng, shape) * 2) / 2
    x[0, 0, 0, 1] = x[0, 0, 1, 1] = np.nan
    out, offsets = ref.max_pool2d_2x2(x)
    want_out, want_offsets = _pool_2x2_naive(x)
    assert np.array_equal(out, want_out, equal_nan=True)
    assert np.array_equal(offsets, want_offsets)
    assert offsets[0, 0, 0, 0] == 3
    grad = _rand(rng, out.shape)
    want = np.zeros(shape, dtype=np.float32)
    for index in np.ndindex(out.shape):
        b, k, oi, oj = index
        i, j = divmod(int(offsets[index]), 2)
        want[b, k, 2 * oi + i, 2 * oj + j] = grad[index]
    assert np.array_equal(ref.max_pool2d_2x2_backward(grad, offsets, shape), want)


def _pool_naive(x, out_hw, kernel, stride, padding, dilation):
    """Max pooling by its definition, window by window in float64, with PyTorch's rule: start at
    the first element inside the input, then a greater or NaN value replaces the best so far."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    planes = x.reshape(-1, *x.shape[-2:]).astype(np.float64)
    out = np.empty((planes.shape[0], *out_hw))
    offsets = np.empty(out.shape, dtype=np.int64)
    for p, oi, oj in np.ndindex(out.shape):
        best, where = None, None
        for i in range(kh):
            for j in range(kw):
                r, q = oi * sh - ph + i * dh, oj * sw - pw + j * dw
                if 0 <= r < x.shape[-2] and 0 <= q < x.shape[-1]:
                    v = planes[p, r, q]
                    if best is None or v > best or np.isnan(v):
                        best, where = v, i * kw + j
        out[p, oi, oj], offsets[p, oi, oj] = best, where
    shape = x.shape[:-2] + tuple(out_hw)
    return out.reshape(shape), offsets.reshape(shape)


def _pool_backward_naive(grad, offsets, x_shape, kernel, stride, padding, dilation):
    (_, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    result = np.zeros((int(np.prod(x_shape[:-2])), *x_shape[-2:]))
    g = grad.reshape(-1, *grad.shape[-2:]).astype(np.float64)
    o = offsets.reshape(g.shape)
    for p, oi, oj in np.ndindex(g.shape):
        i, j = divmod(int(o[p, oi, oj]), kw)
        result[p, oi * sh - ph + i * dh, oj * sw - pw + j * dw] += g[p, oi, oj]
    return result.reshape(x_shape)


# (shape, out_hw, kernel, stride, padding, dilation): ImageNet's 3x3/2 with padding, windows
# that overlap, ceil_mode's window past the edge, dilation, and windows that tile the input.
POOL_CASES = [
    ((2, 3, 9, 9), (5, 5), (3, 3), (2, 2), (1, 1), (1, 1)),
    ((1, 2, 7, 8), (6, 7), (2, 2), (1, 1), (0, 0), (1, 1)),
    ((2, 2, 8, 8), (4, 4), (3, 3), (2, 2), (0, 0), (1, 1)),
    ((1, 3, 11, 10), (4, 4), (3, 2), (2, 3), (1, 1), (2, 2)),
    ((2, 3, 9, 6), (3, 2), (3, 3), (3, 3), (0, 0), (1, 1)),
    ((3, 10, 12), (5, 6), (3, 3), (2, 2), (1, 1), (1, 1)),
]


@pytest.mark.parametrize("case", POOL_CASES)
def test_reference_max_pool_matches_definition(case):
    shape, out_hw, *geometry = case
    rng = np.random.default_rng(4)
    x = np.round(_rand(rng, shape, np.float64) * 2) / 2  # ties resolve to the first maximum
    x.reshape(-1)[[1, 5]] = np.nan
    x[..., 0, :] = -np.inf  # windows whose real values are all -inf point at the first one inside
    out, offsets = ref.max_pool2d(x, out_hw, *geometry)
    want_out, want_offsets = _pool_naive(x, out_hw, *geometry)
    assert np.array_equal(out, want_out, equal_nan=True)
    assert np.array_equal(offsets, want_offsets)
    assert np.array_equal(ref.max_pool2d(x, out_hw, *geometry, offsets=False)[0], want_out, equal_nan=True)
    grad = _rand(rng, out.shape, np.float64)
    got = ref.max_pool2d_backward(grad, offsets, shape, *geometry)
    np.testing.assert_allclose(got, _pool_backward_naive(grad, offsets, shape, *geometry), rtol=1e-15, atol=0)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOL_CASES + [((8, 64, 56, 56), (28, 28), (3, 3), (2, 2), (1, 1), (1, 1))])
@pytest.mark.usefixtures("kernel_variant")
def test_numba_max_pool_matches_definition(dtype, case):
    """Values and offsets equal the definition's; the input gradient equals its float64 sums
    (where windows overlap, the compiled kernel adds in window order)."""
    shape, out_hw, *geometry = case
    rng = np.random.default_rng(9)
    x = np.round(_rand(rng, shape, dtype) * 2) / 2
    x.reshape(-1)[[0, 7, 30]] = np.nan
    x[..., -1, :] = -np.inf
    out, offsets = numba_kernels.max_pool2d(x, out_hw, *geometry)
    want_out, want_offsets = ref.max_pool2d(x, out_hw, *geometry)
    assert out.dtype == dtype and offsets.dtype == np.int8
    assert np.array_equal(out, want_out, equal_nan=True)
    assert np.array_equal(offsets, want_offsets)
    if x.size < 10_000:
        assert np.array_equal(offsets, _pool_naive(x, out_hw, *geometry)[1])
    grad = _rand(rng, out.shape, dtype)
    got = numba_kernels.max_pool2d_backward(grad, offsets, shape, *geometry)
    assert got.dtype == dtype
    want = _pool_backward_naive(grad, offsets, shape, *geometry) if x.size < 10_000 else None
    if want is None:
        want = ref.max_pool2d_backward(grad.astype(np.float64), offsets, shape, *geometry)
    # At most a window's few overlapping gradients meet in one element: a few roundings of them.
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(got, want, rtol=4 * eps, atol=4 * eps * np.abs(grad).max())


# -- numba against the reference, bit for bit -------------------------------------------------


@pytest.fixture(params=["serial", "parallel"])
def kernel_variant(request, monkeypatch):
    """Each compiled kernel both ways: as plain loops and shared among numba's threads."""
    if numba_kernels is None:
        return None
    monkeypatch.setattr(numba_kernels, "PARALLEL_MIN", 1 << 62 if request.param == "serial" else 0)
    return request.param


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (3, 5, 11), (4, 64, 32, 32)])  # NumPy and compiled paths
@pytest.mark.usefixtures("kernel_variant")
def test_numba_elementwise_equals_reference(dtype, shape):
    rng = np.random.default_rng(4)
    x = _rand(rng, shape, dtype)
    x.reshape(-1)[:3] = [np.nan, 0.0, -0.0]
    g = _rand(rng, shape, dtype)
    s = ref.sigmoid(x)
    t = np.tanh(x)
    r = ref.relu(x)
    sigmoid = numba_kernels.sigmoid(x)
    if dtype == np.float32 and x.size >= numba_kernels.COMPILED_MIN:
        # float32 sigmoid has its own vectorised exp (within 3 ulp of NumPy's); float64 is bit-exact.
        _assert_within_ulp(sigmoid, s, 3)
        sigmoid = s
    pairs = [
        (sigmoid, s),
        (numba_kernels.sigmoid_backward(g, s), ref.sigmoid_backward(g, s)),
        (numba_kernels.relu(x), r),
        (numba_kernels.relu_backward(g, r), ref.relu_backward(g, r)),
        (numba_kernels.tanh_backward(g, t), ref.tanh_backward(g, t)),
    ]
    # ReLU6's backward from its output, values on both edges included (there the gradient is 0).
    h = np.clip(x * 4, 0, 6)
    h.reshape(-1)[3:5] = [0.0, 6.0]
    want = np.where((h > 0) & (h < 6), g, 0).astype(dtype)
    pairs += [(numba_kernels.hardtanh_backward(g, h, 0.0, 6.0), want), (ref.hardtanh_backward(g, h, 0.0, 6.0), want)]
    for got, want in pairs:
        assert got.dtype == want.dtype == dtype
        assert np.array_equal(got, want, equal_nan=True)


@needs_numba
def test_numba_elementwise_accepts_non_contiguous_input():
    rng = np.random.default_rng(5)
    x = _rand(rng, (256, 300)).T  # large enough for the compiled path
    g = _rand(rng, (300, 256))
    assert np.array_equal(numba_kernels.relu(x), ref.relu(x))
    assert np.array_equal(numba_kernels.relu_backward(g, x), ref.relu_backward(g, x))
    _assert_within_ulp(numba_kernels.sigmoid(x), ref.sigmoid(x), 3)


def _assert_within_ulp(got, want, ulps):
    assert got.dtype == want.dtype and got.shape == want.shape
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    np.testing.assert_array_max_ulp(got[~nan], want[~nan], maxulp=ulps)


@needs_numba
@pytest.mark.usefixtures("kernel_variant")
def test_numba_float32_sigmoid_over_the_whole_range():
    """Every regime of the float32 exp: subnormal results (x below -87), the floor at -104 where
    exp rounds to 0, saturation at 1, signed zeros, infinities and NaN."""
    x = np.linspace(-120, 120, 1 << 16, dtype=np.float32)
    x[:7] = [np.nan, 0.0, -0.0, np.inf, -np.inf, -95.0, -103.9]
    got, want = numba_kernels.sigmoid(x), ref.sigmoid(x)
    _assert_within_ulp(got, want, 3)
    assert np.isnan(got[0]) and got[1] == got[2] == 0.5 and got[3] == 1.0 and got[4] == 0.0
    assert 0 < got[5] < 1e-40  # a subnormal, as the reference gives, not 0
    assert np.all(np.diff(got[7:]) >= 0)  # monotone, with no seams between the exp's intervals


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (4, 16, 33, 31), (128, 8, 16, 16)])
@pytest.mark.usefixtures("kernel_variant")
def test_numba_max_pool_2x2_equals_reference(dtype, shape):
    rng = np.random.default_rng(8)
    x = np.round(_rand(rng, shape, dtype) * 2) / 2
    x[0, 0, 0, 1] = x[-1, -1, 1, 0] = np.nan
    got_out, got_offsets = numba_kernels.max_pool2d_2x2(x)
    want_out, want_offsets = ref.max_pool2d_2x2(x)
    assert got_out.dtype == dtype and got_offsets.dtype == np.int8
    assert np.array_equal(got_out, want_out, equal_nan=True)
    assert np.array_equal(got_offsets, want_offsets)
    grad = _rand(rng, want_out.shape, dtype)
    got = numba_kernels.max_pool2d_2x2_backward(grad, got_offsets, shape)
    assert np.array_equal(got, ref.max_pool2d_2x2_backward(grad, want_offsets, shape))


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "options",
    [(0.9, 0.0, 0.0, False), (0.9, 0.1, 5e-4, False), (0.8, 0.0, 1e-2, True)],
    ids=["momentum", "dampening+decay", "nesterov+decay"],
)
@pytest.mark.usefixtures("kernel_variant")
def test_numba_sgd_momentum_equals_reference_and_definition(dtype, options):
    momentum, dampening, weight_decay, nesterov = options
    rng = np.random.default_rng(12)
    param, buf, grad = (_rand(rng, (300, 170), dtype) for _ in range(3))
    want_param, want_buf = param.copy(), buf.copy()
    ref.sgd_momentum(want_param, want_buf, grad, 0.05, *options)
    numba_kernels.sgd_momentum(param, buf, grad, 0.05, *options)
    assert np.array_equal(param, want_param) and np.array_equal(buf, want_buf)
    # The definition in float64, from the same starting values.
    rng = np.random.default_rng(12)
    p0, b0, g0 = (_rand(rng, (300, 170), dtype).astype(np.float64) for _ in range(3))
    g0 = g0 + weight_decay * p0
    b1 = momentum * b0 + (1 - dampening) * g0
    p1 = p0 - 0.05 * (g0 + momentum * b1 if nesterov else b1)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(buf, b1, rtol=tol, atol=tol)
    np.testing.assert_allclose(param, p1, rtol=tol, atol=tol)


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


# -- mid-sized products on one BLAS thread -----------------------------------------------------


@pytest.mark.parametrize(
    "m, k, n",
    [(128, 2048, 256), (256, 128, 2048), (32, 27, 500), (64, 300, 40), (5, 64, 6), (1, 70, 3), (3, 1, 2)],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul2d_equals_matmul(m, k, n, dtype):
    from glassgrad.backend import matmul2d

    rng = np.random.default_rng(9)
    a, b = _rand(rng, (m, k), dtype), _rand(rng, (k, n), dtype)
    want = a.astype(np.float64) @ b.astype(np.float64)
    for left, right in ((a, b), (np.asfortranarray(a), b), (a, b.T.copy().T)):
        got = matmul2d(left, right)
        assert got.shape == (m, n) and got.dtype == dtype
        tolerance = 1e-4 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * np.sqrt(k))


@needs_numba
def test_numba_kernels_hand_float16_to_numpy():
    rng = np.random.default_rng(11)
    x = _rand(rng, (4, 8, 64, 64), np.float16)
    assert np.array_equal(numba_kernels.relu(x), ref.relu(x))
    out, offsets = numba_kernels.max_pool2d_2x2(x)
    want_out, want_offsets = ref.max_pool2d_2x2(x)
    assert out.dtype == np.float16 and np.array_equal(out, want_out) and np.array_equal(offsets, want_offsets)
    grad = _rand(rng, out.shape, np.float16)
    assert np.array_equal(
        numba_kernels.max_pool2d_2x2_backward(grad, offsets, x.shape),
        ref.max_pool2d_2x2_backward(grad, offsets, x.shape),
    )


def test_kernels_from_many_threads_at_once():
    """The backend serialises compiled kernels, so concurrent callers get correct results."""
    from concurrent.futures import ThreadPoolExecutor

    from glassgrad import backend

    rng = np.random.default_rng(10)
    xs = [_rand(rng, (64, 1024)) for _ in range(8)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(backend.relu, xs))
    for x, got in zip(xs, results):
        assert np.array_equal(got, ref.relu(x))


def test_matmul2d_restores_the_blas_thread_count():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from glassgrad.backend import matmul2d

    before = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    a = np.ones((128, 2048), dtype=np.float32)
    b = np.ones((2048, 256), dtype=np.float32)
    assert matmul2d(a, b)[0, 0] == 2048
    after = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    assert after == before


def test_single_threaded_blas_sets_one_thread_and_restores_the_count_after_an_error():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from glassgrad.backend import single_threaded_blas

    def counts():
        return [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = counts()
        assert before and all(n == 2 for n in before)
        with pytest.raises(RuntimeError, match="inside"):
            with single_threaded_blas():
                assert all(n == 1 for n in counts())
                raise RuntimeError("inside")
        assert counts() == before


@pytest.mark.parametrize("m, threaded", [(16, False), (31, False), (32, True), (128, True)])
def test_matmul2d_threads_only_large_products(m, threaded, monkeypatch):
    """Below 16 M multiply-adds one BLAS thread, the same bits as a plain single-threaded
    product; from there on OpenBLAS's own threads."""
    from glassgrad import backend

    pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(12)
    a, b = _rand(rng, (m, 2048)), _rand(rng, (2048, 256))  # 32 rows: 16.8 M multiply-adds
    entered = []
    single = backend.single_threaded_blas
    monkeypatch.setattr(backend, "single_threaded_blas", lambda: entered.append(m) or single())
    got = backend.matmul2d(a, b)
    assert entered == ([] if threaded else [m])
    if not threaded:
        with single():
            assert np.array_equal(got, np.dot(a, b))
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


def test_matmul2d_rejects_batches():
    from glassgrad.backend import matmul2d

    with pytest.raises(ValueError, match="2-D"):
        matmul2d(np.ones((2, 3, 4)), np.ones((4, 5)))


# -- batch norm in training mode ------------------------------------------------------------------


def _bn_plain(x, weight, bias, eps):
    x = x.astype(np.float64)
    axes = (0, 2, 3)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    x_hat = (x - mean) / np.sqrt(var + eps)
    return x_hat * weight.reshape(1, -1, 1, 1) + bias.reshape(1, -1, 1, 1), x_hat, mean.ravel(), var.ravel()


def test_reference_batch_norm_matches_definition_and_its_gradient():
    rng = np.random.default_rng(12)
    x = _rand(rng, (4, 3, 5, 6), np.float64) * 2 + 1
    w, b, g = _rand(rng, (3,), np.float64), _rand(rng, (3,), np.float64), _rand(rng, x.shape, np.float64)
    out, mean, var, invstd = ref.batch_norm_train(x, w, b, 1e-5)
    want_out, want_hat, want_mean, want_var = _bn_plain(x, w, b, 1e-5)
    for got, want in ((out, want_out), (mean, want_mean), (var, want_var)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    grad_x, grad_w, grad_b = ref.batch_norm_train_backward(g, x, mean, invstd, w)
    # Central differences of sum(out * g) in float64.
    h = 1e-6
    for index in [(0, 0, 0, 0), (3, 2, 4, 5), (1, 1, 2, 3)]:
        xp, xm = x.copy(), x.copy()
        xp[index] += h
        xm[index] -= h
        numeric = ((_bn_plain(xp, w, b, 1e-5)[0] - _bn_plain(xm, w, b, 1e-5)[0]) * g).sum() / (2 * h)
        np.testing.assert_allclose(grad_x[index], numeric, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(grad_w, (g * want_hat).sum(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(grad_b, g.sum(axis=(0, 2, 3)), rtol=1e-12)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(64, 8, 12, 10), (64, 8, 7, 11)])  # rows of 4k and 4k + 1 values
@pytest.mark.usefixtures("kernel_variant")
def test_numba_batch_norm_matches_reference(dtype, affine, shape):
    rng = np.random.default_rng(13)
    x = _rand(rng, shape, dtype) * 3 + 2  # 61,440 or 39,424 elements: the compiled path
    w = _rand(rng, (8,), dtype) if affine else None
    b = _rand(rng, (8,), dtype) if affine else None
    g = _rand(rng, x.shape, dtype)
    got = numba_kernels.batch_norm_train(x, w, b, 1e-5)
    want = ref.batch_norm_train(x, w, b, 1e-5)
    # float64 sums in the compiled pass: equal to float32 rounding, not bit for bit.
    tolerance = 2e-5 if dtype == np.float32 else 1e-12
    for a, e in zip(got, want):
        assert a.dtype == dtype and a.shape == e.shape
        np.testing.assert_allclose(a, e, rtol=tolerance, atol=tolerance)
    got_back = numba_kernels.batch_norm_train_backward(g, x, want[1], want[3], w)
    want_back = ref.batch_norm_train_backward(g, x, want[1], want[3], w)
    for a, e in zip(got_back, want_back):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, e, rtol=tolerance, atol=tolerance * np.abs(e).max())


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_batch_norm_statistics_far_from_zero(dtype):
    # One pass computes the variance from shifted sums; a mean of 1000 with a spread of 0.01 (and
    # an outlier as the first value, the shift) must still give the data's exact statistics to
    # the dtype's rounding. (NumPy's float32 two-pass reference is off by up to 1e-4 here.)
    rng = np.random.default_rng(14)
    x = (1000 + 0.01 * rng.standard_normal((64, 4, 16, 16))).astype(dtype)
    x[0, :, 0, 0] = 1000.5
    exact = x.astype(np.float64)
    _, mean, var, _ = numba_kernels.batch_norm_train(x, None, None, 1e-5)
    # float64 keeps about 11 digits of the variance here: the outlier is 45 spreads from the mean.
    tolerance = 1e-6 if dtype == np.float32 else 1e-10
    assert mean.dtype == var.dtype == dtype
    np.testing.assert_allclose(mean, exact.mean(axis=(0, 2, 3)), rtol=tolerance)
    np.testing.assert_allclose(var, exact.var(axis=(0, 2, 3)), rtol=tolerance)


def _col2im_naive(grad_cols, out_shape, stride, top_left, dilation):
    """Test-only: the scatter, one element at a time."""
    groups, kh, kw, cg, b, h_out, w_out = grad_cols.shape
    out = np.zeros(out_shape, grad_cols.dtype)
    (sh, sw), (pt, pl), (dh, dw) = stride, top_left, dilation
    for g, i, j, c, n, y, x in np.ndindex(grad_cols.shape):
        row, col = y * sh - pt + i * dh, x * sw - pl + j * dw
        if 0 <= row < out_shape[2] and 0 <= col < out_shape[3]:
            out[n, g * cg + c, row, col] += grad_cols[g, i, j, c, n, y, x]
    return out


# (groups, kh, kw, cg, b, h_out, w_out), image (H, W), stride, (top, left) padding, dilation
COL2IM_CASES = [
    ((1, 3, 3, 4, 2, 6, 7), (6, 7), (1, 1), (1, 1), (1, 1)),
    ((2, 3, 2, 3, 2, 3, 4), (7, 8), (2, 2), (1, 0), (1, 1)),
    ((1, 3, 3, 2, 3, 3, 3), (9, 9), (3, 3), (2, 0), (1, 2)),
    ((1, 2, 3, 2, 1, 4, 2), (5, 6), (1, 2), (0, 2), (2, 1)),
]


@pytest.mark.parametrize("case", COL2IM_CASES)
def test_reference_col2im_matches_the_scatter(case):
    shape, hw, stride, top_left, dilation = case
    grad_cols = _rand(np.random.default_rng(15), shape, np.float64)
    out = np.full((shape[4], shape[0] * shape[3], *hw), np.nan)
    ref.col2im(grad_cols, out, stride, top_left, dilation)
    np.testing.assert_allclose(out, _col2im_naive(grad_cols, out.shape, stride, top_left, dilation), atol=1e-12)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", COL2IM_CASES)
def test_numba_col2im_equals_reference_bit_for_bit(case, dtype):
    shape, hw, stride, top_left, dilation = case
    grad_cols = _rand(np.random.default_rng(16), shape, dtype)
    want = np.empty((shape[4], shape[0] * shape[3], *hw), dtype)
    ref.col2im(grad_cols, want, stride, top_left, dilation)
    got = np.full_like(want, np.nan)  # every element is written, the padding's share dropped
    numba_kernels.col2im(grad_cols, got, stride, top_left, dilation)
    np.testing.assert_array_equal(got, want)
    # A non-contiguous destination takes the NumPy path, with the same result.
    wide = np.full((*want.shape[:3], want.shape[3] * 2), np.nan, dtype)
    numba_kernels.col2im(grad_cols, wide[..., ::2], stride, top_left, dilation)
    np.testing.assert_array_equal(wide[..., ::2], want)


_STEP = """
import json, numpy as np, glassgrad as torch
import glassgrad.nn as nn, glassgrad.nn.functional as F
from glassgrad import backend
torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 16, 3, padding=1), nn.Sigmoid(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 8 * 8, 10),
)
rng = np.random.default_rng(0)
x = torch.tensor(rng.standard_normal((8, 3, 32, 32), dtype=np.float32))
y = torch.tensor(rng.integers(0, 10, 8))
loss = F.cross_entropy(model(x), y)
loss.backward()
grads = {name: p.grad.numpy().tolist() for name, p in model.named_parameters()}
print(json.dumps([backend.BACKEND, loss.item(), grads]))
"""


def _step_in_child(no_numba):
    env = dict(os.environ)
    env.pop("GLASSGRAD_NO_NUMBA", None)
    if no_numba:
        env["GLASSGRAD_NO_NUMBA"] = "1"
    result = subprocess.run([sys.executable, "-c", _STEP], capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.splitlines()[-1])


@needs_numba
def test_a_training_step_is_the_same_with_and_without_numba():
    """Conv, batch norm, ReLU, sigmoid, 2x2 pooling and linear, on the forced NumPy fallback and on
    the compiled kernels: the same loss and gradients to float32 rounding."""
    fallback, compiled = _step_in_child(True), _step_in_child(False)
    assert fallback[0] == "numpy" and compiled[0] == "numba"
    assert abs(fallback[1] - compiled[1]) <= 1e-6 * abs(fallback[1])
    assert fallback[2].keys() == compiled[2].keys()
    for name, grad in fallback[2].items():
        want = np.array(grad)
        # atol floor: the first conv's bias gradient is zero up to rounding (batch norm follows it).
        atol = max(1e-5 * np.abs(want).max(), 1e-7)
        np.testing.assert_allclose(np.array(compiled[2][name]), want, rtol=1e-4, atol=atol, err_msg=name)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# A batch of 64, and a batch-1 map just above the compiled kernel's threshold (BN_EVAL_MIN).
@pytest.mark.parametrize("shape", [(64, 8, 12, 10), (1, 8, 6, 6)])
@pytest.mark.usefixtures("kernel_variant")
def test_batch_norm_eval_reference_and_numba(affine, dtype, shape):
    rng = np.random.default_rng(14)
    x = (_rand(rng, shape) * 3 + 2).astype(dtype)
    mean, var = _rand(rng, (8,)).astype(dtype), (_rand(rng, (8,)) ** 2 + 0.5).astype(dtype)
    w = _rand(rng, (8,)).astype(dtype) if affine else None
    b = _rand(rng, (8,)).astype(dtype) if affine else None
    want = (x.astype(np.float64) - mean.reshape(1, -1, 1, 1)) / np.sqrt(var.reshape(1, -1, 1, 1) + 1e-5)
    if affine:
        want = want * w.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1)
    got = ref.batch_norm_eval(x, mean, var, w, b, 1e-5)
    assert got.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    if numba_kernels is not None:
        assert np.array_equal(numba_kernels.batch_norm_eval(x, mean, var, w, b, 1e-5), got)


def _sigmoid_sum(seed):
    from glassgrad import backend

    x = np.random.default_rng(seed).standard_normal(200_000).astype(np.float32)
    return float(backend.sigmoid(x).sum())


def test_sigmoid_in_a_forked_child_after_the_parent_used_it():
    """The exp thread pool is per process: a forked DataLoader worker must not wait on the
    parent's threads (which it does not have)."""
    import multiprocessing

    parent = _sigmoid_sum(0)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child = pool.apply_async(_sigmoid_sum, (0,)).get(timeout=60)
    assert child == parent
