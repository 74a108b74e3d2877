"""Learning-rate schedulers: known values, checkpoint round trips, misuse."""

import math
import warnings

import numpy as np
import pytest

import glassgrad
from glassgrad import optim
from glassgrad.nn import Parameter
from glassgrad.optim import lr_scheduler


def _opt(name="SGD", lr=0.1, **kwargs):
    groups = [{"params": [Parameter(glassgrad.ones(2))]}, {"params": [Parameter(glassgrad.ones(2))], "lr": lr / 2}]
    return getattr(optim, name)(groups, lr=lr, **kwargs)


def _steps(opt, sched, n, metrics=None):
    lrs = []
    for i in range(n):
        lrs.append(list(sched.get_last_lr()))
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i % len(metrics)])
    return lrs


def test_known_values():
    opt = _opt()
    lrs = _steps(opt, lr_scheduler.StepLR(opt, step_size=2, gamma=0.5), 5)
    assert [round(x[0], 10) for x in lrs] == [0.1, 0.1, 0.05, 0.05, 0.025]
    assert [round(x[1], 10) for x in lrs] == [0.05, 0.05, 0.025, 0.025, 0.0125]

    opt = _opt()
    lrs = _steps(opt, lr_scheduler.MultiStepLR(opt, milestones=[1, 3, 3], gamma=0.1), 5)
    assert [round(x[0], 12) for x in lrs] == [0.1, 0.01, 0.01, 0.0001, 0.0001]

    opt = _opt()
    lrs = _steps(opt, lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=4), 6)
    np.testing.assert_allclose([x[0] for x in lrs], [0.05, 0.0625, 0.075, 0.0875, 0.1, 0.1])

    opt = _opt()
    lrs = _steps(opt, lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.01), 11)
    closed = [0.01 + 0.09 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    np.testing.assert_allclose([x[0] for x in lrs], closed, rtol=1e-12)


def test_one_cycle_shape_and_momentum():
    opt = _opt(momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=100, pct_start=0.25)
    lrs, moms = [], []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        if len(lrs) < 100:
            sched.step()
    assert lrs[0] == pytest.approx(1.0 / 25) and max(lrs) == pytest.approx(1.0)
    assert int(np.argmax(lrs)) == 24 and lrs[-1] == pytest.approx(1.0 / 25 / 1e4)
    assert moms[0] == pytest.approx(0.95) and moms[24] == pytest.approx(0.85) and moms[-1] == pytest.approx(0.95)
    sched.step()  # step 100 of 100 is still allowed
    with pytest.raises(ValueError, match="Tried to step 101 times"):
        sched.step()


def test_one_cycle_cycles_adam_beta1_and_needs_momentum():
    opt = _opt("Adam", betas=(0.9, 0.99))
    lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    assert opt.param_groups[0]["betas"] == (0.95, 0.99)
    with pytest.raises(ValueError, match="cycle_momentum=False"):
        lr_scheduler.OneCycleLR(_opt("Adagrad"), max_lr=0.1, total_steps=10)


def test_reduce_lr_on_plateau_scripted():
    opt = _opt()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1, min_lr=0.02)
    metrics = [1.0, 0.5, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
    got = []
    for m in metrics:
        sched.step(m)
        got.append(sched.get_last_lr()[0])
    # best 0.5 at epoch 2; three bad epochs (3, 4, 5) -> halve; cooldown 1 epoch; three more -> halve...
    assert got == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.02])
    assert sched.get_last_lr()[1] == pytest.approx(0.02)  # the second group hit min_lr too


SCHEDULERS = [
    lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.7),
    lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, 5, 5, 9]),
    lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9),
    lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    lambda o: lr_scheduler.LinearLR(o, start_factor=0.2, total_iters=6),
    lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=20, three_phase=True),
    lambda o: lr_scheduler.SequentialLR(
        o, [lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=3), lr_scheduler.ExponentialLR(o, gamma=0.8)], [4]
    ),
    lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=1, factor=0.5),
]


NAMES = [
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "OneCycleLR",
    "SequentialLR",
    "Plateau",
]


@pytest.mark.parametrize("make", SCHEDULERS, ids=NAMES)
def test_checkpoint_round_trip_continues_identically(make, tmp_path):
    metrics = [1.0, 0.9, 0.95, 0.97, 0.99, 0.8, 0.85, 0.9, 0.91, 0.92]
    plateau = isinstance(make(_opt()), lr_scheduler.ReduceLROnPlateau)
    feed = metrics if plateau else None
    opt = _opt(momentum=0.9)
    reference = _steps(opt, make(opt), 18, feed)

    opt = _opt(momentum=0.9)
    sched = make(opt)
    first = _steps(opt, sched, 7, feed)
    glassgrad.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "c.pt")
    checkpoint = glassgrad.load(tmp_path / "c.pt")

    opt = _opt(momentum=0.9)
    sched = make(opt)  # build the scheduler first, then load the optimizer (as PyTorch documents)
    sched.load_state_dict(checkpoint["scheduler"])
    opt.load_state_dict(checkpoint["optimizer"])
    rest = _steps(opt, sched, 11, feed[7:] + feed[:7] if plateau else None)
    assert first + rest == reference


def test_step_with_epoch_uses_the_closed_form():
    opt = _opt()
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    opt.step()
    with pytest.warns(UserWarning, match="deprecated"):
        sched.step(7)
    assert sched.get_last_lr()[0] == pytest.approx(0.1 * 0.25)


def test_warns_when_stepped_before_the_optimizer():
    opt = _opt()
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()


def test_lambda_lr_stores_callable_objects_but_not_functions():
    class Warmup:
        def __init__(self):
            self.steps = 4

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.steps)

    fn = Warmup()
    opt = _opt()
    sched = lr_scheduler.LambdaLR(opt, [fn, lambda e: 0.5**e])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"steps": 4}, None]
    state["lr_lambdas"][0] = {"steps": 8}
    sched.load_state_dict(state)
    assert fn.steps == 8


def test_resuming_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(_opt(), step_size=2, last_epoch=3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)


def test_a_user_optimizer_overriding_step_does_not_trigger_the_order_warning():
    class PlainSGD(optim.Optimizer):
        def __init__(self, params, lr):
            super().__init__(params, {"lr": lr})

        @glassgrad.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.add_(p.grad, alpha=-group["lr"])

    p = Parameter(glassgrad.tensor([1.0]))
    opt = PlainSGD([p], lr=0.5)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    p.grad = glassgrad.tensor([1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()
    assert float(p.array[0]) == 0.5 and opt.param_groups[0]["lr"] == 0.25
