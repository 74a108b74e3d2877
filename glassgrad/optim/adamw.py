"""AdamW: Adam with decoupled weight decay (Loshchilov and Hutter)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from glassgrad.optim.adam import Adam

if TYPE_CHECKING:
    from glassgrad.optim.optimizer import ParamsT
    from glassgrad.tensor import Tensor


class AdamW(Adam):
    """Adam whose weight decay shrinks the weights directly, ``p = p * (1 - lr * weight_decay)``,
    before the Adam step, instead of adding ``weight_decay * p`` to the gradient (so the decay is
    not rescaled by the adaptive denominator). Default ``weight_decay`` is 1e-2, as in PyTorch."""

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        # AdamW is decoupled whatever the checkpoint says (an Adam state dict loads into it too).
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
