"""Categorical: one of K classes, from ``probs`` or ``logits``; OneHotCategorical, its one-hot form."""

import numpy as np

from glassgrad import random
from glassgrad._numeric_info import finfo
from glassgrad.creation import arange, full_like
from glassgrad.distributions import constraints
from glassgrad.distributions.distribution import (
    _NO_SHAPE,
    Distribution,
    lazy_property,
    logits_to_probs,
    probs_to_logits,
)
from glassgrad.tensor import Size, Tensor


def _one_of(probs, logits, name):
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    given = probs if probs is not None else logits
    if not isinstance(given, Tensor):
        raise ValueError(f"{name}: probs or logits must be a tensor, got {type(given).__name__}")
    if given.dim() < 1:
        raise ValueError(
            f"{name}: `{'probs' if probs is not None else 'logits'}` parameter must be at least one-dimensional."
        )


class Categorical(Distribution):
    """Distributions over the classes ``0 .. K-1``, K the size of the last dimension of ``probs``
    (non-negative, normalised here) or ``logits`` (log-probabilities up to a constant).

    ``batch_shape`` is the parameter's shape less its last dimension; samples are int64.
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits, type(self).__name__)
        if probs is not None:
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.shape[-1]
        super().__init__(self._param.shape[:-1], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = _instance if _instance is not None else type(self).__new__(type(self))
        batch_shape = Size(batch_shape)
        shape = tuple(batch_shape) + (self._num_events,)
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(shape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(shape)
            new._param = new.logits
        new._num_events = self._num_events
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits)

    @property
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def mean(self):
        return full_like(self.probs[..., 0], float("nan"))

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return full_like(self.probs[..., 0], float("nan"))

    def sample(self, sample_shape=_NO_SHAPE):
        """Class indices of shape ``sample_shape + batch_shape`` (int64), by inverting the CDF."""
        if not isinstance(sample_shape, (tuple, list)):
            sample_shape = (sample_shape,)
        probs = self.probs.detach().array
        cdf = np.cumsum(probs, axis=-1)
        shape = tuple(sample_shape) + tuple(self._batch_shape)
        u = random.random(shape + (1,), dtype=probs.dtype) * cdf[..., -1:]
        index = (np.broadcast_to(cdf, shape + (self._num_events,)) <= u).sum(-1)
        return Tensor._wrap(np.minimum(index, self._num_events - 1).astype(np.int64))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        shape = np.broadcast_shapes(tuple(value.shape), tuple(self.logits.shape))
        log_pmf = self.logits.expand(shape)
        index = value.expand(shape[:-1] + (1,))
        return log_pmf.gather(-1, index).squeeze(-1)

    def entropy(self):
        logits = self.logits.clamp(min=finfo(self.logits.dtype).min)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        values = arange(self._num_events, dtype="int64").reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + tuple(self._batch_shape)) if expand else values


class OneHotCategorical(Distribution):
    """Categorical with one-hot samples: events are vectors of length K (``event_shape`` is ``(K,)``)."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        param = self._categorical._param
        super().__init__(param.shape[:-1], param.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = _instance if _instance is not None else OneHotCategorical.__new__(OneHotCategorical)
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, Size(batch_shape), self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def param_shape(self):
        return self._categorical.param_shape

    @property
    def mean(self):
        return self._categorical.probs

    @property
    def mode(self):
        probs = self._categorical.probs
        return _one_hot(probs.argmax(-1), self.event_shape[0], probs.dtype)

    @property
    def variance(self):
        probs = self._categorical.probs
        return probs * (1 - probs)

    def sample(self, sample_shape=_NO_SHAPE):
        return _one_hot(self._categorical.sample(sample_shape), self.event_shape[0], self.probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        n = self.event_shape[0]
        values = Tensor._wrap(
            np.eye(n, dtype=self.probs.array.dtype).reshape((n,) + (1,) * len(self._batch_shape) + (n,))
        )
        return values.expand((n,) + tuple(self._batch_shape) + (n,)) if expand else values

    def __repr__(self):
        return repr(self._categorical).replace("Categorical", "OneHotCategorical", 1)


def _one_hot(index, n, dtype):
    """One-hot vectors of length ``n`` (not differentiable: their entries are 0 and 1)."""
    return Tensor._wrap((index.array[..., None] == np.arange(n)).astype(dtype.numpy))
