"""The optimizers PyTorch programs reach for beyond SGD and Adam, against PyTorch: Adadelta,
Adamax, NAdam, RAdam, ASGD, Rprop, LBFGS, CyclicLR and the SWA utilities."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests skipped")

from test_optim_parity import _run_pair, _two_group_pair  # noqa: E402

import glassgrad  # noqa: E402
from glassgrad import nn, optim  # noqa: E402
from glassgrad.optim import lr_scheduler, swa_utils  # noqa: E402

CONFIGS = [
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.05}),
    ("Adadelta", {"lr": 0.5, "maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "momentum_decay": 0.01, "weight_decay": 0.05}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.95), "weight_decay": 0.05}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.05, "lambd": 1e-3, "alpha": 0.5, "t0": 10, "weight_decay": 0.01}),
    ("Rprop", {}),
    ("Rprop", {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2), "maximize": True}),
]


def _ids(config):
    return config[0] + "-" + "-".join(f"{k}={v}" for k, v in config[1].items())


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_trajectory_and_state_match_pytorch(config, dtype):
    name, options = config
    gg_params, th_params, gg_opt, th_opt = _run_pair(name, options, dtype)
    rtol, atol = (1e-4, 1e-6) if dtype == np.float32 else (1e-9, 1e-12)
    for gp, tp in zip(gg_params, th_params):
        assert gp.array.dtype == dtype
        np.testing.assert_allclose(gp.array, tp.detach().numpy(), rtol=rtol, atol=atol)
    for gp, tp in zip(gg_params, th_params):
        gs, ts = gg_opt.state[gp], th_opt.state[tp]
        assert sorted(gs) == sorted(ts)
        for key in ts:
            expected = ts[key].detach().numpy()
            got = gs[key].array
            assert got.shape == expected.shape and got.dtype == expected.dtype, key
            np.testing.assert_allclose(got, expected, rtol=rtol * 10, atol=atol, err_msg=key)
    assert gg_opt.state_dict()["param_groups"] == th_opt.state_dict()["param_groups"]


def _least_squares(module, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((20, 5)).astype(dtype)
    b = rng.standard_normal(20).astype(dtype)
    start = rng.standard_normal(5).astype(dtype)
    x = module.tensor(start.copy(), requires_grad=True)
    a_t, b_t = module.tensor(a), module.tensor(b)

    def loss_fn():
        # A smooth non-quadratic loss, so that the line search has work to do.
        r = a_t @ x - b_t
        return (r * r).sum() + (x**4).sum()

    return x, loss_fn


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("history_size", [100, 3])
def test_lbfgs_matches_pytorch(line_search_fn, history_size):
    results = []
    for module, optim_module in ((glassgrad, optim), (torch, torch.optim)):
        x, loss_fn = _least_squares(module, np.float64)
        opt = optim_module.LBFGS([x], lr=0.8, max_iter=15, history_size=history_size, line_search_fn=line_search_fn)
        losses = []

        def closure(opt=opt, x=x, loss_fn=loss_fn):
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            return loss

        for _ in range(4):
            losses.append(opt.step(closure).item())
        state = opt.state[opt.param_groups[0]["params"][0]]
        results.append((x.detach().numpy().copy(), losses, state["func_evals"], state["n_iter"]))
    (gx, gl, gevals, giter), (tx, tl, tevals, titer) = results
    np.testing.assert_allclose(gx, tx, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gl, tl, rtol=1e-9)
    assert (gevals, giter) == (tevals, titer)
    assert gl[-1] < gl[0]


def test_lbfgs_in_float32_follows_pytorch_and_rejects_groups():
    results = []
    for module, optim_module in ((glassgrad, optim), (torch, torch.optim)):
        x, loss_fn = _least_squares(module, np.float32, seed=1)
        opt = optim_module.LBFGS([x], line_search_fn="strong_wolfe")

        def closure(opt=opt, loss_fn=loss_fn):
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            return loss

        opt.step(closure)
        results.append(x.detach().numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4, atol=1e-5)
    p, q = nn.Parameter(glassgrad.zeros(2)), nn.Parameter(glassgrad.zeros(2))
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [q]}])


CYCLIC = [
    {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4},
    {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "step_size_down": 5, "mode": "triangular2"},
    {"base_lr": [0.01, 0.02], "max_lr": 0.1, "step_size_up": 4, "mode": "exp_range", "gamma": 0.9},
    {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4, "scale_fn": lambda x: 0.5**x, "scale_mode": "iterations"},
    {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 2, "cycle_momentum": False},
]


@pytest.mark.parametrize("kwargs", CYCLIC)
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_cyclic_lr_and_momentum_match_pytorch(kwargs, opt_name):
    extra = {"momentum": 0.9} if opt_name == "SGD" else {}
    gg_opt, th_opt = _two_group_pair(opt_name, **extra)
    gg_s = lr_scheduler.CyclicLR(gg_opt, **kwargs)
    th_s = torch.optim.lr_scheduler.CyclicLR(th_opt, **kwargs)
    key = "momentum" if opt_name == "SGD" else "betas"
    for step in range(25):
        assert gg_s.get_last_lr() == th_s.get_last_lr(), f"step {step}"
        for g, t in zip(gg_opt.param_groups, th_opt.param_groups):
            assert g[key] == t[key], f"step {step}"
        gg_opt.step()
        th_opt.step()
        gg_s.step()
        th_s.step()


def test_cyclic_lr_needs_momentum_to_cycle_it():
    gg_opt, _ = _two_group_pair("Adagrad")
    with pytest.raises(ValueError, match="cycle_momentum=False"):
        lr_scheduler.CyclicLR(gg_opt, 0.01, 0.1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"swa_lr": 0.05},
        {"swa_lr": [0.02, 0.05], "anneal_epochs": 3, "anneal_strategy": "linear"},
        {"swa_lr": 0.05, "anneal_epochs": 0},
    ],
)
def test_swalr_matches_pytorch(kwargs):
    gg_opt, th_opt = _two_group_pair()
    gg_s = swa_utils.SWALR(gg_opt, **kwargs)
    th_s = torch.optim.swa_utils.SWALR(th_opt, **kwargs)
    for step in range(15):
        assert gg_s.get_last_lr() == pytest.approx(th_s.get_last_lr(), rel=1e-15), f"step {step}"
        gg_opt.step()
        th_opt.step()
        gg_s.step()
        th_s.step()


def _pair_of_models():
    torch.manual_seed(0)
    th = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    gg = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))
    gg.load_state_dict({k: v.detach().numpy().copy() for k, v in th.state_dict().items()})
    return gg, th


@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize("ema", [False, True])
def test_averaged_model_and_update_bn_match_pytorch(use_buffers, ema):
    gg, th = _pair_of_models()
    gg_avg = swa_utils.AveragedModel(gg, use_buffers=use_buffers, avg_fn=swa_utils.get_ema_avg_fn(0.7) if ema else None)
    th_avg = torch.optim.swa_utils.AveragedModel(
        th, use_buffers=use_buffers, avg_fn=torch.optim.swa_utils.get_ema_avg_fn(0.7) if ema else None
    )
    gg_opt = optim.SGD(gg.parameters(), lr=0.1, momentum=0.9)
    th_opt = torch.optim.SGD(th.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((8, 4)).astype(np.float32), rng.integers(0, 3, 8)) for _ in range(6)]
    for x, y in batches:
        for model, opt, module, avg in ((gg, gg_opt, glassgrad, gg_avg), (th, th_opt, torch, th_avg)):
            opt.zero_grad()
            loss = module.nn.functional.cross_entropy(model(module.tensor(x)), module.tensor(y))
            loss.backward()
            opt.step()
            avg.update_parameters(model)
    assert int(gg_avg.n_averaged.item()) == int(th_avg.n_averaged.item()) == 6
    for (name, g), (_, t) in zip(gg_avg.state_dict().items(), th_avg.state_dict().items()):
        np.testing.assert_allclose(
            np.asarray(g.detach().numpy()), t.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=name
        )
    inputs = [glassgrad.tensor(x) for x, _ in batches]
    swa_utils.update_bn(inputs, gg_avg)
    torch.optim.swa_utils.update_bn([torch.tensor(x) for x, _ in batches], th_avg)
    for (name, g), (_, t) in zip(gg_avg.state_dict().items(), th_avg.state_dict().items()):
        np.testing.assert_allclose(
            np.asarray(g.detach().numpy()), t.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=name
        )
    assert gg_avg.module[1].momentum == 0.1 and gg_avg.training
