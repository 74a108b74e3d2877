"""glassgrad.nn.utils.fusion: batch norm in evaluation mode folded into the convolution before it."""

import numpy as np
import pytest

import glassgrad
from glassgrad import nn
from glassgrad.nn.utils.fusion import fuse_conv_bn_eval, fuse_conv_bn_weights


def _trained_bn(bn, channels, dims, rng):
    """A batch norm with running statistics away from (0, 1) and an affine part away from (1, 0)."""
    bn.train()
    for _ in range(3):
        x = rng.standard_normal((4, channels, *([5] * dims))) * 3 + 2
        bn(glassgrad.tensor(x.astype(np.float32)))
    if bn.weight is not None:
        with glassgrad.no_grad():
            bn.weight.copy_(glassgrad.tensor(rng.uniform(0.5, 2, channels).astype(np.float32)))
            bn.bias.copy_(glassgrad.tensor(rng.standard_normal(channels).astype(np.float32)))
    return bn.eval()


CASES = [
    (lambda: nn.Conv2d(3, 6, 3, padding=1), lambda: nn.BatchNorm2d(6), 2),
    (lambda: nn.Conv2d(3, 6, 3, bias=False), lambda: nn.BatchNorm2d(6, affine=False), 2),
    (lambda: nn.Conv1d(4, 5, 3), lambda: nn.BatchNorm1d(5), 1),
    (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2), lambda: nn.BatchNorm2d(4), 2),
    (lambda: nn.Conv2d(4, 8, 3, groups=2), lambda: nn.BatchNorm2d(8), 2),
]


@pytest.mark.parametrize("make_conv, make_bn, dims", CASES)
def test_fused_convolution_gives_the_batch_norm_of_the_convolution(make_conv, make_bn, dims, rng):
    conv = make_conv().eval()
    bn = _trained_bn(make_bn(), conv.out_channels, dims, rng)
    fused = fuse_conv_bn_eval(conv, bn, transpose=isinstance(conv, nn.ConvTranspose2d))
    x = glassgrad.tensor(rng.standard_normal((2, conv.in_channels, *([7] * dims))).astype(np.float32))
    with glassgrad.no_grad():
        want = bn(conv(x)).numpy()
        got = fused(x).numpy()
    assert fused is not conv and fused.bias is not None
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    assert not np.allclose(conv(x).detach().numpy(), want, atol=1e-2)  # the batch norm did change it


def test_fuse_refuses_training_mode_and_batch_statistics():
    conv, bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)
    with pytest.raises(RuntimeError, match="evaluation mode"):
        fuse_conv_bn_eval(conv, bn)
    with pytest.raises(RuntimeError, match="running statistics"):
        fuse_conv_bn_eval(conv.eval(), nn.BatchNorm2d(4, track_running_stats=False).eval())
    with pytest.raises(RuntimeError, match="evaluation mode"):
        fuse_conv_bn_eval(nn.Sequential(conv, bn).train())
    with pytest.raises(ValueError, match="4 output channels"):
        b5 = nn.BatchNorm2d(5)
        fuse_conv_bn_weights(conv.weight, conv.bias, b5.running_mean, b5.running_var, 1e-5, b5.weight, b5.bias)


class Block(nn.Module):
    """A pair in the module's own forward: not fused (the order of calls is not known)."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)

    def forward(self, x):
        return self.bn(self.conv(x)) + x


def test_whole_model_fuses_the_pairs_of_its_sequentials(rng):
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        Block(),
        nn.Sequential(nn.Conv2d(8, 4, 1), nn.BatchNorm2d(4)),
    )
    for module, channels in ((model[1], 8), (model[3].bn, 8), (model[4][1], 4)):
        _trained_bn(module, channels, 2, rng)
    model.eval()
    x = glassgrad.tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))
    with glassgrad.no_grad():
        want = model(x).numpy()
    fused = fuse_conv_bn_eval(model)
    assert isinstance(fused[1], nn.Identity) and isinstance(fused[4][1], nn.Identity)
    assert isinstance(fused[3].bn, nn.BatchNorm2d)  # left as it is
    assert isinstance(model[1], nn.BatchNorm2d)  # the original is not changed
    with glassgrad.no_grad():
        np.testing.assert_allclose(fused(x).numpy(), want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_a_hook_on_the_pair_keeps_it_unfused():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).eval()
    seen = []
    model[1].register_forward_hook(lambda module, inputs, output: seen.append(output.shape))
    fused = fuse_conv_bn_eval(model)
    assert isinstance(fused[1], nn.BatchNorm2d)
    fused(glassgrad.zeros(1, 3, 5, 5))
    assert seen == [(1, 4, 3, 3)]


def test_parity_with_torch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch is the reference of fuse_conv_bn_eval")
    from torch.nn.utils.fusion import fuse_conv_bn_eval as torch_fuse

    conv, bn = nn.Conv2d(3, 6, 3), _trained_bn(nn.BatchNorm2d(6), 6, 2, rng)
    conv.eval()
    tconv, tbn = torch.nn.Conv2d(3, 6, 3).eval(), torch.nn.BatchNorm2d(6).eval()
    tconv.load_state_dict({k: torch.tensor(v.numpy()) for k, v in conv.state_dict().items()})
    tbn.load_state_dict({k: torch.tensor(v.numpy()) for k, v in bn.state_dict().items()})
    ours, theirs = fuse_conv_bn_eval(conv, bn), torch_fuse(tconv, tbn)
    for name in ("weight", "bias"):
        np.testing.assert_allclose(
            getattr(ours, name).detach().numpy(), getattr(theirs, name).detach().numpy(), rtol=1e-5, atol=1e-6
        )
    assert ours.weight.requires_grad and ours.bias.requires_grad
