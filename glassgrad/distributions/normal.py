"""Normal(loc, scale): the Gaussian, reparameterised (``rsample`` is loc + scale * noise)."""

import math

from glassgrad import random
from glassgrad.distributions import constraints
from glassgrad.distributions.distribution import _NO_SHAPE, Distribution, broadcast_all
from glassgrad.tensor import Size, Tensor

_SQRT2 = math.sqrt(2.0)


class Normal(Distribution):
    """Normal distributions of mean ``loc`` and standard deviation ``scale`` (broadcast together).

    ``batch_shape`` is the broadcast shape of ``loc`` and ``scale``; events are scalars.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = _instance if _instance is not None else Normal.__new__(Normal)
        batch_shape = Size(batch_shape)
        new.loc, new.scale = self.loc.expand(batch_shape), self.scale.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale.pow(2)

    def rsample(self, sample_shape=_NO_SHAPE):
        shape = self._extended_shape(sample_shape)
        noise = Tensor._wrap(random.standard_normal(tuple(shape), dtype=self.loc.array.dtype))
        return self.loc + noise * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -((value - self.loc) ** 2) / (2 * self.variance) - self.scale.log() - math.log(math.sqrt(2 * math.pi))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + ((value - self.loc) / (self.scale * _SQRT2)).erf())

    def icdf(self, value):
        return self.loc + self.scale * (2 * value - 1).erfinv() * _SQRT2

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()
