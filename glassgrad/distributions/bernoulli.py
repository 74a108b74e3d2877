"""Bernoulli: 1 with probability ``probs`` (or ``sigmoid(logits)``), else 0."""

import numpy as np

from glassgrad import random
from glassgrad.distributions import constraints
from glassgrad.distributions.distribution import (
    _NO_SHAPE,
    Distribution,
    broadcast_all,
    lazy_property,
    logits_to_probs,
    probs_to_logits,
)
from glassgrad.tensor import Size, Tensor


def bce_with_logits(logits, target):
    """-(target * log sigmoid(logits) + (1 - target) * log sigmoid(-logits)), finite for any logits."""
    return logits.clamp(min=0) - logits * target + (-logits.abs()).exp().log1p()


class Bernoulli(Distribution):
    """Coin flips, one per element of ``probs`` (in [0, 1]) or ``logits``; samples are floats 0./1."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
            self._param = self.probs
        else:
            (self.logits,) = broadcast_all(logits)
            self._param = self.logits
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = _instance if _instance is not None else Bernoulli.__new__(Bernoulli)
        batch_shape = Size(batch_shape)
        for name in ("probs", "logits"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(batch_shape))
                new._param = getattr(new, name)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        mode = (self.probs >= 0.5).to(self.probs.dtype)
        return mode.masked_fill(self.probs == 0.5, float("nan"))

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=_NO_SHAPE):
        shape = tuple(self._extended_shape(sample_shape))
        probs = np.broadcast_to(self.probs.detach().array, shape)
        return Tensor._wrap((random.random(shape, dtype=probs.dtype) < probs).astype(probs.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -bce_with_logits(logits, value)

    def entropy(self):
        return bce_with_logits(self.logits, self.probs)

    def enumerate_support(self, expand=True):
        values = Tensor._wrap(np.arange(2, dtype=self._param.array.dtype).reshape((2,) + (1,) * len(self._batch_shape)))
        return values.expand((2,) + tuple(self._batch_shape)) if expand else values
