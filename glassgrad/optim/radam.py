"""RAdam: Adam whose adaptive step is switched on once its variance is tractable."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from glassgrad.autograd.graph import increment_version
from glassgrad.optim.optimizer import Optimizer, check_adam_arguments, lerp_
from glassgrad.tensor import Tensor

if TYPE_CHECKING:
    from glassgrad.optim.optimizer import ParamsT


class RAdam(Optimizer):
    """RAdam, PyTorch's formulation (Liu et al., 2019).

    For step ``t`` and gradient ``g``::

        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
        rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
        if rho_t > 5:  p = p - lr * m / (1 - beta1**t) * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r_t
        else:          p = p - lr * m / (1 - beta1**t)

    with the rectification ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``.
    The first steps are SGD with momentum; the adaptive rate starts once ``rho_t`` exceeds 5.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        if isinstance(lr, Tensor):
            lr = float(lr.item())
        check_adam_arguments(lr, betas, eps, weight_decay)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _update(self, group):
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        for p, grad in self._grads(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = self._new_step()
                state["exp_avg"] = self._zeros_like(p)
                state["exp_avg_sq"] = self._zeros_like(p)
            step = self._step_count(state)
            if weight_decay != 0:
                if group["decoupled_weight_decay"]:
                    p.array *= 1 - lr * weight_decay
                else:
                    grad = grad + weight_decay * p.array
            exp_avg, exp_avg_sq = state["exp_avg"].array, state["exp_avg_sq"].array
            lerp_(exp_avg, grad, 1 - beta1)
            exp_avg_sq *= beta2
            exp_avg_sq += (1 - beta2) * grad * grad
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            corrected = exp_avg / bias_correction1
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
            if rho_t > 5.0:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                adaptive = np.sqrt(exp_avg_sq)
                adaptive += eps
                adaptive = (bias_correction2**0.5) / adaptive
                p.array -= corrected * lr * adaptive * rect
            else:
                p.array -= corrected * lr
            increment_version((p, state["exp_avg"], state["exp_avg_sq"]), "RAdam.step")
