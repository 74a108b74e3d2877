"""PixelShuffle/Unshuffle, Fold/Unfold, CosineSimilarity/PairwiseDistance and the margin, cosine,
Gaussian and Poisson losses: parity with PyTorch on values and gradients in float64, gradcheck, errors."""

import numpy as np
import pytest

import glassgrad
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.autograd import gradcheck

torch = pytest.importorskip("torch", reason="parity tests compare against PyTorch")


def _both(array, grad=True):
    return torch.tensor(array, requires_grad=grad), glassgrad.tensor(array, requires_grad=grad)


def _check(t_fn, g_fn, arrays, rng, grads=None, tol=1e-10):
    """Run both on the same float64 arrays; compare outputs and the gradients of the arrays in ``grads``."""
    grads = range(len(arrays)) if grads is None else grads
    pairs = [_both(a, i in grads and a.dtype == np.float64) for i, a in enumerate(arrays)]
    to = t_fn(*(t for t, _ in pairs))
    go = g_fn(*(g for _, g in pairs))
    assert tuple(go.shape) == tuple(to.shape)
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=tol, atol=tol)
    w = rng.normal(size=tuple(to.shape))
    (to * torch.tensor(w)).sum().backward()
    (go * glassgrad.tensor(w)).sum().backward()
    for i in grads:
        t, g = pairs[i]
        if t.requires_grad:
            np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("shape,r", [((2, 8, 3, 4), 2), ((18, 2, 2), 3), ((2, 3, 4, 2, 5), 2)])
