"""Stochastic weight averaging: an averaged copy of a model, its schedule, and a batch-norm refresh."""

from __future__ import annotations

import copy
import itertools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from glassgrad.autograd.grad_mode import no_grad
from glassgrad.autograd.graph import increment_version
from glassgrad.nn.module import Module
from glassgrad.nn.normalization import _BatchNorm, _InstanceNorm
from glassgrad.optim.lr_scheduler import LRScheduler, per_group
from glassgrad.tensor import Tensor

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from glassgrad.optim.optimizer import Optimizer

__all__ = ["AveragedModel", "SWALR", "update_bn", "get_ema_avg_fn", "get_swa_avg_fn", "get_ema_multi_avg_fn"]


def get_swa_avg_fn() -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """The equal-weight running average: ``avg + (current - avg) / (n + 1)``."""

    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """The exponential moving average: ``decay * avg + (1 - decay) * current``."""
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable[[list[Tensor], list[Tensor], Tensor], None]:
    """The exponential moving average over lists of tensors, updated in place."""
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    def ema_update(ema_param_list, current_param_list, _num_averaged):
        for p_ema, p_model in zip(ema_param_list, current_param_list):
            p_ema.copy_(p_ema * decay + p_model * (1 - decay))

    return ema_update


class AveragedModel(Module):
    """A copy of ``model`` whose parameters are the running average of ``model``'s (SWA), or any
    average ``avg_fn(averaged, current, n_averaged)`` returns (e.g. ``get_ema_avg_fn(0.999)``).

    Call ``update_parameters(model)`` after the steps to average; the first call copies. Buffers
    are copied from ``model`` unless ``use_buffers=True``, which averages them too. ``n_averaged``
    (an int64 buffer) counts the updates. The call runs the averaged copy.
    """

    def __init__(
        self,
        model: Module,
        device: Any = None,
        avg_fn: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None,
        multi_avg_fn: Callable[[list[Tensor], list[Tensor], Tensor], None] | None = None,
        use_buffers: bool = False,
    ) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: give avg_fn or multi_avg_fn, not both")
        self.module = copy.deepcopy(model)
        self.register_buffer("n_averaged", Tensor(np.array(0, dtype=np.int64)))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def _averaged_tensors(self, module):
        if self.use_buffers:
            return list(itertools.chain(module.parameters(), module.buffers()))
        return list(module.parameters())

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current parameters into the average."""
        with no_grad():
            mine = [p.detach() for p in self._averaged_tensors(self.module)]
            theirs = [p.detach() for p in self._averaged_tensors(model)]
            n = int(self.n_averaged.item())
            if n == 0:
                for a, b in zip(mine, theirs):
                    a.copy_(b)
            elif self.multi_avg_fn is not None:
                self.multi_avg_fn(mine, theirs, Tensor(np.array(n, dtype=np.int64)))
            else:
                avg_fn = self.avg_fn if self.avg_fn is not None else get_swa_avg_fn()
                count = Tensor(np.array(n, dtype=np.int64))
                for a, b in zip(mine, theirs):
                    a.copy_(avg_fn(a, b, count))
            if not self.use_buffers:
                for mine_buffer, their_buffer in zip(self.module.buffers(), model.buffers()):
                    mine_buffer.detach().copy_(their_buffer.detach())
            self.n_averaged.array[...] = n + 1
            increment_version(self.n_averaged, "AveragedModel.update_parameters")


def update_bn(loader: Iterable[Any], model: Module, device: Any = None) -> None:
    """Recompute every batch norm's running statistics with one pass over ``loader``.

    Averaged weights need statistics of their own: each batch norm is reset and fed the loader's
    inputs (a batch, or the first element of a list/tuple batch) with a cumulative average
    (``momentum=None``). The model's training mode and momenta are restored afterwards.
    """
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm) and not isinstance(module, _InstanceNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's lr to ``swa_lr`` over ``anneal_epochs`` steps ('cos' or 'linear'),
    then hold it there: the schedule of the averaging phase of SWA."""

    def __init__(
        self,
        optimizer: Optimizer,
        swa_lr: float,
        anneal_epochs: int = 10,
        anneal_strategy: str = "cos",
        last_epoch: int = -1,
    ) -> None:
        for value, group in zip(per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = value
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._anneal_strategy = anneal_strategy
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t: float) -> float:
        if self._anneal_strategy == "cos":
            return (1 - math.cos(math.pi * t)) / 2
        return t

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list[float]:
        # The previous lr is solved back from the current one, so that an lr changed by
        # another scheduler in between is annealed from where it is.
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(self.optimizer.param_groups, prev_lrs)]
