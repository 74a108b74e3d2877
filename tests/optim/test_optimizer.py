"""Optimizer base and update rules: hand-computed steps, param groups, state_dict round trips."""

import numpy as np
import pytest

import glassgrad
from glassgrad import optim
from glassgrad.nn import Parameter

ALL = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.01}),
    ("AdamW", {"lr": 0.05}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
]


def _params(seed=0):
    rng = np.random.default_rng(seed)
    return [Parameter(glassgrad.tensor(rng.standard_normal(s).astype(np.float32))) for s in [(3, 2), (4,), ()]]


def _grads(step, params):
    rng = np.random.default_rng(100 + step)
    for p in params:
        p.grad = glassgrad.tensor(np.asarray(p.array * 2 + rng.standard_normal(p.array.shape), dtype=np.float32))


def test_sgd_step_by_hand():
    p = Parameter(glassgrad.tensor([1.0, -2.0]))
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.5)
    p.grad = glassgrad.tensor([0.5, 0.5])
    opt.step()  # d = g + 0.5 p = [1.0, -0.5]; buf = d; p -= 0.1 d
    np.testing.assert_allclose(p.array, [0.9, -1.95], rtol=1e-6)
    opt.step()  # d = [0.95, -0.475]; buf = 0.9 [1, -0.5] + d = [1.85, -0.925]
    np.testing.assert_allclose(p.array, [0.9 - 0.185, -1.95 + 0.0925], rtol=1e-6)
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"].array, [1.85, -0.925], rtol=1e-6)


def test_adam_first_step_moves_each_weight_by_lr():
    # After bias correction the first Adam step is lr * g / (|g| + eps') = lr * sign(g).
    p = Parameter(glassgrad.tensor([1.0, 1.0, 1.0]))
    opt = optim.Adam([p], lr=0.01)
    p.grad = glassgrad.tensor([3.0, -0.2, 1e-3])
    opt.step()
    np.testing.assert_allclose(p.array, [0.99, 1.01, 0.99], rtol=1e-5)
    assert opt.state[p]["step"].array.dtype == np.float32 and float(opt.state[p]["step"]) == 1.0


def test_adamw_decays_weights_without_gradient_scaling():
    p = Parameter(glassgrad.tensor([2.0]))
    opt = optim.AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = glassgrad.tensor([1.0])
    opt.step()  # p * (1 - 0.05) - 0.1 * sign(g)
    np.testing.assert_allclose(p.array, [2.0 * 0.95 - 0.1], rtol=1e-5)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


@pytest.mark.parametrize("name, options", ALL)
def test_update_is_in_place_float32_and_bumps_version(name, options):
    params = _params()
    arrays = [p.array for p in params]
    versions = [p._version for p in params]
    opt = getattr(optim, name)(params, **options)
    _grads(0, params)
    opt.step()
    for p, a, v in zip(params, arrays, versions):
        assert p.array is a and p.array.dtype == np.float32
        assert p._version > v
        assert p.grad_fn is None and p.requires_grad


@pytest.mark.parametrize("name, options", ALL)
def test_state_dict_round_trip_through_a_checkpoint_continues_identically(name, options, tmp_path):
    reference = _params()
    ref_opt = getattr(optim, name)(reference, **options)
    for step in range(10):
        _grads(step, reference)
        ref_opt.step()

    run = _params()
    opt = getattr(optim, name)(run, **options)
    for step in range(4):
        _grads(step, run)
        opt.step()
    glassgrad.save({"params": [p.detach() for p in run], "optimizer": opt.state_dict(), "epoch": 4}, tmp_path / "c.pt")
    del opt, run

    checkpoint = glassgrad.load(tmp_path / "c.pt")
    resumed = _params(seed=99)  # different values: everything must come from the checkpoint
    for p, saved in zip(resumed, checkpoint["params"]):
        p.array[...] = saved.array
    opt = getattr(optim, name)(resumed, **options)
    opt.load_state_dict(checkpoint["optimizer"])
    for step in range(checkpoint["epoch"], 10):
        _grads(step, resumed)
        opt.step()
    for a, b in zip(resumed, reference):
        np.testing.assert_array_equal(a.array, b.array)  # bit for bit
    assert opt.state_dict()["param_groups"] == ref_opt.state_dict()["param_groups"]


