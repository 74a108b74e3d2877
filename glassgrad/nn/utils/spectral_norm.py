"""The hook-based spectral_norm of older PyTorch code (``torch.nn.utils.spectral_norm``): parameter
``weight_orig``, buffers ``weight_u`` and ``weight_v``, and ``weight`` recomputed before each
forward. ``nn.utils.parametrizations.spectral_norm`` is the newer form."""

from glassgrad import creation, ops
from glassgrad.autograd import grad_mode
from glassgrad.nn.parameter import Parameter
from glassgrad.nn.utils.parametrizations import normalize_vector

__all__ = ["remove_spectral_norm", "spectral_norm"]


class SpectralNorm:
    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        if n_power_iterations <= 0:
            raise ValueError(
                f"Expected n_power_iterations to be positive, but got n_power_iterations={n_power_iterations}"
            )
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def matrix(self, weight):
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        matrix = self.matrix(weight)
        if do_power_iteration:
            # In place, v first then u, as PyTorch's hook version does.
            with grad_mode.no_grad():
                m = matrix.detach()
                for _ in range(self.n_power_iterations):
                    v.copy_(normalize_vector(ops.matmul(m.transpose(0, 1), u), self.eps))
                    u.copy_(normalize_vector(ops.matmul(m, v), self.eps))
            u, v = u.clone(), v.clone()
        sigma = ops.sum(u * ops.matmul(matrix, v))
        return weight / sigma

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute_weight(module, module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """weight / sigma with sigma estimated by power iteration at each training forward. Returns ``module``."""
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, SpectralNorm) and hook.name == name:
            raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"Module '{module._get_name()}' has no parameter with name '{name}'")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    fn = SpectralNorm(name, n_power_iterations, dim, eps)
    h, w = fn.matrix(weight).shape
    with grad_mode.no_grad():
        u = normalize_vector(creation.randn(h, dtype=weight.dtype), eps)
        v = normalize_vector(creation.randn(w, dtype=weight.dtype), eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    object.__setattr__(module, name, weight.detach())
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module, name="weight"):
    """Keep the normalised weight as a plain parameter and remove the hook and buffers."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            with grad_mode.no_grad():
                weight = hook.compute_weight(module, False).detach()
            del module._forward_pre_hooks[key]
            del module._parameters[name + "_orig"]
            del module._buffers[name + "_u"], module._buffers[name + "_v"]
            module.__dict__.pop(name, None)
            module.register_parameter(name, Parameter(weight))
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
