"""nn.utils.parametrize and parametrizations.weight_norm/spectral_norm: parity with PyTorch
(state-dict keys, outputs, gradients, power-iteration buffers), assignment, removal, errors."""

import numpy as np
import pytest

import glassgrad
from glassgrad import nn
from glassgrad.nn.utils import parametrizations, parametrize

torch = pytest.importorskip("torch", reason="parity tests compare against PyTorch")

LAYERS = [("Linear", (4, 3), (2, 4)), ("Conv2d", (2, 3, 3), (2, 2, 5, 5)), ("ConvTranspose2d", (2, 3, 3), (2, 2, 4, 4))]


def _copy(tm, gm):
    gm.load_state_dict({k: glassgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


@pytest.mark.parametrize(
    "kind,kwargs",
    [
        ("weight_norm", {}),
        ("weight_norm", {"dim": None}),
        ("weight_norm", {"dim": 1}),
        ("spectral_norm", {}),
        ("spectral_norm", {"n_power_iterations": 3}),
    ],
)
@pytest.mark.parametrize("cls,args,shape", LAYERS)
def test_parity_with_torch(kind, kwargs, cls, args, shape, rng):
    torch.manual_seed(0)
    tm, gm = getattr(torch.nn, cls)(*args).double(), getattr(nn, cls)(*args).double()
    _copy(tm, gm)
    getattr(torch.nn.utils.parametrizations, kind)(tm, **kwargs)
    getattr(parametrizations, kind)(gm, **kwargs)
    assert type(gm).__name__ == type(tm).__name__ == f"Parametrized{cls}"
    assert list(gm.state_dict()) == list(tm.state_dict())
    assert [n for n, _ in gm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    _copy(tm, gm)
    for _ in range(2):  # the second call starts from the power iteration's updated vectors
        x = rng.normal(size=shape)
        to, go = tm(torch.tensor(x)), gm(glassgrad.tensor(x))
        np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-12)
    to.sum().backward()
    go.sum().backward()
    for tp, gp in zip(tm.parameters(), gm.parameters()):
        np.testing.assert_allclose(gp.grad.numpy(), tp.grad.numpy(), rtol=1e-9, atol=1e-12)
    for key, value in tm.state_dict().items():
        np.testing.assert_allclose(gm.state_dict()[key].numpy(), value.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gm.weight.detach().numpy(), tm.weight.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_spectral_norm_eval_keeps_vectors_and_bounds_sigma(rng):
    layer = parametrizations.spectral_norm(nn.Linear(6, 5).double(), n_power_iterations=30)
    layer(glassgrad.zeros(1, 6, dtype=glassgrad.float64))
    sigma = np.linalg.svd(layer.weight.detach().numpy(), compute_uv=False)[0]
    assert abs(sigma - 1.0) < 1e-6
    layer.eval()
    u = layer.parametrizations.weight[0]._u.numpy().copy()
    layer(glassgrad.zeros(1, 6, dtype=glassgrad.float64))
    np.testing.assert_array_equal(layer.parametrizations.weight[0]._u.numpy(), u)


def test_register_assign_and_remove(rng):
    layer = nn.Linear(3, 3).double()
    parametrizations.weight_norm(layer)
    target = glassgrad.tensor(rng.normal(size=(3, 3)))
    layer.weight = target  # goes through right_inverse into g and v
    np.testing.assert_allclose(layer.weight.detach().numpy(), target.numpy(), rtol=1e-12)
    assert parametrize.is_parametrized(layer) and parametrize.is_parametrized(layer, "weight")
    assert not parametrize.is_parametrized(layer, "bias")
    parametrize.remove_parametrizations(layer, "weight")
    assert type(layer) is nn.Linear and isinstance(layer.weight, nn.Parameter)
    np.testing.assert_allclose(layer.weight.detach().numpy(), target.numpy(), rtol=1e-12)
    assert sorted(layer.state_dict()) == ["bias", "weight"]

    class Double(nn.Module):
        def forward(self, x):
            return 2 * x

    layer = nn.Linear(2, 2)
    before = layer.weight.detach().numpy().copy()
    parametrize.register_parametrization(layer, "weight", Double())
    parametrize.register_parametrization(layer, "weight", Double())
    np.testing.assert_allclose(layer.weight.detach().numpy(), 4 * before, rtol=1e-6)
    assert list(layer.state_dict()) == list(
        torch.nn.utils.parametrize.register_parametrization(
            torch.nn.utils.parametrize.register_parametrization(torch.nn.Linear(2, 2), "weight", TorchDouble()),
            "weight",
            TorchDouble(),
        ).state_dict()
    )
    with parametrize.cached():
        np.testing.assert_allclose(layer.weight.detach().numpy(), 4 * before, rtol=1e-6)
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    np.testing.assert_array_equal(layer.weight.detach().numpy(), before)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element"):
        parametrize.register_parametrization(layer, "nothing", Double())
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        parametrize.remove_parametrizations(layer, "weight")


class TorchDouble(torch.nn.Module):
    def forward(self, x):
        return 2 * x


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("kind", ["weight_norm", "spectral_norm"])
@pytest.mark.parametrize("cls,args,shape", LAYERS)
def test_hook_based_forms_match_torch(kind, cls, args, shape, rng):
    torch.manual_seed(0)
    tm, gm = getattr(torch.nn, cls)(*args).double(), getattr(nn, cls)(*args).double()
    _copy(tm, gm)
    getattr(torch.nn.utils, kind)(tm)
    getattr(nn.utils, kind)(gm)
    assert list(gm.state_dict()) == list(tm.state_dict())
    assert [n for n, _ in gm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    _copy(tm, gm)
    for _ in range(2):
        x = rng.normal(size=shape)
        to, go = tm(torch.tensor(x)), gm(glassgrad.tensor(x))
        np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-12)
    to.sum().backward()
    go.sum().backward()
    for tp, gp in zip(tm.parameters(), gm.parameters()):
        np.testing.assert_allclose(gp.grad.numpy(), tp.grad.numpy(), rtol=1e-9, atol=1e-12)
    for key, value in tm.state_dict().items():
        np.testing.assert_allclose(gm.state_dict()[key].numpy(), value.numpy(), rtol=1e-10, atol=1e-12)
    getattr(torch.nn.utils, "remove_" + kind)(tm)
    getattr(nn.utils, "remove_" + kind)(gm)
    assert list(gm.state_dict()) == list(tm.state_dict())
    np.testing.assert_allclose(gm.weight.detach().numpy(), tm.weight.detach().numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="not found"):
        getattr(nn.utils, "remove_" + kind)(gm)
