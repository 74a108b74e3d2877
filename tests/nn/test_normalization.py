"""Batch norm, layer norm, group norm and local response norm: values, running statistics, gradcheck."""

import numpy as np
import pytest

import glassgrad
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.autograd import gradcheck


def _t(array, grad=True):
    return glassgrad.tensor(array, dtype=glassgrad.float64, requires_grad=grad)


def _affine(rng, c):
    return _t(rng.uniform(0.5, 1.5, c)), _t(rng.normal(size=c))


def test_batch_norm_train_values_and_running_stats(rng):
    x = rng.normal(2.0, 3.0, (6, 3, 2, 2))
    bn = nn.BatchNorm2d(3, momentum=0.2).double()
    out = bn(_t(x, grad=False))
    mean = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3))
    expected = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(out.array, expected, rtol=1e-10, atol=1e-12)
    n = x.size // 3
    np.testing.assert_allclose(bn.running_mean.array, 0.2 * mean, rtol=1e-12)
    # The running variance takes the unbiased batch variance, as PyTorch does.
    np.testing.assert_allclose(bn.running_var.array, 0.8 + 0.2 * var * n / (n - 1), rtol=1e-12)
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    out = bn(_t(x, grad=False))
    rm, rv = bn.running_mean.array, bn.running_var.array
    np.testing.assert_allclose(out.array, (x - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5), rtol=1e-10)
    assert bn.num_batches_tracked.item() == 1


