"""RMSprop: divide the gradient by a running root mean square of recent gradients."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from glassgrad.autograd.graph import increment_version
from glassgrad.optim.optimizer import Optimizer, lerp_
from glassgrad.tensor import Tensor

if TYPE_CHECKING:
    from glassgrad.optim.optimizer import ParamsT


class RMSprop(Optimizer):
    """RMSprop, PyTorch's formulation (Hinton's lecture 6e; eps outside the square root).

    For gradient ``g``::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        a = sqrt(v - mean_g**2) + eps   (centered: mean_g = running mean of g)
        a = sqrt(v) + eps               (otherwise)
        b = momentum * b + g / a;  p = p - lr * b    (momentum > 0)
        p = p - lr * g / a                           (momentum == 0)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        if isinstance(lr, Tensor):
            lr = float(lr.item())
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _update(self, group):
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
        for p, grad in self._grads(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = self._new_step()
                state["square_avg"] = self._zeros_like(p)
                if momentum > 0:
                    state["momentum_buffer"] = self._zeros_like(p)
                if centered:
                    state["grad_avg"] = self._zeros_like(p)
            self._step_count(state)

            if weight_decay != 0:
                grad = grad + weight_decay * p.array
            square_avg = state["square_avg"].array
            square_avg *= alpha
            square_avg += (1 - alpha) * grad * grad
            increment_version(state["square_avg"], "RMSprop.step")

            if centered:
                grad_avg = state["grad_avg"].array
                lerp_(grad_avg, grad, 1 - alpha)
                increment_version(state["grad_avg"], "RMSprop.step")
                avg = np.sqrt(square_avg + -1 * grad_avg * grad_avg)
            else:
                avg = np.sqrt(square_avg)
            avg += eps

            if momentum > 0:
                buf = state["momentum_buffer"].array
                buf *= momentum
                buf += grad / avg
                increment_version(state["momentum_buffer"], "RMSprop.step")
                p.array += -lr * buf
            else:
                p.array += -lr * grad / avg
            increment_version(p, "RMSprop.step")
