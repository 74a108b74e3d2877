"""glassgrad.utils.checkpoint: the forward is really recomputed in backward, nothing in between is
kept, and the gradients are those of the plain run (dropout included) and of PyTorch."""

import gc
import weakref

import numpy as np
import pytest

import glassgrad
from glassgrad import nn
from glassgrad.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential


def _net():
    glassgrad.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.5), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))


def _grads(net, x):
    return [p.grad.numpy().copy() for p in net.parameters()] + [x.grad.numpy().copy()]


def _plain(net, x, seed=1):
    glassgrad.manual_seed(seed)
    net(x).pow(2).sum().backward()
    out = _grads(net, x)
    net.zero_grad()
    x.grad = None
    return out


@pytest.mark.parametrize("use_reentrant", [True, False])
@pytest.mark.parametrize("how", ["checkpoint", "sequential"])
def test_gradients_equal_the_plain_run_with_dropout(use_reentrant, how):
    net = _net()
    x = glassgrad.randn(5, 4, dtype=glassgrad.float64, requires_grad=True)
    net.double()
    expected = _plain(net, x)
    glassgrad.manual_seed(1)
    if how == "checkpoint":
        y = checkpoint(net, x, use_reentrant=use_reentrant)
    else:
        y = checkpoint_sequential(net, 3, x, use_reentrant=use_reentrant)
    y.pow(2).sum().backward()
    for got, want in zip(_grads(net, x), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_without_preserved_rng_state_the_dropout_mask_differs():
    net = _net()
    x = glassgrad.randn(5, 4, requires_grad=True)
    expected = _plain(net, x)
    glassgrad.manual_seed(1)
    checkpoint(net, x, use_reentrant=False, preserve_rng_state=False).pow(2).sum().backward()
    assert not np.allclose(_grads(net, x)[0], expected[0])


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_forward_runs_again_in_backward_and_keeps_nothing_in_between(use_reentrant):
    calls, inside = [], []
    w = glassgrad.randn(3, 3, requires_grad=True)

    def f(x):
        calls.append(1)
        h = (x @ w).tanh()
        inside.append(weakref.ref(h.array))
        return (h * h).sum(1)

    x = glassgrad.randn(2, 3, requires_grad=True)
    y = checkpoint(f, x, use_reentrant=use_reentrant)
    gc.collect()
    assert len(calls) == 1 and inside[0]() is None  # the activation h's memory is gone once forward returns
    assert "Tanh" not in repr(y.grad_fn.next_functions)  # the graph holds the segment as one node
    y.sum().backward()
    assert len(calls) == 2
    expected = ((x @ w).tanh() ** 2).sum()
    wx, ww = glassgrad.autograd.grad(expected, [x, w])
    np.testing.assert_allclose(x.grad.numpy(), wx.numpy(), rtol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), ww.numpy(), rtol=1e-6)


def test_plain_run_keeps_the_activation():
    # The contrast to the test above: without checkpoint, the graph keeps h's memory until backward.
    w = glassgrad.randn(3, 3, requires_grad=True)
    x = glassgrad.randn(2, 3, requires_grad=True)
    h = (x @ w).tanh()
    kept = weakref.ref(h.array)
    y = (h * h).sum(1)
    del h
    gc.collect()
    assert kept() is not None
    y.sum().backward()
    gc.collect()
    assert kept() is None


def test_tuple_outputs_kwargs_and_non_tensor_values():
    x = glassgrad.randn(4, requires_grad=True, dtype=glassgrad.float64)

    def f(a, scale=1.0):
        return a.sin() * scale, "label", (a * a).sum(), a.argmax()

    s, label, total, index = checkpoint(f, x, use_reentrant=False, scale=2.0)
    assert label == "label" and index.dtype == glassgrad.int64 and s.shape == (4,)
    (s.sum() + 3 * total).backward()
    a = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(a) + 6 * a, rtol=1e-12)


def test_reentrant_rules_as_pytorch():
    x = glassgrad.randn(3, requires_grad=True)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(lambda a, scale: a * scale, x, use_reentrant=True, scale=2)
    lin = nn.Linear(3, 2)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        y = checkpoint(lin, glassgrad.randn(4, 3), use_reentrant=True)
    assert not y.requires_grad
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(lin, x)


def test_non_reentrant_reaches_parameters_even_without_input_grad():
    lin = nn.Linear(3, 2)
    y = checkpoint(lin, glassgrad.randn(4, 3), use_reentrant=False)
    assert y.requires_grad
    (gw,) = glassgrad.autograd.grad(y.sum(), [lin.weight])
    assert lin.weight.grad is None and gw.shape == (2, 3)


def test_a_changed_recomputation_is_an_error():
    sizes = iter([3, 2])
    x = glassgrad.randn(4, requires_grad=True)
    y = checkpoint(lambda a: a[: next(sizes)] * 2, x, use_reentrant=False)
    with pytest.raises(CheckpointError, match="recomputed forward"):
        y.sum().backward()


def test_sequential_segments_are_checked():
    with pytest.raises(ValueError, match="segments must be between 1 and 2"):
        checkpoint_sequential([nn.ReLU(), nn.ReLU()], 3, glassgrad.randn(2), use_reentrant=False)


def test_gradients_match_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle for checkpoint's gradients")
    from torch.utils import checkpoint as torch_checkpoint

    glassgrad.manual_seed(0)
    mine = nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.Linear(6, 2)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.GELU(), torch.nn.Linear(6, 2)).double()
    with torch.no_grad():
        for p, q in zip(mine.parameters(), theirs.parameters()):
            q.copy_(torch.from_numpy(p.detach().numpy()))
    data = np.random.default_rng(0).standard_normal((3, 4))
    x, tx = glassgrad.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    for use_reentrant in (True, False):
        checkpoint_sequential(mine, 2, x, use_reentrant=use_reentrant).pow(3).sum().backward()
        torch_checkpoint.checkpoint_sequential(theirs, 2, tx, use_reentrant=use_reentrant).pow(3).sum().backward()
        for p, q in zip([*mine.parameters(), x], [*theirs.parameters(), tx]):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12)
            p.grad, q.grad = None, None