def test_pixel_shuffle_and_unshuffle(shape, r, rng):
    x = rng.normal(size=shape)
    _check(lambda x: torch.nn.functional.pixel_shuffle(x, r), lambda x: F.pixel_shuffle(x, r), [x], rng)
    up = F.pixel_shuffle(glassgrad.tensor(x), r)
    _check(
        lambda x: torch.nn.functional.pixel_unshuffle(x, r),
        lambda x: F.pixel_unshuffle(x, r),
        [up.numpy()],
        rng,
    )
    np.testing.assert_array_equal(nn.PixelUnshuffle(r)(nn.PixelShuffle(r)(glassgrad.tensor(x))).numpy(), x)
    assert repr(nn.PixelShuffle(r)) == repr(torch.nn.PixelShuffle(r))
    assert repr(nn.PixelUnshuffle(r)) == repr(torch.nn.PixelUnshuffle(r))
    with pytest.raises(RuntimeError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(glassgrad.zeros(1, 5, 2, 2), 2)
    with pytest.raises(RuntimeError, match="height and width to be divisible by downscale_factor"):
        F.pixel_unshuffle(glassgrad.zeros(1, 1, 3, 2), 2)


UNFOLD_CASES = [
    dict(kernel_size=3),
    dict(kernel_size=(2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
    dict(kernel_size=2, stride=2),
]


@pytest.mark.parametrize("options", UNFOLD_CASES)
@pytest.mark.parametrize("batched", [True, False])
def test_unfold_and_fold(options, batched, rng):
    shape = (2, 3, 6, 7) if batched else (3, 6, 7)
    x = rng.normal(size=shape)
    _check(lambda x: torch.nn.functional.unfold(x, **options), lambda x: F.unfold(x, **options), [x], rng)
    cols = torch.nn.functional.unfold(torch.tensor(x), **options)
    _check(
        lambda c: torch.nn.functional.fold(c, (6, 7), **options),
        lambda c: F.fold(c, (6, 7), **options),
        [cols.numpy()],
        rng,
    )
    t_mod, g_mod = torch.nn.Unfold(**options), nn.Unfold(**options)
    assert repr(g_mod) == repr(t_mod)
    assert repr(nn.Fold((6, 7), **options)) == repr(torch.nn.Fold((6, 7), **options))


def test_fold_unfold_gradcheck_and_errors(rng):
    x = glassgrad.tensor(rng.normal(size=(1, 2, 4, 5)), requires_grad=True)
    assert gradcheck(lambda x: F.unfold(x, 2, padding=1, stride=2), (x,))
    c = glassgrad.tensor(rng.normal(size=(1, 8, 6)), requires_grad=True)
    assert gradcheck(lambda c: F.fold(c, (3, 4), 2), (c,))
    with pytest.raises(RuntimeError, match="expected size of input's dimension 2 to match the calculated number"):
        F.fold(glassgrad.zeros(1, 8, 5), (3, 4), 2)
    with pytest.raises(RuntimeError, match="divisible by the product of kernel_size"):
        F.fold(glassgrad.zeros(1, 7, 6), (3, 4), 2)
    with pytest.raises(NotImplementedError, match="Only 3D or 4D input Tensors are supported"):
        F.unfold(glassgrad.zeros(2, 2), 1)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance_and_cosine_similarity(p, keepdim, rng):
    a, b = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    _check(
        lambda a, b: torch.nn.PairwiseDistance(p, 1e-6, keepdim)(a, b),
        lambda a, b: nn.PairwiseDistance(p, 1e-6, keepdim)(a, b),
        [a, b],
        rng,
    )
    _check(lambda a, b: torch.nn.CosineSimilarity(0)(a, b), lambda a, b: nn.CosineSimilarity(0)(a, b), [a, b], rng)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_margin_and_triplet_losses(reduction, rng):
    x1, x2 = rng.normal(size=6), rng.normal(size=6)
    y = np.where(rng.random(6) > 0.5, 1.0, -1.0)
    _check(
        lambda a, b, y: torch.nn.MarginRankingLoss(0.3, reduction=reduction)(a, b, y),
        lambda a, b, y: nn.MarginRankingLoss(0.3, reduction=reduction)(a, b, y),
        [x1, x2, y],
        rng,
        grads=[0, 1],
    )
    a, pos, neg = (rng.normal(size=(5, 3)) for _ in range(3))
    for swap in (False, True):
        for p in (2.0, 1.0):
            _check(
                lambda a, b, c, p=p, swap=swap: torch.nn.TripletMarginLoss(1.5, p, swap=swap, reduction=reduction)(
                    a, b, c
                ),
                lambda a, b, c, p=p, swap=swap: nn.TripletMarginLoss(1.5, p, swap=swap, reduction=reduction)(a, b, c),
                [a, pos, neg],
                rng,
            )
    with pytest.raises(ValueError, match="expected margin to be greater than 0"):
        nn.TripletMarginLoss(margin=0.0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("batched", [True, False])
def test_cosine_embedding_loss(reduction, batched, rng):
    shape = (6, 4) if batched else (4,)
    x1, x2 = rng.normal(size=shape), rng.normal(size=shape)
    y = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0]) if batched else np.array(-1.0)
    _check(
        lambda a, b, y: torch.nn.CosineEmbeddingLoss(0.1, reduction=reduction)(a, b, y),
        lambda a, b, y: nn.CosineEmbeddingLoss(0.1, reduction=reduction)(a, b, y),
        [x1, x2, y],
        rng,
        grads=[0, 1],
    )


@pytest.mark.parametrize("var_shape", [(4, 3), (4, 1), (4,)])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gaussian_nll_loss(var_shape, full, reduction, rng):
    x, t = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    var = rng.uniform(0.0, 2.0, size=var_shape)
    var.flat[0] = 1e-9  # below eps: clamped, with the gradient passed straight through
    _check(
        lambda x, t, v: torch.nn.GaussianNLLLoss(full=full, eps=1e-6, reduction=reduction)(x, t, v),
        lambda x, t, v: nn.GaussianNLLLoss(full=full, eps=1e-6, reduction=reduction)(x, t, v),
        [x, t, var],
        rng,
        tol=1e-8,
    )
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(glassgrad.zeros(2), glassgrad.zeros(2), glassgrad.tensor([-1.0, 1.0]))
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(glassgrad.zeros(4, 3), glassgrad.zeros(4, 3), glassgrad.ones(2, 3))


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_poisson_nll_loss(log_input, full, reduction, rng):
    x = rng.normal(size=(3, 4)) if log_input else rng.uniform(0.1, 3.0, size=(3, 4))
    t = rng.poisson(2.0, size=(3, 4)).astype(np.float64)
    _check(
        lambda x, t: torch.nn.PoissonNLLLoss(log_input, full, reduction=reduction)(x, t),
        lambda x, t: nn.PoissonNLLLoss(log_input, full, reduction=reduction)(x, t),
        [x, t],
        rng,
        grads=[0],  # PyTorch's target gradient is NaN where a target is 0 (log 0 under its mask)
    )


def test_loss_gradchecks(rng):
    a, b, c = (glassgrad.tensor(rng.normal(size=(3, 4)), requires_grad=True) for _ in range(3))
    assert gradcheck(lambda a, b, c: F.triplet_margin_loss(a, b, c, margin=3.0, swap=True, reduction="none"), (a, b, c))
    y = glassgrad.tensor([1.0, -1.0, 1.0])
    assert gradcheck(lambda a, b: F.cosine_embedding_loss(a, b, y, margin=-1.0, reduction="none"), (a, b))
    var = glassgrad.tensor(rng.uniform(0.5, 1.5, size=(3, 4)), requires_grad=True)
    assert gradcheck(lambda a, v: F.gaussian_nll_loss(a, c.detach(), v, reduction="sum"), (a, var))
    assert gradcheck(lambda a: F.poisson_nll_loss(a, c.detach().abs(), full=True), (a,))


def test_instance_norm_bias_keyword_and_tensor_norm_dtype(rng):
    x = rng.normal(size=(2, 3, 4, 4))
    tm = torch.nn.InstanceNorm2d(3, affine=True, bias=False).double()
    gm = nn.InstanceNorm2d(3, affine=True, bias=False).double()
    assert repr(gm) == repr(tm) and [k for k, _ in gm.named_parameters()] == ["weight"] and gm.bias is None
    with torch.no_grad():
        tm.weight.uniform_(0.5, 1.5)
    gm.load_state_dict({k: glassgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    _check(tm, gm, [x], rng)
    a = rng.normal(size=(3, 4)).astype(np.float32)
    ta, ga = _both(a)
    tn, gn = ta.norm(dtype=torch.float64), ga.norm(dtype=glassgrad.float64)
    assert gn.dtype == glassgrad.float64
    np.testing.assert_allclose(gn.item(), tn.item(), rtol=1e-12)
    tn.backward()
    gn.backward()
    assert ga.grad.dtype == glassgrad.float32
    np.testing.assert_allclose(ga.grad.numpy(), ta.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ga.detach().norm(p=None).item(), ta.detach().norm(p=None).item(), rtol=1e-6)
