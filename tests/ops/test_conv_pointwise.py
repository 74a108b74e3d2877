"""1x1 convolutions as per-image products ("pointwise"): forward and both gradients against the
float64 definition, gradcheck, the selector's choice, one-sided gradients, and parity with PyTorch."""

import numpy as np
import pytest

import glassgrad
from glassgrad.autograd import gradcheck
from glassgrad.backends import conv as conv_flags
from glassgrad.nn.functional import conv2d
from glassgrad.ops.conv import select
from glassgrad.ops.conv.geometry import Geometry


def definition(x, w, b, g):
    """Test-only float64 reference of a 1x1 convolution: out, grad_x, grad_w, grad_b."""
    x, w, g = (np.asarray(a, dtype=np.float64) for a in (x, w, g))
    m = w[:, :, 0, 0]
    out = np.einsum("oc,nchw->nohw", m, x)
    if b is not None:
        out += np.asarray(b, np.float64).reshape(1, -1, 1, 1)
    grad_x = np.einsum("oc,nohw->nchw", m, g)
    grad_w = np.einsum("nohw,nchw->oc", g, x)[:, :, None, None]
    return out, grad_x, grad_w, g.sum(axis=(0, 2, 3))


def _run(x, w, b, g, need_x=True, need_w=True):
    xt = glassgrad.tensor(x, requires_grad=need_x)
    wt = glassgrad.tensor(w, requires_grad=need_w)
    bt = None if b is None else glassgrad.tensor(b, requires_grad=True)
    out = conv2d(xt, wt, bt)
    out.backward(glassgrad.tensor(g))
    grads = [t.grad.numpy() if t is not None and t.grad is not None else None for t in (xt, wt, bt)]
    return [out.detach().numpy(), *grads]


@pytest.mark.parametrize(
    "shape, c_out", [((2, 5, 6, 7), 3), ((40, 16, 4, 4), 24), ((1, 8, 1, 1), 8), ((3, 6, 9, 8), 10)]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [False, True])
