"""AdamW: Adam with decoupled weight decay (Loshchilov and Hutter)."""

from glassgrad.optim.adam import Adam


class AdamW(Adam):
    """Adam whose weight decay shrinks the weights directly, ``p = p * (1 - lr * weight_decay)``,
    before the Adam step, instead of adding ``weight_decay * p`` to the gradient (so the decay is
    not rescaled by the adaptive denominator). Default ``weight_decay`` is 1e-2, as in PyTorch."""

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=1e-2,
        amsgrad=False,
        *,
        maximize=False,
        foreach=None,
        capturable=False,
        differentiable=False,
        fused=None,
    ):
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

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        # AdamW is decoupled whatever the checkpoint says (an Adam state dict loads into it too).
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
