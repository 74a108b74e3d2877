"""MultivariateNormal: the Gaussian on R^k, from a covariance, a precision or a Cholesky factor."""

import math

import numpy as np

from glassgrad import linalg, random
from glassgrad.distributions import constraints
from glassgrad.distributions.distribution import _NO_SHAPE, Distribution, lazy_property
from glassgrad.tensor import Size, Tensor


class _PositiveDefinite(constraints.Constraint):
    event_dim = 2

    def check(self, value):
        array = value.detach().array
        symmetric = np.all(np.abs(array - np.swapaxes(array, -1, -2)) <= 1e-6 * (1 + np.abs(array)), axis=(-1, -2))
        eigen = np.linalg.eigvalsh(np.where(np.isfinite(array), array, 0.0))
        return Tensor._wrap(symmetric & np.all(eigen > 0, axis=-1))

    def __repr__(self):
        return "PositiveDefinite()"


class _LowerCholesky(constraints.Constraint):
    event_dim = 2

    def check(self, value):
        array = value.detach().array
        lower = np.all(np.triu(array, 1) == 0, axis=(-1, -2))
        return Tensor._wrap(lower & np.all(np.diagonal(array, axis1=-2, axis2=-1) > 0, axis=-1))

    def __repr__(self):
        return "LowerCholesky()"


class MultivariateNormal(Distribution):
    """Gaussians of mean ``loc`` (..., k) and one of ``covariance_matrix``, ``precision_matrix`` or
    ``scale_tril`` (..., k, k; the lower Cholesky factor of the covariance). Events are k-vectors;
    ``batch_shape`` is the broadcast of loc's and the matrix's leading dimensions."""

    arg_constraints = {
        "loc": constraints.real_vector,
        "covariance_matrix": _PositiveDefinite(),
        "precision_matrix": _PositiveDefinite(),
        "scale_tril": _LowerCholesky(),
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        matrix = given[0]
        if matrix.dim() < 2:
            name = (
                "scale_tril"
                if scale_tril is not None
                else ("covariance_matrix" if covariance_matrix is not None else "precision_matrix")
            )
            raise ValueError(f"{name} matrix must be at least two-dimensional, with optional leading batch dimensions")
        batch_shape = np.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1]))
        k = loc.shape[-1]
        if tuple(matrix.shape[-2:]) != (k, k):
            raise ValueError(
                f"the matrix must be {k} x {k} to match loc's last dimension, got {tuple(matrix.shape[-2:])}"
            )
        if scale_tril is not None:
            self.scale_tril = scale_tril.expand(batch_shape + (k, k))
        elif covariance_matrix is not None:
            self.covariance_matrix = covariance_matrix.expand(batch_shape + (k, k))
        else:
            self.precision_matrix = precision_matrix.expand(batch_shape + (k, k))
        self.loc = loc.expand(batch_shape + (k,))
        super().__init__(batch_shape, (k,), validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = linalg.cholesky(covariance_matrix)
        else:
            # The covariance is the inverse of the precision; its Cholesky factor, from that inverse.
            self._unbroadcasted_scale_tril = linalg.cholesky(linalg.inv(precision_matrix))

    @lazy_property
    def scale_tril(self):
        k = self._event_shape[0]
        return self._unbroadcasted_scale_tril.expand(tuple(self._batch_shape) + (k, k))

    @lazy_property
    def covariance_matrix(self):
        factor = self._unbroadcasted_scale_tril
        k = self._event_shape[0]
        return (factor @ factor.mT).expand(tuple(self._batch_shape) + (k, k))

    @lazy_property
    def precision_matrix(self):
        return linalg.inv(self.covariance_matrix)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        k = self._event_shape[0]
        return self._unbroadcasted_scale_tril.pow(2).sum(-1).expand(tuple(self._batch_shape) + (k,))

    def _half_log_det(self):
        return self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def rsample(self, sample_shape=_NO_SHAPE):
        shape = self._extended_shape(sample_shape)
        noise = Tensor._wrap(random.standard_normal(tuple(shape), dtype=self.loc.array.dtype))
        return self.loc + (self._unbroadcasted_scale_tril @ noise.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        # tril(): a triangular solve reads the lower triangle only, so the upper gets no gradient (as in PyTorch).
        factor = self._unbroadcasted_scale_tril.tril()
        factor = factor.expand(tuple(diff.shape[:-1]) + tuple(factor.shape[-2:]))
        whitened = linalg.solve(factor, diff.unsqueeze(-1)).squeeze(-1)
        k = self._event_shape[0]
        return -0.5 * (k * math.log(2 * math.pi) + whitened.pow(2).sum(-1)) - self._half_log_det()

    def entropy(self):
        k = self._event_shape[0]
        out = 0.5 * k * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return out.expand(self._batch_shape) if tuple(out.shape) != tuple(self._batch_shape) else out

    def expand(self, batch_shape, _instance=None):
        k = self._event_shape[0]
        batch_shape = tuple(Size(batch_shape))
        return MultivariateNormal(
            self.loc.expand(batch_shape + (k,)),
            scale_tril=self._unbroadcasted_scale_tril.expand(batch_shape + (k, k)),
            validate_args=False,
        )
