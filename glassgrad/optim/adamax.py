"""Adamax: Adam with the infinity norm of past gradients as its denominator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from glassgrad.autograd.graph import increment_version
from glassgrad.optim.optimizer import Optimizer, check_adam_arguments, lerp_
from glassgrad.tensor import Tensor

if TYPE_CHECKING:
    from glassgrad.optim.optimizer import ParamsT


class Adamax(Optimizer):
    """Adamax, PyTorch's formulation (Kingma and Ba, section 7.1).

    For step ``t`` and gradient ``g``::

        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1**t) * m / u
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        if isinstance(lr, Tensor):
            lr = float(lr.item())
        check_adam_arguments(lr, betas, eps, weight_decay)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _update(self, group):
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        for p, grad in self._grads(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = self._new_step()
                state["exp_avg"] = self._zeros_like(p)
                state["exp_inf"] = self._zeros_like(p)
            step = self._step_count(state)
            if weight_decay != 0:
                grad = grad + weight_decay * p.array
            exp_avg, exp_inf = state["exp_avg"].array, state["exp_inf"].array
            lerp_(exp_avg, grad, 1 - beta1)
            exp_inf *= beta2
            np.maximum(exp_inf, np.abs(grad) + p.array.dtype.type(eps), out=exp_inf)
            clr = lr / (1 - beta1**step)
            p.array += -clr * exp_avg / exp_inf
            increment_version((p, state["exp_avg"], state["exp_inf"]), "Adamax.step")
