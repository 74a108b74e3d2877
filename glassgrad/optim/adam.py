"""Adam: adaptive moment estimation, with optional AMSGrad and decoupled weight decay."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from glassgrad.autograd.graph import increment_version
from glassgrad.optim.optimizer import Optimizer, check_adam_arguments, lerp_
from glassgrad.tensor import Tensor

if TYPE_CHECKING:
    from glassgrad.optim.optimizer import ParamsT


class Adam(Optimizer):
    """Adam, PyTorch's formulation (Kingma and Ba, with eps added after the bias correction).

    For step ``t`` and gradient ``g``::

        g = g + weight_decay * p          (L2 penalty; AdamW decays p directly instead)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)             (amsgrad: the denominator uses v_max)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        if isinstance(lr, Tensor):
            lr = float(lr.item())
        betas = tuple(float(b.item()) if isinstance(b, Tensor) else b for b in betas)  # type: ignore[assignment]
        check_adam_arguments(lr, betas, eps, weight_decay)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _update(self, group):
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
        decoupled = group.get("decoupled_weight_decay", False)
        for p, grad in self._grads(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = self._new_step()
                state["exp_avg"] = self._zeros_like(p)
                state["exp_avg_sq"] = self._zeros_like(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = self._zeros_like(p)
            step = self._step_count(state)

            if weight_decay != 0:
                if decoupled:
                    p.array *= 1 - lr * weight_decay
                else:
                    grad = grad + weight_decay * p.array

            exp_avg, exp_avg_sq = state["exp_avg"].array, state["exp_avg_sq"].array
            lerp_(exp_avg, grad, 1 - beta1)
            exp_avg_sq *= beta2
            exp_avg_sq += (1 - beta2) * grad * grad

            bias_correction1 = 1 - beta1**step
            bias_correction2_sqrt = (1 - beta2**step) ** 0.5
            step_size = lr / bias_correction1
            if amsgrad:
                max_sq = state["max_exp_avg_sq"].array
                np.maximum(max_sq, exp_avg_sq, out=max_sq)
                increment_version(state["max_exp_avg_sq"], "Adam.step")
                denom = np.sqrt(max_sq)
            else:
                denom = np.sqrt(exp_avg_sq)
            denom /= bias_correction2_sqrt
            denom += eps
            p.array += -step_size * exp_avg / denom
            increment_version(p, "Adam.step")
            increment_version(state["exp_avg"], "Adam.step")
            increment_version(state["exp_avg_sq"], "Adam.step")
