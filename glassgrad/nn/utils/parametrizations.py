"""weight_norm and spectral_norm as parametrizations (``torch.nn.utils.parametrizations``)."""

from glassgrad import creation, ops
from glassgrad.autograd import grad_mode
from glassgrad.nn.module import Module
from glassgrad.nn.utils import parametrize

__all__ = ["spectral_norm", "weight_norm"]


def norm_except_dim(v, dim):
    """The 2-norm of v over every dim but ``dim``, kept as size 1 (all dims for dim -1: a scalar)."""
    if dim == -1:
        return ops.norm(v, 2)
    dims = tuple(d for d in range(v.ndim) if d != dim)
    return ops.sqrt(ops.sum(v * v, dims, keepdim=True))


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight):
        return norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """weight = g * v / ||v|| (norm over every dim but ``dim``; over all with dim=None), with
    g = ``parametrizations.weight.original0`` and v = ``original1``. Returns ``module``."""
    weight = getattr(module, name, None)
    if weight is None:
        raise ValueError(f"Module '{module._get_name()}' has no parameter or buffer with name '{name}'")
    dim = -1 if dim is None else (dim + weight.ndim if dim < -1 else dim)
    return parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(
                f"Expected n_power_iterations to be positive, but got n_power_iterations={n_power_iterations}"
            )
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            matrix = self._matrix(weight)
            h, w = matrix.shape
            u = normalize_vector(creation.randn(h, dtype=weight.dtype), eps)
            v = normalize_vector(creation.randn(w, dtype=weight.dtype), eps)
            self.register_buffer("_u", u)
            self.register_buffer("_v", v)
            self._power_method(matrix, 15)

    def _matrix(self, weight):
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, matrix, iterations):
        # In place, so that the state dict's _u and _v follow, as PyTorch's.
        with grad_mode.no_grad():
            m = matrix.detach()
            for _ in range(iterations):
                self._u.copy_(normalize_vector(ops.matmul(m, self._v), self.eps))
                self._v.copy_(normalize_vector(ops.matmul(m.transpose(0, 1), self._u), self.eps))

    def forward(self, weight):
        if weight.ndim == 1:
            return weight / ops.clamp(ops.norm(weight, 2), min=self.eps)
        matrix = self._matrix(weight)
        if self.training:
            self._power_method(matrix, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = ops.sum(u * ops.matmul(matrix, v))
        return weight / sigma

    def right_inverse(self, value):
        return value


def normalize_vector(x, eps):
    return x / ops.clamp(ops.norm(x, 2), min=eps)


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """weight / sigma, sigma the largest singular value of the weight (as a matrix with ``dim``
    first), estimated by ``n_power_iterations`` of power iteration per training forward, with
    the vectors in buffers ``parametrizations.weight.0._u`` and ``_v``. Returns ``module``."""
    weight = getattr(module, name, None)
    if weight is None:
        raise ValueError(f"Module '{module._get_name()}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    return parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
