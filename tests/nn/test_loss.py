"""Losses: values against NumPy formulas (PyTorch's weighted-mean rules), gradcheck, stability."""

import numpy as np
import pytest

import glassgrad
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.autograd import gradcheck


def _t(array, grad=True):
    return glassgrad.tensor(array, dtype=glassgrad.float64, requires_grad=grad)


def _log_softmax(x, axis=1):
    x = x - x.max(axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis, keepdims=True))


def _ce_reference(x, t, weight, ignore_index, reduction, eps):
    """PyTorch's rule, written out per sample: classes along axis 1."""
    c = x.shape[1]
    logp = np.moveaxis(_log_softmax(x), 1, -1).reshape(-1, c)
    t = t.reshape(-1)
    w = np.ones(c) if weight is None else weight
    losses, denom = [], 0.0
    for row, target in zip(logp, t):
        if target == ignore_index:
            losses.append(0.0)
            continue
        nll = -w[target] * row[target]
        smooth = -(w * row).sum()
        losses.append((1 - eps) * nll + eps / c * smooth)
        denom += w[target]
    losses = np.array(losses)
    if reduction == "mean":
        return losses.sum() / denom
    return losses.sum() if reduction == "sum" else losses


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_cross_entropy_values_and_gradcheck(rng, reduction, weighted, eps):
    x = rng.normal(size=(5, 4)) * 2
    t = np.array([0, 3, 1, -100, 3])
    weight = rng.uniform(0.2, 2.0, 4) if weighted else None
    w = None if weight is None else _t(weight, False)
    target = glassgrad.tensor(t)
    out = F.cross_entropy(_t(x, False), target, w, ignore_index=-100, reduction=reduction, label_smoothing=eps)
    np.testing.assert_allclose(out.array, _ce_reference(x, t, weight, -100, reduction, eps), rtol=1e-12)
    fn = lambda x: F.cross_entropy(x, target, w, reduction=reduction, label_smoothing=eps)  # noqa: E731
    assert gradcheck(fn, (_t(x),))


def test_cross_entropy_spatial_targets_and_custom_ignore_index(rng):
    x = rng.normal(size=(2, 3, 2, 2))
    t = np.array([[[0, 2], [1, 7]], [[2, 2], [0, 1]]])
    target = glassgrad.tensor(t)
    out = F.cross_entropy(_t(x, False), target, ignore_index=7, reduction="none")
    assert out.shape == (2, 2, 2) and out.array[0, 1, 1] == 0
    np.testing.assert_allclose(out.array, _ce_reference(x, t, None, 7, "none", 0.0).reshape(2, 2, 2), rtol=1e-12)
    assert gradcheck(lambda x: F.cross_entropy(x, target, ignore_index=7, label_smoothing=0.1), (_t(x),))


def test_cross_entropy_unbatched_and_probability_targets(rng):
    x = rng.normal(size=4)
    out = F.cross_entropy(_t(x, False), glassgrad.tensor(2))
    np.testing.assert_allclose(out.item(), -_log_softmax(x[None])[0, 2], rtol=1e-12)
    logits = rng.normal(size=(3, 4))
    probs = rng.dirichlet(np.ones(4), size=3)
    weight = rng.uniform(0.5, 2, 4)
    loss = F.cross_entropy(_t(logits, False), _t(probs, False), _t(weight, False), label_smoothing=0.1)
    q = probs * 0.9 + 0.1 / 4
    expected = -(_log_softmax(logits) * q * weight).sum() / 3
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-12)
    target = _t(probs)
    assert gradcheck(lambda x, t: F.cross_entropy(x, t, reduction="sum"), (_t(logits), target))
    assert gradcheck(lambda x, t: F.cross_entropy(x, t, reduction="none"), (_t(logits), target))


def test_cross_entropy_is_stable_for_huge_logits():
    x = glassgrad.tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]], requires_grad=True)
    loss = F.cross_entropy(x, glassgrad.tensor([1, 2]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad.array))
    np.testing.assert_allclose(loss.item(), (2000.0 + 1.0 + np.log1p(np.exp(-1.0))) / 2, rtol=1e-6)
    np.testing.assert_allclose(x.grad.array.sum(1), 0, atol=1e-7)
    np.testing.assert_allclose(x.grad.array[0], [0.5, -0.5, 0.0], atol=1e-7)


def test_cross_entropy_errors():
    with pytest.raises(IndexError, match="Target 5 is out of bounds"):
        F.cross_entropy(glassgrad.zeros(2, 3), glassgrad.tensor([0, 5]))
    with pytest.raises(RuntimeError, match="int64"):
        F.cross_entropy(glassgrad.zeros(2, 3), glassgrad.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(glassgrad.zeros(2, 3), glassgrad.tensor([0, 1]), reduction="avg")


def test_nll_loss_matches_cross_entropy_on_log_softmax(rng):
    x = _t(rng.normal(size=(4, 3)))
    t = glassgrad.tensor([0, 2, 1, 1])
    w = _t(rng.uniform(0.5, 2, 3), False)
    a = nn.NLLLoss(weight=w)(F.log_softmax(x, 1), t)
    b = nn.CrossEntropyLoss(weight=w)(x, t)
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)
    assert gradcheck(lambda lp: F.nll_loss(lp, t, w, reduction="sum"), (_t(rng.normal(size=(4, 3))),))
    assert list(nn.CrossEntropyLoss(weight=w).state_dict()) == ["weight"]


