"""NAdam: Adam with Nesterov momentum and a momentum schedule."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from glassgrad.autograd.graph import increment_version
from glassgrad.optim.optimizer import Optimizer, check_adam_arguments, lerp_
from glassgrad.tensor import Tensor

if TYPE_CHECKING:
    from glassgrad.optim.optimizer import ParamsT


class NAdam(Optimizer):
    """NAdam, PyTorch's formulation (Dozat, 2016).

    For step ``t`` and gradient ``g``::

        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        prod_t = prod_{i<=t} mu_i                  (kept in float32 state, as PyTorch does)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - prod_t) * g / denom
              - lr * mu_{t+1} / (1 - prod_t * mu_{t+1}) * m / denom

    ``decoupled_weight_decay=True`` decays ``p`` directly (NAdamW) instead of adding to ``g``.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
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
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _update(self, group):
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, momentum_decay = group["weight_decay"], group["momentum_decay"]
        for p, grad in self._grads(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = self._new_step()
                state["mu_product"] = Tensor._wrap(np.ones((), dtype=np.float32))
                state["exp_avg"] = self._zeros_like(p)
                state["exp_avg_sq"] = self._zeros_like(p)
            step = self._step_count(state)
            bias_correction2 = 1 - beta2**step
            if weight_decay != 0:
                if group["decoupled_weight_decay"]:
                    p.array *= 1 - lr * weight_decay
                else:
                    grad = grad + weight_decay * p.array
            mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
            mu_product = state["mu_product"].array
            mu_product *= mu
            exp_avg, exp_avg_sq = state["exp_avg"].array, state["exp_avg_sq"].array
            lerp_(exp_avg, grad, 1 - beta1)
            exp_avg_sq *= beta2
            exp_avg_sq += (1 - beta2) * grad * grad
            denom = np.sqrt(exp_avg_sq / bias_correction2)
            denom += eps
            product = float(mu_product)
            product_next = product * mu_next
            p.array += (-lr * (1.0 - mu) / (1.0 - product)) * grad / denom
            p.array += ((-lr * mu_next) / (1.0 - product_next)) * exp_avg / denom
            increment_version((p, state["mu_product"], state["exp_avg"], state["exp_avg_sq"]), "NAdam.step")
