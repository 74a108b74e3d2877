"""Optimizers and schedulers against PyTorch: multi-step trajectories, state layouts, lr sequences."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests skipped")

import glassgrad  # noqa: E402
from glassgrad import optim  # noqa: E402
from glassgrad.nn import Parameter  # noqa: E402
from glassgrad.optim import lr_scheduler  # noqa: E402

# (200, 170): large enough for the compiled SGD step (glassgrad.backend, from 32K elements).
SHAPES = [(4, 3), (5,), (), (200, 170)]
STEPS = 25

CONFIGS = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05, "maximize": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True, "betas": (0.7, 0.95)}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "weight_decay": 0.05}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.005, "centered": True, "momentum": 0.5, "weight_decay": 0.01, "eps": 1e-4}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.02}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6, "maximize": True}),
]


def _ids(config):
    name, options = config
    return name + "-" + "-".join(f"{k}={v}" for k, v in options.items())


def _problem(dtype, seed=0):
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    target = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    noise = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]
    return start, target, noise


def _grad(p, target, noise):
    # A quadratic pull plus step-dependent noise that flips signs, so the moments, the
    # AMSGrad maximum and the centered averages all matter.
    return np.asarray(2 * (p - target) + noise, dtype=p.dtype)


def _run_pair(name, options, dtype, groups=None):
    start, target, noise = _problem(dtype)
    gg_params = [Parameter(glassgrad.tensor(a.copy())) for a in start]
    th_params = [torch.nn.Parameter(torch.tensor(a.copy())) for a in start]
    if groups is None:
        gg_opt = getattr(optim, name)(gg_params, **options)
        th_opt = getattr(torch.optim, name)(th_params, **options)
    else:
        gg_opt = getattr(optim, name)([dict(g, params=[gg_params[i] for i in g["params"]]) for g in groups], **options)
        th_opt = getattr(torch.optim, name)(
            [dict(g, params=[th_params[i] for i in g["params"]]) for g in groups], **options
        )
    for step in range(STEPS):
        for i, (gp, tp) in enumerate(zip(gg_params, th_params)):
            gp.grad = glassgrad.tensor(_grad(gp.array, target[i], noise[step][i]))
            tp.grad = torch.tensor(_grad(tp.detach().numpy(), target[i], noise[step][i]))
        gg_opt.step()
        th_opt.step()
    return gg_params, th_params, gg_opt, th_opt


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_trajectory_matches_pytorch(config, dtype):
    name, options = config
    gg_params, th_params, gg_opt, th_opt = _run_pair(name, options, dtype)
    rtol, atol = (1e-4, 1e-6) if dtype == np.float32 else (1e-9, 1e-12)
    for gp, tp in zip(gg_params, th_params):
        assert gp.array.dtype == dtype
        np.testing.assert_allclose(gp.array, tp.detach().numpy(), rtol=rtol, atol=atol)
    # The state has PyTorch's keys, shapes and values.
    for gp, tp in zip(gg_params, th_params):
        gs, ts = gg_opt.state[gp], th_opt.state[tp]
        assert sorted(gs) == sorted(ts)
        for key in ts:
            expected = ts[key].detach().numpy()
            got = gs[key].array
            assert got.shape == expected.shape and got.dtype == expected.dtype, key
            np.testing.assert_allclose(got, expected, rtol=rtol * 10, atol=atol, err_msg=key)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_param_groups_with_different_lrs_match_pytorch(name):
    options = {"lr": 0.01, "momentum": 0.9} if name in ("SGD", "RMSprop") else {"lr": 0.01}
    groups = [{"params": [0, 2], "lr": 0.1, "weight_decay": 0.01}, {"params": [1]}]
    gg_params, th_params, gg_opt, th_opt = _run_pair(name, options, np.float32, groups=groups)
    for gp, tp in zip(gg_params, th_params):
        np.testing.assert_allclose(gp.array, tp.detach().numpy(), rtol=1e-4, atol=1e-6)
    gsd, tsd = gg_opt.state_dict(), th_opt.state_dict()
    assert gsd["param_groups"] == tsd["param_groups"]
    assert sorted(gsd["state"]) == sorted(tsd["state"])


def test_params_without_grad_are_skipped_like_pytorch():
    gg_p = [Parameter(glassgrad.ones(3)), Parameter(glassgrad.ones(3))]
    th_p = [torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3))]
    gg_opt, th_opt = optim.Adam(gg_p, lr=0.1), torch.optim.Adam(th_p, lr=0.1)
    gg_p[0].grad = glassgrad.tensor([1.0, -2.0, 3.0])
    th_p[0].grad = torch.tensor([1.0, -2.0, 3.0])
    gg_opt.step()
    th_opt.step()
    np.testing.assert_allclose(gg_p[0].array, th_p[0].detach().numpy(), rtol=1e-6)
    assert np.all(gg_p[1].array == 1) and len(gg_opt.state[gg_p[1]]) == 0


# -- schedulers ------------------------------------------------------------------------------

SCHEDULERS = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}, 60),
    ("MultiStepLR", {"milestones": [5, 12, 12, 30], "gamma": 0.3}, 60),
    ("ExponentialLR", {"gamma": 0.93}, 80),
    ("CosineAnnealingLR", {"T_max": 17}, 120),
    ("CosineAnnealingLR", {"T_max": 50, "eta_min": 1e-3}, 300),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.9, "total_iters": 13}, 40),
    ("LinearLR", {}, 20),
    ("ConstantLR", {"factor": 0.25, "total_iters": 6}, 20),
    ("LambdaLR", {"lr_lambda": lambda e: 0.95**e + 0.01 * (e % 3)}, 40),
    ("MultiplicativeLR", {"lr_lambda": lambda e: 0.97}, 40),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 100}, 100),
    ("OneCycleLR", {"max_lr": [0.5, 0.2], "total_steps": 90, "anneal_strategy": "linear"}, 90),
    ("OneCycleLR", {"max_lr": 0.3, "epochs": 7, "steps_per_epoch": 11, "three_phase": True}, 77),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": 50, "cycle_momentum": False, "pct_start": 0.45}, 50),
    ("PolynomialLR", {"total_iters": 15, "power": 2.0}, 25),
    ("CosineAnnealingWarmRestarts", {"T_0": 7}, 40),
    ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2, "eta_min": 0.001}, 60),
]


def _two_group_pair(opt_name="SGD", **kwargs):
    gg = getattr(optim, opt_name)(
        [{"params": [Parameter(glassgrad.ones(2))]}, {"params": [Parameter(glassgrad.ones(2))], "lr": 0.05}],
        lr=0.1,
        **kwargs,
    )
    th = getattr(torch.optim, opt_name)(
        [{"params": [torch.nn.Parameter(torch.ones(2))]}, {"params": [torch.nn.Parameter(torch.ones(2))], "lr": 0.05}],
        lr=0.1,
        **kwargs,
    )
    return gg, th


def _sched_ids(s):
    return s[0] + "-" + "-".join(f"{k}={v}" for k, v in s[1].items() if k != "lr_lambda")


@pytest.mark.parametrize("sched", SCHEDULERS, ids=_sched_ids)
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_scheduler_lr_sequence_matches_pytorch(sched, opt_name):
    name, kwargs, steps = sched
    kwargs = dict(kwargs)
    extra = {"momentum": 0.9} if opt_name == "SGD" else {}
    gg_opt, th_opt = _two_group_pair(opt_name, **extra)
    gg_s = getattr(lr_scheduler, name)(gg_opt, **kwargs)
    th_s = getattr(torch.optim.lr_scheduler, name)(th_opt, **kwargs)
    momentum_key = "momentum" if opt_name == "SGD" else "betas"
    for step in range(steps):
        # Bit-identical: the recursive forms are followed operation by operation.
        assert gg_s.get_last_lr() == th_s.get_last_lr(), f"step {step}"
        for gg_group, th_group in zip(gg_opt.param_groups, th_opt.param_groups):
            assert gg_group["lr"] == th_group["lr"]
            assert gg_group[momentum_key] == th_group[momentum_key], f"step {step}"
        gg_opt.step()
        th_opt.step()
        if step < steps - 1 or name != "OneCycleLR":
            gg_s.step()
            th_s.step()


def test_cosine_recursive_form_drifts_from_closed_form_like_pytorch():
    gg_opt, th_opt = _two_group_pair()
    gg_s = lr_scheduler.CosineAnnealingLR(gg_opt, T_max=30)
    th_s = torch.optim.lr_scheduler.CosineAnnealingLR(th_opt, T_max=30)
    drift = 0.0
    for epoch in range(1, 500):
        gg_opt.step()
        th_opt.step()
        gg_s.step()
        th_s.step()
        assert gg_s.get_last_lr() == th_s.get_last_lr()
        closed = 0.1 * (1 + math.cos(math.pi * epoch / 30)) / 2
        drift = max(drift, abs(gg_s.get_last_lr()[0] - closed))
    assert drift > 0  # the recursion is not the closed form, and glassgrad follows the recursion


def test_chained_scheduler_matches_pytorch():
    gg_opt, th_opt = _two_group_pair()
    gg_s, th_s = [
        mod.ChainedScheduler([mod.ConstantLR(opt, factor=0.5, total_iters=4), mod.ExponentialLR(opt, gamma=0.9)])
        for mod, opt in ((lr_scheduler, gg_opt), (torch.optim.lr_scheduler, th_opt))
    ]
    for step in range(20):
        assert gg_s.get_last_lr() == th_s.get_last_lr(), f"step {step}"
        gg_opt.step()
        th_opt.step()
        gg_s.step()
        th_s.step()


def test_warm_restarts_with_fractional_epochs_match_pytorch():
    gg_opt, th_opt = _two_group_pair()
    gg_s = lr_scheduler.CosineAnnealingWarmRestarts(gg_opt, T_0=4, T_mult=2)
    th_s = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(th_opt, T_0=4, T_mult=2)
    for i in range(60):
        epoch = i * 0.37
        gg_s.step(epoch)
        th_s.step(epoch)
        assert gg_s.get_last_lr() == th_s.get_last_lr(), f"epoch {epoch}"


def test_sequential_lr_matches_pytorch():
    gg_opt, th_opt = _two_group_pair()
    scheds = []
    for mod, opt in ((lr_scheduler, gg_opt), (torch.optim.lr_scheduler, th_opt)):
        warm = mod.LinearLR(opt, start_factor=0.1, total_iters=5)
        cos = mod.CosineAnnealingLR(opt, T_max=20, eta_min=1e-4)
        step = mod.StepLR(opt, step_size=4, gamma=0.5)
        scheds.append(mod.SequentialLR(opt, [warm, cos, step], milestones=[5, 25]))
    gg_s, th_s = scheds
    for step in range(50):
        assert gg_s.get_last_lr() == th_s.get_last_lr(), f"step {step}"
        assert [g["lr"] for g in gg_opt.param_groups] == [g["lr"] for g in th_opt.param_groups]
        gg_opt.step()
        th_opt.step()
        gg_s.step()
        th_s.step()


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"mode": "max", "factor": 0.5, "patience": 2, "threshold": 0.05, "threshold_mode": "abs", "cooldown": 2},
        {"patience": 0, "factor": 0.3, "min_lr": [0.02, 0.001], "cooldown": 1},
        {"mode": "min", "patience": 3, "threshold": 0.1, "threshold_mode": "rel", "eps": 1e-3},
    ],
)
def test_reduce_lr_on_plateau_matches_pytorch(kwargs):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.94, 0.96, 0.97, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9]
    metrics += [0.91, 0.5, 0.5, 0.5, 0.5, 0.6, 0.7, 0.2, 0.2, 0.21] * 3
    gg_opt, th_opt = _two_group_pair()
    gg_s = lr_scheduler.ReduceLROnPlateau(gg_opt, **kwargs)
    th_s = torch.optim.lr_scheduler.ReduceLROnPlateau(th_opt, **kwargs)
    changes = 0
    for i, m in enumerate(metrics):
        before = gg_s.get_last_lr()
        gg_s.step(glassgrad.tensor(m) if i % 2 else m)
        th_s.step(torch.tensor(m) if i % 2 else m)
        assert gg_s.get_last_lr() == th_s.get_last_lr(), f"epoch {i}"
        assert (gg_s.best, gg_s.num_bad_epochs, gg_s.cooldown_counter) == (
            th_s.best,
            th_s.num_bad_epochs,
            th_s.cooldown_counter,
        )
        changes += before != gg_s.get_last_lr()
    assert changes >= 2


def test_scheduler_state_dict_matches_pytorch_keys():
    gg_opt, th_opt = _two_group_pair()
    gg_s = lr_scheduler.OneCycleLR(gg_opt, max_lr=0.4, total_steps=30)
    th_s = torch.optim.lr_scheduler.OneCycleLR(th_opt, max_lr=0.4, total_steps=30)
    for _ in range(5):
        gg_opt.step()
        th_opt.step()
        gg_s.step()
        th_s.step()
    gsd, tsd = gg_s.state_dict(), th_s.state_dict()
    for key in ("last_epoch", "base_lrs", "_last_lr", "_step_count", "total_steps", "_schedule_phases"):
        assert gsd[key] == tsd[key], key


def _to_glassgrad(value):
    if isinstance(value, torch.Tensor):
        return glassgrad.tensor(value.detach().numpy().copy())
    if isinstance(value, dict):
        return {k: _to_glassgrad(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_glassgrad(v) for v in value]
    return value


@pytest.mark.parametrize("config", [c for c in CONFIGS if c[0] in ("SGD", "Adam", "RMSprop", "Adagrad")][::2], ids=_ids)
def test_a_pytorch_optimizer_state_continues_in_glassgrad(config):
    # Train 10 steps in PyTorch, move weights and optimizer state across, continue in both.
    name, options = config
    start, target, noise = _problem(np.float32)
    th_params = [torch.nn.Parameter(torch.tensor(a.copy())) for a in start]
    th_opt = getattr(torch.optim, name)(th_params, **options)

    def th_step(step):
        for i, tp in enumerate(th_params):
            tp.grad = torch.tensor(_grad(tp.detach().numpy(), target[i], noise[step][i]))
        th_opt.step()

    for step in range(10):
        th_step(step)
    gg_params = [Parameter(glassgrad.tensor(tp.detach().numpy().copy())) for tp in th_params]
    gg_opt = getattr(optim, name)(gg_params, **options)
    gg_opt.load_state_dict(_to_glassgrad(th_opt.state_dict()))
    for step in range(10, STEPS):
        th_step(step)
        for i, gp in enumerate(gg_params):
            gp.grad = glassgrad.tensor(_grad(gp.array, target[i], noise[step][i]))
        gg_opt.step()
    for gp, tp in zip(gg_params, th_params):
        np.testing.assert_allclose(gp.array, tp.detach().numpy(), rtol=1e-4, atol=1e-6)
