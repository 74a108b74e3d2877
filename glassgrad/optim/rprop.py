"""Rprop: each coordinate moves by its own step size, grown while its gradient keeps its sign."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from glassgrad.autograd.graph import increment_version
from glassgrad.optim.optimizer import Optimizer
from glassgrad.tensor import Tensor

if TYPE_CHECKING:
    from glassgrad.optim.optimizer import ParamsT


class Rprop(Optimizer):
    """Resilient backpropagation, PyTorch's formulation (Riedmiller and Braun).

    For gradient ``g`` and the previous step's kept gradient ``prev``::

        factor = eta_plus where g * prev > 0, eta_minus where < 0, else 1
        step_size = clamp(step_size * factor, step_min, step_max)   (starts at lr)
        g = 0 where g * prev < 0         (a sign change: no move, and no growth next step)
        p = p - sign(g) * step_size;  prev = g

    Only the gradient's sign is used, so it suits full-batch training rather than mini-batches.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        if isinstance(lr, Tensor):
            lr = float(lr.item())
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]} (need 0 < eta_minus < 1 < eta_plus)")
        defaults = {
            "lr": lr,
            "etas": tuple(etas),
            "step_sizes": tuple(step_sizes),
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _update(self, group):
        (eta_minus, eta_plus), (step_min, step_max) = group["etas"], group["step_sizes"]
        for p, grad in self._grads(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = self._new_step()
                state["prev"] = self._zeros_like(p)
                state["step_size"] = self._zeros_like(p, fill=group["lr"])
            self._step_count(state)
            prev, step_size = state["prev"].array, state["step_size"].array
            dtype = p.array.dtype.type
            agreement = np.sign(grad * prev)
            factor = np.where(agreement > 0, dtype(eta_plus), np.where(agreement < 0, dtype(eta_minus), dtype(1)))
            step_size *= factor
            np.clip(step_size, dtype(step_min), dtype(step_max), out=step_size)
            grad = np.where(agreement < 0, dtype(0), grad)
            p.array -= np.sign(grad) * step_size
            prev[...] = grad
            increment_version((p, state["prev"], state["step_size"]), "Rprop.step")
