"""Uniform(low, high): the flat density on [low, high), reparameterised."""

from glassgrad import random
from glassgrad.creation import full_like
from glassgrad.distributions import constraints
from glassgrad.distributions.distribution import _NO_SHAPE, Distribution, broadcast_all
from glassgrad.tensor import Size, Tensor


class Uniform(Distribution):
    """Uniform distributions on the half-open intervals ``[low, high)`` (broadcast together)."""

    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, validate_args=validate_args)

    def _arg_constraints(self):
        # Each bound is checked against the other, as PyTorch does.
        return {"low": constraints.less_than(self.high), "high": constraints.greater_than(self.low)}

    arg_constraints = {"low": constraints.real, "high": constraints.real}

    @property
    def support(self):
        return constraints.half_open_interval(self.low, self.high)

    def expand(self, batch_shape, _instance=None):
        new = _instance if _instance is not None else Uniform.__new__(Uniform)
        batch_shape = Size(batch_shape)
        new.low, new.high = self.low.expand(batch_shape), self.high.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return full_like(self.high, float("nan"))

    @property
    def stddev(self):
        return (self.high - self.low) / 12**0.5

    @property
    def variance(self):
        return (self.high - self.low).pow(2) / 12

    def rsample(self, sample_shape=_NO_SHAPE):
        shape = self._extended_shape(sample_shape)
        u = Tensor._wrap(random.random(tuple(shape), dtype=self.low.array.dtype))
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        inside = (self.low <= value) & (self.high > value)
        return inside.to(self.low.dtype).log() - (self.high - self.low).log()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(min=0, max=1)

    def icdf(self, value):
        return value * (self.high - self.low) + self.low

    def entropy(self):
        return (self.high - self.low).log()
