"""CTCLoss and F.ctc_loss: parity with PyTorch on losses and gradients (of the log-probabilities and
of the logits before log_softmax), gradcheck through log_softmax, zero_infinity, errors."""

import numpy as np
import pytest

import glassgrad
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.autograd import gradcheck

torch = pytest.importorskip("torch", reason="parity tests compare against PyTorch")


def _run(x, targets, ilen, tlen, rng, concatenated=False, **options):
    tx, gx = torch.tensor(x, requires_grad=True), glassgrad.tensor(x, requires_grad=True)
    tlp, glp = tx.log_softmax(-1), gx.log_softmax(-1)
    tlp.retain_grad()
    glp.retain_grad()
    if concatenated:
        targets = np.concatenate([row[:n] for row, n in zip(targets, tlen)])
    to = torch.nn.functional.ctc_loss(tlp, torch.tensor(targets), torch.tensor(ilen), torch.tensor(tlen), **options)
    go = nn.CTCLoss(**options)(glp, glassgrad.tensor(targets), glassgrad.tensor(ilen), glassgrad.tensor(tlen))
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-10)
    w = rng.normal(size=tuple(to.shape))
    (to * torch.tensor(w)).sum().backward()
    (go * glassgrad.tensor(w)).sum().backward()
    np.testing.assert_allclose(glp.grad.numpy(), tlp.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-10)
    return go


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("concatenated", [False, True])
@pytest.mark.parametrize("blank", [0, 4])
def test_ctc_parity(reduction, concatenated, blank, rng):
    x = rng.normal(size=(8, 3, 5))
    labels = rng.integers(0, 4, size=(3, 4))
    labels = np.where(labels >= blank, labels + 1, labels) if blank == 0 else labels  # never the blank
    labels[2, :2] = labels[2, 0]  # a repeated label, which needs a blank between
    _run(x, labels, [8, 5, 7], [3, 2, 4], rng, concatenated, blank=blank, reduction=reduction)


def test_ctc_unbatched_float32_and_empty_target(rng):
    x = rng.normal(size=(6, 4))
    tx = torch.tensor(x).log_softmax(-1)
    gx = glassgrad.tensor(x).log_softmax(-1)
    t = torch.nn.functional.ctc_loss(tx, torch.tensor([1, 2]), torch.tensor(6), torch.tensor(2), reduction="none")
    g = F.ctc_loss(gx, glassgrad.tensor([1, 2]), [6], [2], reduction="none")
    np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-10)
    x3 = rng.normal(size=(5, 2, 4)).astype(np.float32)
    t = torch.nn.functional.ctc_loss(
        torch.tensor(x3).log_softmax(-1), torch.tensor([[1, 0], [2, 3]]), torch.tensor([5, 4]), torch.tensor([0, 2])
    )
    g = F.ctc_loss(glassgrad.tensor(x3).log_softmax(-1), glassgrad.tensor([[1, 0], [2, 3]]), [5, 4], [0, 2])
    assert g.dtype == glassgrad.float32
    np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-5)


def test_zero_infinity(rng):
    x = rng.normal(size=(3, 2, 4))  # 3 steps cannot emit "1 1 1" (needs 5 with the blanks between)
    targets = np.array([[1, 1, 1], [2, 3, 0]])
    go = _run(x, targets, [3, 3], [3, 2], rng, zero_infinity=True, reduction="none")
    assert go.detach().numpy()[0] == 0.0
    loss = F.ctc_loss(glassgrad.tensor(x).log_softmax(-1), glassgrad.tensor(targets), [3, 3], [3, 2], reduction="none")
    assert np.isinf(loss.numpy()[0])


def test_gradcheck_through_log_softmax(rng):
    x = glassgrad.tensor(rng.normal(size=(5, 2, 3)), requires_grad=True)
    targets = glassgrad.tensor([[1, 2], [2, 0]])
    assert gradcheck(lambda x: F.ctc_loss(x.log_softmax(-1), targets, [5, 4], [2, 1], reduction="sum"), (x,))


def test_errors():
    lp = glassgrad.zeros(4, 2, 3)
    with pytest.raises(RuntimeError, match="differ from blank=0"):
        F.ctc_loss(lp, glassgrad.tensor([[0, 1], [1, 2]]), [4, 4], [2, 2])
    with pytest.raises(RuntimeError, match="input_lengths must be between 1 and the 4 time steps"):
        F.ctc_loss(lp, glassgrad.tensor([[1, 1], [1, 2]]), [5, 4], [2, 2])
    with pytest.raises(RuntimeError, match="concatenated targets hold 3 labels but target_lengths sum to 4"):
        F.ctc_loss(lp, glassgrad.tensor([1, 2, 1]), [4, 4], [2, 2])