def test_batch_norm_momentum_none_is_cumulative_average(rng):
    bn = nn.BatchNorm1d(2, momentum=None).double()
    batches = [rng.normal(i, 1.0, (5, 2)) for i in range(3)]
    for b in batches:
        bn(_t(b, grad=False))
    np.testing.assert_allclose(bn.running_mean.array, np.mean([b.mean(0) for b in batches], axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.array, np.mean([b.var(0, ddof=1) for b in batches], axis=0), rtol=1e-12)
    assert bn.num_batches_tracked.item() == 3


def test_batch_norm_without_running_stats_or_affine(rng):
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False).double().eval()
    assert list(bn.state_dict()) == []
    x = rng.normal(size=(4, 2, 3))
    out = bn(_t(x, grad=False))  # eval, but no running stats: batch statistics
    expected = (x - x.mean((0, 2), keepdims=True)) / np.sqrt(x.var((0, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(out.array, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 3), (3, 3, 2), (2, 3, 2, 2)])
def test_batch_norm_gradcheck(rng, training, shape):
    x = _t(rng.normal(size=shape))
    w, b = _affine(rng, 3)
    rm, rv = _t(rng.normal(size=3), False), _t(rng.uniform(0.5, 2, 3), False)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, rm.clone(), rv.clone(), w, b, training, 0.1, 1e-5), (x, w, b))


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D"):
        nn.BatchNorm2d(3)(glassgrad.ones(2, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(glassgrad.ones(1, 3))
    with pytest.raises(RuntimeError, match="num_features"):
        nn.BatchNorm1d(4)(glassgrad.ones(2, 3))


def test_layer_norm_values_and_gradcheck(rng):
    x = rng.normal(size=(2, 3, 4))
    ln = nn.LayerNorm((3, 4)).double()
    expected = (x - x.mean((1, 2), keepdims=True)) / np.sqrt(x.var((1, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(ln(_t(x, False)).array, expected, rtol=1e-10, atol=1e-12)
    w, b = _t(rng.uniform(0.5, 1.5, 4)), _t(rng.normal(size=4))
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (4,), w, b), (_t(x), w, b))


def test_group_norm_values_and_gradcheck(rng):
    x = rng.normal(size=(2, 4, 3))
    gn = nn.GroupNorm(2, 4).double()
    g = x.reshape(2, 2, 6)
    expected = ((g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + 1e-5)).reshape(x.shape)
    np.testing.assert_allclose(gn(_t(x, False)).array, expected, rtol=1e-10, atol=1e-12)
    w, b = _affine(rng, 4)
    assert gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (_t(x), w, b))


def _lrn_reference(x, size, alpha, beta, k):
    c = x.shape[1]
    sq = x**2
    out = np.empty_like(x)
    for ch in range(c):
        lo, hi = max(0, ch - size // 2), min(c - 1, ch + (size - 1) // 2)
        out[:, ch] = x[:, ch] / (k + alpha / size * sq[:, lo : hi + 1].sum(1)) ** beta
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_local_response_norm_values_and_gradcheck(rng, size):
    x = rng.normal(size=(2, 6, 2, 2)) * 3
    layer = nn.LocalResponseNorm(size, alpha=0.5, beta=0.75, k=2.0)
    np.testing.assert_allclose(layer(_t(x, False)).array, _lrn_reference(x, size, 0.5, 0.75, 2.0), rtol=1e-12)
    assert gradcheck(layer, (_t(x),))
    assert gradcheck(nn.LocalResponseNorm(size), (_t(rng.normal(size=(1, 4, 3)) * 50),))


def test_reprs_and_state_dict_names():
    assert (
        repr(nn.BatchNorm2d(8))
        == "BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    )
    assert list(nn.BatchNorm2d(8).state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert repr(nn.LocalResponseNorm(5)) == "LocalResponseNorm(5, alpha=0.0001, beta=0.75, k=1.0)"
    assert repr(nn.LayerNorm(4)) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"


def test_instance_norm_values_running_stats_and_gradcheck(rng):
    x = rng.normal(1.0, 2.0, (3, 2, 4, 4))
    layer = nn.InstanceNorm2d(2, affine=True, track_running_stats=True, momentum=0.5).double()
    out = layer(_t(x, False))
    mean, var = x.mean((2, 3), keepdims=True), x.var((2, 3), keepdims=True)
    np.testing.assert_allclose(out.array, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.running_mean.array, 0.5 * x.mean((2, 3)).mean(0), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.array, 0.5 + 0.5 * x.var((2, 3), ddof=1).mean(0), rtol=1e-12)
    assert layer.num_batches_tracked.item() == 0  # PyTorch's instance norm does not count batches
    assert layer(_t(x[0], False)).shape == (2, 4, 4)  # unbatched input
    w, b = _affine(rng, 2)
    assert gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (_t(x[:2, :, :2, :3]), w, b))
    rm, rv = _t(rng.normal(size=2), False), _t(rng.uniform(0.5, 2, 2), False)
    assert gradcheck(lambda x, w: F.instance_norm(x, rm, rv, w, None, use_input_stats=False), (_t(x[:2]), w))
    assert list(nn.InstanceNorm1d(3).state_dict()) == []
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(glassgrad.ones(2, 3, 1))


def test_update_running_of_instances_takes_their_mean():
    """ops.normalization.update_running: unbiased variance, and the mean over the instances of
    instance norm's per-instance statistics."""
    from glassgrad.ops.normalization import update_running

    mean = np.array([1.0, 2.0, 3.0, 5.0])  # two instances of two channels
    var = np.array([2.0, 4.0, 6.0, 8.0])
    rm, rv = np.zeros(2), np.ones(2)
    update_running(rm, rv, 0.5, 2, mean, var, 5)
    np.testing.assert_allclose(rm, 0.5 * np.array([2.0, 3.5]))
    np.testing.assert_allclose(rv, 0.5 + 0.5 * np.array([4.0, 6.0]) * 5 / 4)


def test_rms_norm_values_default_eps_and_gradcheck(rng):
    x = rng.normal(size=(2, 3, 4))
    rn = nn.RMSNorm((3, 4)).double()
    eps = np.finfo(np.float64).eps
    expected = x / np.sqrt((x * x).mean((1, 2), keepdims=True) + eps)
    np.testing.assert_allclose(rn(_t(x, False)).array, expected, rtol=1e-10, atol=1e-12)
    assert [name for name, _ in rn.named_parameters()] == ["weight"]
    w = _t(rng.uniform(0.5, 1.5, 4))
    assert gradcheck(lambda x, w: F.rms_norm(x, 4, w, eps=1e-3), (_t(x), w))
    with pytest.raises(RuntimeError, match=r"do not end with normalized_shape \(5,\)"):
        F.rms_norm(_t(x, False), 5)


def test_rms_norm_matches_torch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle for RMSNorm")
    x = rng.normal(size=(3, 5)).astype(np.float32)
    ours = nn.RMSNorm(5, eps=1e-6)(glassgrad.tensor(x)).detach().numpy()
    theirs = torch.nn.RMSNorm(5, eps=1e-6)(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
