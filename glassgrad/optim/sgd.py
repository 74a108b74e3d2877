"""SGD: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from glassgrad import backend
from glassgrad.autograd.graph import increment_version
from glassgrad.optim.optimizer import Optimizer
from glassgrad.tensor import Tensor

if TYPE_CHECKING:
    from glassgrad.optim.optimizer import ParamsT


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's formulation.

    For each parameter ``p`` with gradient ``g`` (negated when ``maximize``)::

        g = g + weight_decay * p
        b = g                                   (first step)
        b = momentum * b + (1 - dampening) * g  (later steps)
        g = g + momentum * b  if nesterov else  b
        p = p - lr * g

    Momentum is applied to the gradient before the learning rate (unlike Sutskever et al.),
    so changing ``lr`` mid-run rescales the whole step at once.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if isinstance(lr, Tensor):
            lr = float(lr.item())
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)

    def _update(self, group):
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov = group["weight_decay"], group["nesterov"]
        for p, grad in self._grads(group):
            buf = self.state[p].get("momentum_buffer") if momentum != 0 else None
            if buf is not None and buf.array.shape == p.array.shape and buf.array.dtype == p.array.dtype:
                # Every step after the first: one compiled pass (glassgrad.backend), same numbers.
                backend.sgd_momentum(p.array, buf.array, grad, lr, momentum, dampening, weight_decay, nesterov)
                increment_version(buf, "SGD.step")
                increment_version(p, "SGD.step")
                continue
            if weight_decay != 0:
                grad = grad + weight_decay * p.array
            if momentum != 0:
                state = self.state[p]
                if buf is None:
                    buf = state["momentum_buffer"] = Tensor._wrap(np.array(grad, copy=True))
                else:
                    b = buf.array
                    b *= momentum
                    b += (1 - dampening) * grad
                    increment_version(buf, "SGD.step")
                grad = grad + momentum * buf.array if nesterov else buf.array
            p.array += -lr * grad
            increment_version(p, "SGD.step")
