"""A small residual CNN trained step by step in PyTorch and in glassgrad gives the same losses.

The same module tree is built in both frameworks from one definition, PyTorch's initial weights
are copied into glassgrad through state_dict, and both take the same SGD-with-momentum, Adam or
AdamW steps on the same batches; losses in train and eval mode must agree at every step.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests skipped")

import glassgrad  # noqa: E402

STEPS = 6


def make_net(lib):
    """The network, written once against a torch-like library (torch or glassgrad)."""
    nn, F = lib.nn, lib.nn.functional

    class ResidualBlock(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(
                # No bias before BatchNorm (as in ResNet): its true gradient is 0, and Adam would
                # amplify the rounding noise standing in for it into +-lr steps.
                nn.Conv2d(3, 8, 3, stride=1, padding=1, bias=False),
                nn.BatchNorm2d(8),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )
            self.block = ResidualBlock(8)
            self.pool = nn.MaxPool2d(2, stride=2)
            self.head = nn.Linear(8 * 3 * 3, 5)

        def forward(self, x):
            x = self.pool(self.block(self.stem(x)))
            return self.head(x.flatten(1))

    return Net()


def _batches():
    # Two batches in turn, so that the losses on a batch seen again must have gone down.
    rng = np.random.default_rng(0)
    two = [
        (rng.standard_normal((6, 3, 12, 12)).astype(np.float32), rng.integers(0, 5, size=6).astype(np.int64))
        for _ in range(2)
    ]
    return [two[i % 2] for i in range(STEPS)]


def _pair():
    torch.manual_seed(0)
    th_net = make_net(torch)
    gg_net = make_net(glassgrad)
    th_state = th_net.state_dict()
    gg_keys = list(gg_net.state_dict().keys())
    assert gg_keys == list(th_state.keys())
    result = gg_net.load_state_dict({k: glassgrad.tensor(v.detach().numpy().copy()) for k, v in th_state.items()})
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    return th_net, gg_net


OPTIMIZERS = [
    ("SGD", {"lr": 0.02, "momentum": 0.9, "weight_decay": 1e-3}),
    ("SGD", {"lr": 0.02, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 1e-2}),
    ("AdamW", {"lr": 1e-2, "weight_decay": 0.05}),
]


def _rel(a, b):
    return abs(a - b) / max(abs(b), 1e-12)


@pytest.mark.parametrize("name, options", OPTIMIZERS, ids=lambda v: v if isinstance(v, str) else None)
def test_losses_match_pytorch_step_by_step(name, options):
    th_net, gg_net = _pair()
    th_opt = getattr(torch.optim, name)(th_net.parameters(), **options)
    gg_opt = getattr(glassgrad.optim, name)(gg_net.parameters(), **options)
    th_losses, gg_losses = [], []
    for x, y in _batches():
        for net, opt, lib, losses in ((th_net, th_opt, torch, th_losses), (gg_net, gg_opt, glassgrad, gg_losses)):
            net.train()
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(net(lib.tensor(x)), lib.tensor(y))
            loss.backward()
            opt.step()
            net.eval()
            with lib.no_grad():
                eval_loss = lib.nn.functional.cross_entropy(net(lib.tensor(x)), lib.tensor(y))
            losses.append((loss.item(), eval_loss.item()))
    for step, ((th_train, th_eval), (gg_train, gg_eval)) in enumerate(zip(th_losses, gg_losses)):
        assert _rel(gg_train, th_train) <= 1e-4, f"step {step}: train loss {gg_train} vs PyTorch {th_train}"
        assert _rel(gg_eval, th_eval) <= 1e-4, f"step {step}: eval loss {gg_eval} vs PyTorch {th_eval}"
    # It trained (eval loss on batch 0 went down), so the comparison is not of constants.
    assert th_losses[-2][1] < th_losses[0][1]

    # Weights, running statistics and the batch counter moved the same way.
    gg_state = gg_net.state_dict()
    for key, value in th_net.state_dict().items():
        np.testing.assert_allclose(
            np.asarray(gg_state[key].array), value.detach().numpy(), rtol=1e-3, atol=1e-5, err_msg=key
        )


@pytest.mark.parametrize("name, options", [OPTIMIZERS[0], OPTIMIZERS[3]], ids=["SGD", "AdamW"])
def test_training_in_eval_mode_matches_pytorch(name, options):
    """Steps taken with the network in eval mode (BatchNorm normalises with its running statistics
    and does not update them): the gradients flow through the frozen statistics."""
    th_net, gg_net = _pair()
    th_net.eval()
    gg_net.eval()
    th_opt = getattr(torch.optim, name)(th_net.parameters(), **options)
    gg_opt = getattr(glassgrad.optim, name)(gg_net.parameters(), **options)
    for step, (x, y) in enumerate(_batches()):
        losses = []
        for net, opt, lib in ((th_net, th_opt, torch), (gg_net, gg_opt, glassgrad)):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(net(lib.tensor(x)), lib.tensor(y))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert _rel(losses[1], losses[0]) <= 1e-4, f"step {step}: loss {losses[1]} vs PyTorch {losses[0]}"
    running = gg_net.state_dict()["block.bn1.running_mean"].array
    np.testing.assert_array_equal(running, np.zeros_like(running))  # eval mode left the statistics alone


def test_checkpoint_mid_training_resumes_identically(tmp_path):
    """Save model + optimizer + scheduler mid-run with glassgrad.save, resume in a fresh process state."""
    batches = _batches()

    def train(net, opt, sched, steps):
        losses = []
        for x, y in steps:
            net.train()
            opt.zero_grad()
            loss = glassgrad.nn.functional.cross_entropy(net(glassgrad.tensor(x)), glassgrad.tensor(y))
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        return losses

    def build():
        _, net = _pair()
        opt = glassgrad.optim.SGD(net.parameters(), lr=0.02, momentum=0.9)
        return net, opt, glassgrad.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

    net, opt, sched = build()
    reference = train(net, opt, sched, batches)

    net, opt, sched = build()
    first = train(net, opt, sched, batches[:3])
    glassgrad.save(
        {"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "epoch": 3},
        tmp_path / "mid.pt",
    )
    net, opt, sched = build()
    checkpoint = glassgrad.load(tmp_path / "mid.pt")
    net.load_state_dict(checkpoint["model"])
    sched.load_state_dict(checkpoint["scheduler"])
    opt.load_state_dict(checkpoint["optimizer"])
    rest = train(net, opt, sched, batches[checkpoint["epoch"] :])
    assert first + rest == reference