def test_forward_and_gradients_match_the_float64_definition(shape, c_out, dtype, bias, rng):
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((c_out, shape[1], 1, 1)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if bias else None
    g = rng.standard_normal((shape[0], c_out, *shape[2:])).astype(dtype)
    # float32: the weight gradient sums up to 640 products of unit size (one product per chunk of
    # images, 2e-5 off where the sum cancels to 0.1)
    tol = {"rtol": 1e-5, "atol": 5e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    for name, a, e in zip(("out", "grad_x", "grad_w", "grad_b"), _run(x, w, b, g), definition(x, w, b, g)):
        if a is None:
            assert name == "grad_b" and not bias
            continue
        assert a.dtype == dtype, name
        np.testing.assert_allclose(a, e, err_msg=name, **tol)


def test_one_sided_gradients(rng):
    x = rng.standard_normal((3, 4, 5, 5)).astype(np.float32)
    w = rng.standard_normal((6, 4, 1, 1)).astype(np.float32)
    g = rng.standard_normal((3, 6, 5, 5)).astype(np.float32)
    _, want_x, want_w, _ = definition(x, w, None, g)
    _, gx, gw, _ = _run(x, w, None, g, need_x=True, need_w=False)
    assert gw is None
    np.testing.assert_allclose(gx, want_x, rtol=1e-5, atol=1e-5)
    _, gx, gw, _ = _run(x, w, None, g, need_x=False, need_w=True)
    assert gx is None
    np.testing.assert_allclose(gw, want_w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(5, 4, 3, 3), (3, 6, 9, 8), (33, 8, 8, 8)])  # 1 to 33 images a chunk
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forced_pointwise_gradients_match_the_float64_definition(shape, dtype, rng):
    # Forced, every pass runs the per-image products, small maps included.
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((7, shape[1], 1, 1)).astype(dtype)
    g = rng.standard_normal((shape[0], 7, *shape[2:])).astype(dtype)
    geo = Geometry(shape, w.shape, (1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    with conv_flags.flags(algorithm="pointwise"):
        assert select.select(geo, dtype) == ("pointwise", "pointwise", "pointwise")
        got = _run(x, w, None, g)
        _, _, gw_only, _ = _run(x, w, None, g, need_x=False)
    tol = {"rtol": 1e-5, "atol": 5e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    for name, a, e in zip(("out", "grad_x", "grad_w"), got, definition(x, w, None, g)):
        assert a.dtype == dtype, name
        np.testing.assert_allclose(a, e, err_msg=name, **tol)
    np.testing.assert_array_equal(gw_only, got[2])


def test_forced_pointwise_gradcheck_float64(rng):
    x = glassgrad.tensor(rng.standard_normal((3, 3, 4, 3)), requires_grad=True)
    w = glassgrad.tensor(rng.standard_normal((5, 3, 1, 1)), requires_grad=True)
    with conv_flags.flags(algorithm="pointwise"):
        assert gradcheck(lambda a, k: conv2d(a, k), (x, w))


def test_gradcheck_float64(rng):
    x = glassgrad.tensor(rng.standard_normal((2, 3, 4, 3)), requires_grad=True)
    w = glassgrad.tensor(rng.standard_normal((5, 3, 1, 1)), requires_grad=True)
    b = glassgrad.tensor(rng.standard_normal(5), requires_grad=True)
    assert gradcheck(lambda a, k, c: conv2d(a, k, c), (x, w, b))


def test_selector_takes_pointwise_only_for_plain_1x1():
    def plan(w_shape, stride=(1, 1), padding=((0, 0), (0, 0)), groups=1):
        return select.select(Geometry((8, 32, 16, 16), w_shape, stride, padding, (1, 1), groups), np.float32)

    assert plan((64, 32, 1, 1)) == ("pointwise", "pointwise", "pointwise")
    small = select.select(Geometry((8, 32, 4, 4), (64, 32, 1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1), 1), np.float32)
    assert small == ("pointwise", "im2col", "im2col")  # 16 pixels: the gradients stay with im2col
    assert plan((64, 32, 1, 1), stride=(2, 2)).forward != "pointwise"
    assert plan((64, 32, 1, 1), padding=((1, 1), (1, 1))).forward != "pointwise"
    assert plan((64, 16, 1, 1), groups=2).forward != "pointwise"
    assert plan((64, 32, 3, 3)).forward != "pointwise"
    with conv_flags.flags(algorithm="im2col"):
        assert plan((64, 32, 1, 1)) == select.Plan("im2col", "im2col", "im2col")


def test_chunks_among_threads_give_the_same_bits(rng):
    x = rng.standard_normal((64, 32, 8, 8)).astype(np.float32)
    w = rng.standard_normal((48, 32, 1, 1)).astype(np.float32)
    g = rng.standard_normal((64, 48, 8, 8)).astype(np.float32)
    before = glassgrad.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            glassgrad.set_num_threads(threads)
            results.append(_run(x, w, None, g))
    finally:
        glassgrad.set_num_threads(before)
    for a, b in zip(results[0][:3], results[1][:3]):
        np.testing.assert_array_equal(a, b)


def test_same_as_pytorch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: parity test skipped")
    x = rng.standard_normal((4, 12, 6, 6)).astype(np.float32)
    w = rng.standard_normal((20, 12, 1, 1)).astype(np.float32)
    b = rng.standard_normal(20).astype(np.float32)
    g = rng.standard_normal((4, 20, 6, 6)).astype(np.float32)
    got = _run(x, w, b, g)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = torch.nn.functional.conv2d(xt, wt, bt)
    out.backward(torch.tensor(g))
    for a, e in zip(got, (out, xt.grad, wt.grad, bt.grad)):
        np.testing.assert_allclose(a, e.detach().numpy(), rtol=1e-5, atol=1e-5)
