"""ASGD: SGD that also keeps a running average of the iterates."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from glassgrad.autograd.graph import increment_version
from glassgrad.optim.optimizer import Optimizer
from glassgrad.tensor import Tensor

if TYPE_CHECKING:
    from glassgrad.optim.optimizer import ParamsT


class ASGD(Optimizer):
    """Averaged SGD, PyTorch's formulation (Polyak and Juditsky, 1992).

    For step ``t`` and gradient ``g``, with ``eta`` and ``mu`` kept in float32 state::

        g = g + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g
        ax = p if mu == 1 else ax + mu * (p - ax)     (the averaged iterate, state['ax'])
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu = 1 / max(1, t - t0)                        (averaging starts after t0 steps)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        if isinstance(lr, Tensor):
            lr = float(lr.item())
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr,
            "lambd": lambd,
            "alpha": alpha,
            "t0": t0,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _update(self, group):
        lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
        weight_decay = group["weight_decay"]
        for p, grad in self._grads(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = self._new_step()
                state["eta"] = Tensor._wrap(np.array(lr, dtype=np.float32))
                state["mu"] = Tensor._wrap(np.ones((), dtype=np.float32))
                state["ax"] = self._zeros_like(p)
            step = self._step_count(state)
            if weight_decay != 0:
                grad = grad + weight_decay * p.array
            eta = float(state["eta"].array)
            p.array *= 1 - lambd * eta
            p.array += -eta * grad
            ax = state["ax"].array
            mu = float(state["mu"].array)
            if mu != 1:
                ax += (p.array - ax) * p.array.dtype.type(mu)
            else:
                ax[...] = p.array
            state["eta"].array[...] = lr / ((1 + lambd * lr * step) ** alpha)
            state["mu"].array[...] = 1 / max(1, step - t0)
            increment_version((p, state["ax"], state["eta"], state["mu"]), "ASGD.step")
