"""Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop and LBFGS without the oracle: they minimise, checkpoint
and refuse bad arguments (the trajectories are checked against PyTorch in tests/parity)."""

import numpy as np
import pytest

import glassgrad
from glassgrad import nn, optim


def _quadratic(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    target = rng.standard_normal(6).astype(dtype)
    x = nn.Parameter(glassgrad.tensor(np.zeros(6, dtype)))
    return x, glassgrad.tensor(target)


@pytest.mark.parametrize(
    "name, kwargs, steps",
    [
        ("Adadelta", {"lr": 1.0}, 3000),
        ("Adamax", {"lr": 0.05}, 400),
        ("NAdam", {"lr": 0.05}, 400),
        ("RAdam", {"lr": 0.05}, 600),
        ("ASGD", {"lr": 0.1}, 400),
        ("Rprop", {"lr": 0.01}, 200),
    ],
)
def test_first_order_optimizers_reach_the_minimum(name, kwargs, steps):
    x, target = _quadratic()
    opt = getattr(optim, name)([x], **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        ((x - target) ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(x.detach().numpy(), target.numpy(), atol=2e-2)


def test_lbfgs_solves_a_quadratic_in_one_step():
    x, target = _quadratic(1)
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ((x - target) ** 2).sum()
        loss.backward()
        return loss

    first = opt.step(closure)
    assert first.item() > 1.0
    np.testing.assert_allclose(x.detach().numpy(), target.numpy(), atol=1e-6)
    with pytest.raises(RuntimeError, match="closure"):
        opt.step(None)


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"])
def test_state_survives_a_checkpoint(name, tmp_path):
    # float32, so that loading does not cast the float32 scalars of the state (NAdam's mu_product,
    # ASGD's eta and mu) to the parameter's dtype, as PyTorch's load_state_dict also does.
    x, target = _quadratic(dtype=np.float32)
    opt = getattr(optim, name)([x])
    for _ in range(3):
        opt.zero_grad()
        ((x - target) ** 2).sum().backward()
        opt.step()
    glassgrad.save(opt.state_dict(), tmp_path / "opt.pt")
    y = nn.Parameter(x.detach().clone())
    other = getattr(optim, name)([y])
    other.load_state_dict(glassgrad.load(tmp_path / "opt.pt"))
    for opt_, p in ((opt, x), (other, y)):
        opt_.zero_grad()
        ((p - target) ** 2).sum().backward()
        opt_.step()
    np.testing.assert_array_equal(x.detach().numpy(), y.detach().numpy())


def test_an_update_invalidates_a_graph_that_saved_the_parameter():
    x, target = _quadratic()
    opt = optim.NAdam([x])
    saved = (x * x).sum()  # Mul saves x
    ((x - target) ** 2).sum().backward()
    opt.step()
    with pytest.raises(RuntimeError, match="in-place"):
        saved.backward()


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda p: optim.Adadelta([p], rho=1.5), "rho"),
        (lambda p: optim.Adamax([p], betas=(1.0, 0.9)), "beta"),
        (lambda p: optim.NAdam([p], momentum_decay=-1), "momentum_decay"),
        (lambda p: optim.RAdam([p], lr=-1), "learning rate"),
        (lambda p: optim.LBFGS([p], line_search_fn="armijo"), "strong_wolfe"),
        (lambda p: optim.Rprop([p], etas=(1.5, 1.2)), "eta_minus < 1 < eta_plus"),
    ],
)
def test_bad_arguments_are_named(build, message):
    with pytest.raises(ValueError, match=message):
        build(nn.Parameter(glassgrad.zeros(2)))