def test_regression_losses(rng):
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    d = x - y
    ad = np.abs(d)
    cases = [
        (nn.MSELoss(), (d**2).mean()),
        (nn.MSELoss(reduction="sum"), (d**2).sum()),
        (nn.L1Loss(), ad.mean()),
        (nn.L1Loss(reduction="none"), ad),
        (nn.SmoothL1Loss(beta=0.5), np.where(ad < 0.5, 0.5 * d**2 / 0.5, ad - 0.25).mean()),
        (nn.HuberLoss(delta=0.7), np.where(ad < 0.7, 0.5 * d**2, 0.7 * (ad - 0.35)).mean()),
    ]
    for layer, expected in cases:
        np.testing.assert_allclose(layer(_t(x, False), _t(y, False)).array, expected, rtol=1e-12)
        assert gradcheck(layer, (_t(x), _t(y)))


def test_binary_cross_entropy(rng):
    p = rng.uniform(0.05, 0.95, (3, 2))
    t = rng.uniform(0, 1, (3, 2))
    w = rng.uniform(0.5, 2, 2)
    expected = (-(t * np.log(p) + (1 - t) * np.log(1 - p)) * w).mean()
    out = nn.BCELoss(weight=_t(w, False))(_t(p, False), _t(t, False))
    np.testing.assert_allclose(out.item(), expected, rtol=1e-12)
    assert gradcheck(lambda p, t: F.binary_cross_entropy(p, t, _t(w, False), reduction="sum"), (_t(p), _t(t)))
    # log clamped at -100: saturated probabilities give finite values and gradients.
    edge = glassgrad.tensor([0.0, 1.0], requires_grad=True)
    loss = F.binary_cross_entropy(edge, glassgrad.tensor([1.0, 0.0]), reduction="sum")
    loss.backward()
    assert loss.item() == pytest.approx(200.0)
    assert np.all(np.isfinite(edge.grad.array))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(glassgrad.tensor([1.5]), glassgrad.tensor([1.0]))


def test_binary_cross_entropy_with_logits(rng):
    x = rng.normal(size=(4, 3)) * 3
    t = rng.uniform(0, 1, (4, 3))
    pw = rng.uniform(0.5, 3, 3)
    w = rng.uniform(0.5, 2, 3)
    log_sig = np.log(1 / (1 + np.exp(-x)))
    log_1m = np.log(1 - 1 / (1 + np.exp(-x)))
    expected = (-(pw * t * log_sig + (1 - t) * log_1m) * w).mean()
    layer = nn.BCEWithLogitsLoss(weight=_t(w, False), pos_weight=_t(pw, False))
    np.testing.assert_allclose(layer(_t(x, False), _t(t, False)).item(), expected, rtol=1e-12)
    assert list(layer.state_dict()) == ["weight", "pos_weight"]
    assert gradcheck(
        lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, w, reduction="sum", pos_weight=pw),
        (_t(x), _t(t), _t(w), _t(pw)),
    )
    big = glassgrad.tensor([1000.0, -1000.0, 1000.0], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(big, glassgrad.tensor([1.0, 0.0, 0.0]), reduction="sum")
    loss.backward()
    assert loss.item() == pytest.approx(1000.0)
    np.testing.assert_allclose(big.grad.array, [0.0, 0.0, 1.0])


def test_kl_div(rng):
    logq = _log_softmax(rng.normal(size=(3, 4)))
    p = rng.dirichlet(np.ones(4), size=3)
    expected = (p * (np.log(p) - logq)).sum() / 3
    out = F.kl_div(_t(logq, False), _t(p, False), reduction="batchmean")
    np.testing.assert_allclose(out.item(), expected, rtol=1e-12)
    out = F.kl_div(_t(logq, False), _t(np.log(p), False), reduction="batchmean", log_target=True)
    np.testing.assert_allclose(out.item(), expected, rtol=1e-12)
    assert gradcheck(lambda a, b: F.kl_div(a, b, reduction="sum"), (_t(logq), _t(p)))
    with pytest.warns(UserWarning, match="batchmean"):
        assert gradcheck(lambda a, b: F.kl_div(a, b, reduction="mean", log_target=True), (_t(logq), _t(np.log(p))))


def test_legacy_size_average_reduce():
    with pytest.warns(UserWarning, match="deprecated"):
        layer = nn.MSELoss(size_average=False)
    assert layer.reduction == "sum"


def test_cross_entropy_with_every_target_ignored_is_nan_with_zero_gradient():
    x = glassgrad.ones(3, 4, requires_grad=True)
    loss = F.cross_entropy(x, glassgrad.tensor([-100, -100, -100]), label_smoothing=0.1)
    loss.backward()
    assert np.isnan(loss.item())
    np.testing.assert_array_equal(x.grad.array, 0)


def test_cross_entropy_target_shape_is_checked():
    with pytest.raises(ValueError, match=r"expected a target of shape \(4,\).*squeeze"):
        F.cross_entropy(glassgrad.zeros(4, 3), glassgrad.zeros(4, 1, dtype=glassgrad.int64))
    with pytest.raises(ValueError, match="expected a target of shape"):
        F.nll_loss(glassgrad.zeros(4, 3), glassgrad.zeros(5, dtype=glassgrad.int64))
