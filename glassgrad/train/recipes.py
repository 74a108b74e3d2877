"""The optimizer and learning-rate schedule tables: names, defaults and how each one is built."""

from dataclasses import dataclass


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer by name: its default learning rate and weight decay, and whether it takes momentum."""

    title: str
    lr: float
    weight_decay: float = 0.0
    momentum: bool = False

    def __str__(self):
        extra = f", weight decay {self.weight_decay:g}" if self.weight_decay else ""
        return f"{self.title} (default lr {self.lr:g}{extra})"


OPTIMIZERS = {
    "sgd": OptimizerSpec("SGD with momentum", 0.05, 5e-4, momentum=True),
    "adam": OptimizerSpec("Adam", 1e-3),
    "adamw": OptimizerSpec("AdamW", 1e-3, 0.01),
    "rmsprop": OptimizerSpec("RMSprop", 1e-3, momentum=True),
    "adagrad": OptimizerSpec("Adagrad", 0.01),
}


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule by name: ``interval`` says how often the trainer steps it ('epoch' or 'step');
    ``length_dependent`` ones are re-planned when a resumed run changes its number of epochs."""

    description: str
    interval: str = "epoch"
    length_dependent: bool = False


SCHEDULES = {
    "none": ScheduleSpec("constant learning rate"),
    "cosine": ScheduleSpec("cosine annealing to 0 over the run (per epoch)", length_dependent=True),
    "step": ScheduleSpec("divide by 10 every third of the run (per epoch)", length_dependent=True),
    "multistep": ScheduleSpec("divide by 10 at 50% and 75% of the run (per epoch)", length_dependent=True),
    "exponential": ScheduleSpec("multiply by 0.9 every epoch"),
    "onecycle": ScheduleSpec("one cycle: warm up to lr, then anneal (per step)", "step", length_dependent=True),
    "plateau": ScheduleSpec("divide by 10 when the test loss stops falling for 2 epochs"),
}
LENGTH_DEPENDENT = tuple(name for name, spec in SCHEDULES.items() if spec.length_dependent)


def build_optimizer(name, parameters, lr=None, momentum=0.9, weight_decay=None):
    """The optimizer ``name`` over ``parameters``; None for lr or weight_decay takes that optimizer's default."""
    from glassgrad import optim

    key = name.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
    spec = OPTIMIZERS[key]
    lr = spec.lr if lr is None else lr
    wd = spec.weight_decay if weight_decay is None else weight_decay
    if key == "sgd":
        return optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=wd)
    if key == "adam":
        return optim.Adam(parameters, lr=lr, weight_decay=wd)
    if key == "adamw":
        return optim.AdamW(parameters, lr=lr, weight_decay=wd)
    if key == "rmsprop":
        return optim.RMSprop(parameters, lr=lr, momentum=momentum if momentum else 0.0, weight_decay=wd)
    return optim.Adagrad(parameters, lr=lr, weight_decay=wd)


def build_scheduler(name, optimizer, epochs, steps_per_epoch):
    """``(scheduler or None, interval)`` where interval is 'epoch' or 'step' (how often to call step())."""
    from glassgrad.optim import lr_scheduler as S

    key = (name or "none").lower()
    if key not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of: {', '.join(SCHEDULES)}")
    interval = SCHEDULES[key].interval
    if key == "none":
        return None, interval
    if key == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=max(1, epochs)), interval
    if key == "step":
        return S.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1), interval
    if key == "multistep":
        milestones = [max(1, epochs // 2), max(2, (3 * epochs) // 4)]
        return S.MultiStepLR(optimizer, milestones=milestones, gamma=0.1), interval
    if key == "exponential":
        return S.ExponentialLR(optimizer, gamma=0.9), interval
    if key == "onecycle":
        max_lr = optimizer.param_groups[0]["lr"]
        return S.OneCycleLR(optimizer, max_lr=max_lr, total_steps=max(1, epochs * steps_per_epoch)), interval
    return S.ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=2), interval


def replan_scheduler(name, optimizer, epochs, steps_per_epoch, epochs_done, steps_done):
    """``(scheduler, interval)`` planned for a run of ``epochs`` epochs and advanced to where a resumed
    run stands (``epochs_done`` finished epochs, ``steps_done`` optimizer steps), or None when schedule
    ``name`` does not depend on the run's length.

    The new curve starts from the run's initial learning rate, as if the run had been planned with
    this length from the beginning; the optimizer's other state (moments, momentum buffers) is kept.
    """
    import warnings

    key = (name or "none").lower()
    if key not in LENGTH_DEPENDENT:
        return None
    if key == "onecycle":
        max_lr = optimizer.param_groups[0]["max_lr"]
        for group in optimizer.param_groups:
            group.pop("initial_lr", None)
            group["lr"] = max_lr
    else:
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
    scheduler, interval = build_scheduler(key, optimizer, epochs, steps_per_epoch)
    with warnings.catch_warnings():
        # Replaying the steps already taken: the optimizer's own steps are in the past.
        warnings.simplefilter("ignore")
        for _ in range(steps_done if interval == "step" else epochs_done):
            scheduler.step()
    return scheduler, interval