def test_state_dict_layout_uses_indices_across_groups():
    a, b, c = _params()
    opt = optim.SGD([{"params": [a, b], "lr": 0.1}, {"params": [c], "momentum": 0.5}], lr=0.01, momentum=0.9)
    for p in (a, b, c):
        p.grad = glassgrad.ones_like(p)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert [g["lr"] for g in sd["param_groups"]] == [0.1, 0.01]
    assert [g["momentum"] for g in sd["param_groups"]] == [0.9, 0.5]
    assert sorted(sd["state"]) == [0, 1, 2]
    assert sd["state"][2]["momentum_buffer"].shape == ()


def test_load_state_dict_copies_and_casts_to_the_parameter_dtype():
    p = Parameter(glassgrad.ones(3, dtype=glassgrad.float64))
    opt = optim.Adam([p], lr=0.1)
    sd = {
        "state": {0: {"step": glassgrad.tensor(2.0), "exp_avg": glassgrad.ones(3), "exp_avg_sq": glassgrad.ones(3)}},
        "param_groups": [dict(opt.state_dict()["param_groups"][0], lr=0.5, betas=[0.8, 0.9])],
    }
    opt.load_state_dict(sd)
    state = opt.state[p]
    assert state["exp_avg"].array.dtype == np.float64 and state["step"].array.dtype == np.float32
    assert state["exp_avg"].array is not sd["state"][0]["exp_avg"].array
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[0]["betas"] == (0.8, 0.9)
    assert opt.param_groups[0]["params"][0] is p


def test_load_state_dict_rejects_mismatched_groups():
    opt = optim.SGD(_params(), lr=0.1)
    other = optim.SGD(_params()[:2], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict(other.state_dict())
    with pytest.raises(ValueError, match="parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"model": 1})


def test_param_groups_and_add_param_group():
    a, b, c = _params()
    opt = optim.Adam([{"params": a, "lr": 0.1}, {"params": [b]}], lr=0.01, betas=(0.8, 0.9))
    opt.add_param_group({"params": [c], "weight_decay": 0.1})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01, 0.01]
    assert [g["weight_decay"] for g in opt.param_groups] == [0, 0, 0.1]
    assert all(g["betas"] == (0.8, 0.9) for g in opt.param_groups)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_named_parameters_are_accepted():
    a, b, _ = _params()
    opt = optim.SGD([("w", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]


def test_invalid_arguments_are_rejected():
    params = _params()
    with pytest.raises(TypeError, match="single Parameter|wrap it in a list"):
        optim.SGD(params[0], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="sets"):
        optim.SGD(set(params), lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([params[0] * 2], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(params, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam(params, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.RMSprop(params, lr=-1)
    with pytest.raises(ValueError, match="fused=True"):
        optim.Adam(params, fused=True)


def test_zero_grad_and_closure():
    params = _params()
    opt = optim.SGD(params, lr=0.1)
    _grads(0, params)
    opt.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.array == 0) for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)

    w = Parameter(glassgrad.tensor([3.0]))
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with glassgrad.no_grad():
        loss = opt.step(closure)  # the closure records a graph even under no_grad
    assert float(loss) == 9.0
    np.testing.assert_allclose(w.array, [3.0 - 0.25 * 6.0])


def test_training_a_quadratic_with_autograd_converges():
    w = Parameter(glassgrad.zeros(3))
    target = glassgrad.tensor([1.0, -2.0, 0.5])
    opt = optim.Adam([w], lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        loss = ((w - target) ** 2).sum()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(w.array, target.array, atol=1e-3)


def test_repr_lists_each_group():
    text = repr(optim.SGD(_params(), lr=0.1, momentum=0.9))
    assert text.startswith("SGD (\nParameter Group 0\n") and "    momentum: 0.9" in text and text.endswith(")")


def test_step_hooks_run_around_the_update_and_can_be_removed():
    p = Parameter(glassgrad.tensor([1.0]))
    opt = optim.SGD([p], lr=0.5)
    seen = []
    pre = opt.register_step_pre_hook(lambda o, args, kwargs: seen.append(("pre", float(p.array[0]))))
    post = opt.register_step_post_hook(lambda o, args, kwargs: seen.append(("post", float(p.array[0]))))
    p.grad = glassgrad.tensor([1.0])
    opt.step()
    assert seen == [("pre", 1.0), ("post", 0.5)]
    pre.remove()
    post.remove()
    opt.step()
    assert len(seen) == 2 and float(p.array[0]) == 0.0
