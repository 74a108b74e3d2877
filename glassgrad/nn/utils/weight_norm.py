"""The hook-based weight_norm of older PyTorch code (``torch.nn.utils.weight_norm``): parameters
``weight_g`` and ``weight_v``, and ``weight`` recomputed before each forward.
``nn.utils.parametrizations.weight_norm`` is the newer form."""

import warnings

from glassgrad.autograd import grad_mode
from glassgrad.nn.parameter import Parameter
from glassgrad.nn.utils.parametrizations import norm_except_dim

__all__ = ["remove_weight_norm", "weight_norm"]


class WeightNorm:
    def __init__(self, name, dim):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / norm_except_dim(v, self.dim))

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """weight = g * v / ||v||, the norm over every dim but ``dim`` (all with dim=None). Returns ``module``."""
    warnings.warn(
        "torch.nn.utils.weight_norm is deprecated in favor of torch.nn.utils.parametrizations.weight_norm.",
        FutureWarning,
        stacklevel=2,
    )
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, WeightNorm) and hook.name == name:
            raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"Module '{module._get_name()}' has no parameter with name '{name}'")
    fn = WeightNorm(name, dim)
    del module._parameters[name]
    with grad_mode.no_grad():
        module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, fn.dim)))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
    object.__setattr__(module, name, fn.compute_weight(module))
    module.register_forward_pre_hook(fn)
    return module


def remove_weight_norm(module, name="weight"):
    """Fold g and v back into one ``weight`` parameter and remove the hook."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, WeightNorm) and hook.name == name:
            with grad_mode.no_grad():
                weight = hook.compute_weight(module).detach()
            del module._forward_pre_hooks[key]
            del module._parameters[name + "_g"], module._parameters[name + "_v"]
            module.__dict__.pop(name, None)
            module.register_parameter(name, Parameter(weight))
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
