"""Optimizers and learning-rate schedules by name, with defaults that train the lineage's models."""

OPTIMIZERS = {
    "sgd": "SGD with momentum (default lr 0.05, momentum 0.9, weight decay 5e-4)",
    "adam": "Adam (default lr 1e-3)",
    "adamw": "AdamW (default lr 1e-3, weight decay 0.01)",
    "rmsprop": "RMSprop (default lr 1e-3)",
    "adagrad": "Adagrad (default lr 0.01)",
}
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 0.01}
DEFAULT_WEIGHT_DECAY = {"sgd": 5e-4, "adam": 0.0, "adamw": 0.01, "rmsprop": 0.0, "adagrad": 0.0}

SCHEDULES = {
    "none": "constant learning rate",
    "cosine": "cosine annealing to 0 over the run (per epoch)",
    "step": "divide by 10 every third of the run (per epoch)",
    "multistep": "divide by 10 at 50% and 75% of the run (per epoch)",
    "exponential": "multiply by 0.9 every epoch",
    "onecycle": "one cycle: warm up to lr, then anneal (per step)",
    "plateau": "divide by 10 when the test loss stops falling for 2 epochs",
}


def build_optimizer(name, parameters, lr=None, momentum=0.9, weight_decay=None):
    """The optimizer ``name`` over ``parameters``; None for lr or weight_decay takes that optimizer's default."""
    from glassgrad import optim

    key = name.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
    lr = DEFAULT_LR[key] if lr is None else lr
    wd = DEFAULT_WEIGHT_DECAY[key] if weight_decay is None else weight_decay
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
    if key == "none":
        return None, "epoch"
    if key == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=max(1, epochs)), "epoch"
    if key == "step":
        return S.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1), "epoch"
    if key == "multistep":
        return S.MultiStepLR(optimizer, milestones=[max(1, epochs // 2), max(2, (3 * epochs) // 4)], gamma=0.1), "epoch"
    if key == "exponential":
        return S.ExponentialLR(optimizer, gamma=0.9), "epoch"
    if key == "onecycle":
        max_lr = optimizer.param_groups[0]["lr"]
        return S.OneCycleLR(optimizer, max_lr=max_lr, total_steps=max(1, epochs * steps_per_epoch)), "step"
    return S.ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=2), "epoch"


# Schedules whose curve depends on the run's length: a resumed run of another length re-plans them.
LENGTH_DEPENDENT = ("cosine", "step", "multistep", "onecycle")


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
