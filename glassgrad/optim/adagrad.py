"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from glassgrad.autograd.graph import increment_version
from glassgrad.optim.optimizer import Optimizer
from glassgrad.tensor import Tensor

if TYPE_CHECKING:
    from glassgrad.optim.optimizer import ParamsT


class Adagrad(Optimizer):
    """Adagrad, PyTorch's formulation (Duchi et al.).

    For step ``t`` and gradient ``g``::

        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g                      (s starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)

    The state is created when the optimizer is built (not at the first step), as PyTorch does,
    so ``state_dict()`` lists every parameter from the start.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if isinstance(lr, Tensor):
            lr = float(lr.item())
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        self._init_state(self.param_groups[-1])

    def _init_state(self, group):
        for p in group["params"]:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = self._new_step()
                state["sum"] = self._zeros_like(p, fill=group["initial_accumulator_value"])

    def _update(self, group):
        lr, lr_decay, eps, weight_decay = group["lr"], group["lr_decay"], group["eps"], group["weight_decay"]
        for p, grad in self._grads(group):
            state = self.state[p]
            step = self._step_count(state)
            if weight_decay != 0:
                grad = grad + weight_decay * p.array
            clr = lr / (1 + (step - 1) * lr_decay)
            state_sum = state["sum"].array
            state_sum += 1 * grad * grad
            increment_version(state["sum"], "Adagrad.step")
            std = np.sqrt(state_sum)
            std += eps
            p.array += -clr * grad / std
            increment_version(p, "Adagrad.step")
