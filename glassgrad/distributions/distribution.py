"""Distribution: the base class, and the helpers the distributions share.

Every distribution is built from Tensor ops, so ``log_prob``, ``entropy`` and ``rsample`` are
differentiable in the parameters (``-dist.log_prob(action) * reward`` trains a policy, and the
reparameterised ``rsample`` sends gradients to ``loc`` and ``scale``).
"""

from typing import Any

import numpy as np

from glassgrad import _dtype, ops
from glassgrad._numeric_info import finfo
from glassgrad.autograd.grad_mode import no_grad
from glassgrad.tensor import Size, Tensor

_NO_SHAPE = Size()  # the default sample_shape: one draw per distribution of the batch


class lazy_property:
    """A property computed on first use and then kept on the instance (``probs`` from ``logits``)."""

    def __init__(self, compute):
        self.compute = compute
        self.__doc__ = compute.__doc__
        self.__name__ = compute.__name__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = self.compute(instance)
        instance.__dict__[self.__name__] = value
        return value


def broadcast_all(*values):
    """Tensors of one broadcast shape from tensors and numbers (numbers take the default float
    dtype, or the dtype of the first tensor given)."""
    like = next((v for v in values if isinstance(v, Tensor)), None)
    if like is None:
        dtype = _dtype.get_default_dtype().numpy
    else:
        dtype = like.array.dtype if like.array.dtype.kind == "f" else _dtype.get_default_dtype().numpy
    tensors = []
    for v in values:
        if isinstance(v, Tensor):
            tensors.append(v)
        elif isinstance(v, (int, float, np.number)):
            tensors.append(Tensor._wrap(np.asarray(v, dtype=dtype)))
        else:
            raise ValueError(f"broadcast_all: expected tensors or numbers, got {type(v).__name__}")
    shape = np.broadcast_shapes(*(t.array.shape for t in tensors))
    return tuple(t if t.array.shape == shape else t.expand(shape) for t in tensors)


def clamp_probs(probs):
    """``probs`` kept inside (eps, 1 - eps), so that their logarithms stay finite."""
    eps = finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits, is_binary=False):
    return logits.sigmoid() if is_binary else ops.softmax(logits, -1)


def probs_to_logits(probs, is_binary=False):
    ps = clamp_probs(probs)
    return ps.log() - (-ps).log1p() if is_binary else ps.log()


def softplus(x):
    """log(1 + exp(x)), finite for large |x|."""
    return x.clamp(min=0) + (-x.abs()).exp().log1p()


class Distribution:
    """A batch of probability distributions, each over events of ``event_shape``.

    ``sample(sample_shape)`` has shape ``sample_shape + batch_shape + event_shape``; ``log_prob(value)``
    has the shape of ``value`` less ``event_shape``. ``validate_args`` (default: on, as in PyTorch)
    checks the parameters at construction and the values given to ``log_prob``.
    """

    has_rsample = False
    has_enumerate_support = False
    arg_constraints: dict = {}
    support: Any = None

    _validate_args = __debug__  # PyTorch checks arguments unless Python runs with -O

    @staticmethod
    def set_default_validate_args(value):
        """Turn argument checking on or off for every distribution made after this call."""
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args: expected True or False, got {value!r}")
        Distribution._validate_args = value

    def __init__(self, batch_shape=_NO_SHAPE, event_shape=_NO_SHAPE, validate_args=None):
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            for name, constraint in self._arg_constraints().items():
                if name not in self.__dict__ and isinstance(getattr(type(self), name, None), lazy_property):
                    continue  # a parameter given in its other form (logits for probs): checked there
                value = getattr(self, name)
                valid = constraint.check(value)
                if not bool(ops.all(valid).item()):
                    raise ValueError(
                        f"Expected parameter {name} (Tensor of shape {tuple(value.shape)}) of distribution "
                        f"{self!r} to satisfy the constraint {constraint!r}, but found invalid values:\n{value}"
                    )

    def _arg_constraints(self):
        return self.arg_constraints

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__}.mean")

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self).__name__}.mode")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__}.variance")

    @property
    def stddev(self):
        return self.variance.sqrt()

    def sample(self, sample_shape=_NO_SHAPE):
        """Draws of shape ``sample_shape + batch_shape + event_shape``, cut from the graph."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=_NO_SHAPE):
        raise NotImplementedError(
            f"{type(self).__name__} has no reparameterised sampler (has_rsample is False); use sample()"
        )

    def sample_n(self, n):
        return self.sample(Size((n,)))

    def log_prob(self, value):
        raise NotImplementedError(f"{type(self).__name__}.log_prob")

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__}.cdf")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__}.icdf")

    def entropy(self):
        raise NotImplementedError(f"{type(self).__name__}.entropy")

    def perplexity(self):
        return self.entropy().exp()

    def enumerate_support(self, expand=True):
        raise NotImplementedError(f"{type(self).__name__}.enumerate_support")

    def expand(self, batch_shape, _instance=None):
        raise NotImplementedError(f"{type(self).__name__}.expand")

    def _extended_shape(self, sample_shape=_NO_SHAPE):
        if not isinstance(sample_shape, (tuple, list)):
            sample_shape = (sample_shape,)
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def _validate_sample(self, value):
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        event_dims = len(self._event_shape)
        if event_dims and tuple(value.shape[-event_dims:]) != tuple(self._event_shape):
            raise ValueError(
                f"The right-most size of value must match event_shape: {tuple(value.shape)} vs "
                f"{tuple(self._event_shape)}."
            )
        try:
            np.broadcast_shapes(tuple(value.shape), tuple(self._batch_shape) + tuple(self._event_shape))
        except ValueError:
            raise ValueError(
                f"Value is not broadcastable with batch_shape+event_shape: {tuple(value.shape)} vs "
                f"{tuple(self._batch_shape) + tuple(self._event_shape)}."
            ) from None
        if self.support is not None and not bool(ops.all(self.support.check(value)).item()):
            raise ValueError(
                f"Expected value argument (Tensor of shape {tuple(value.shape)}) to be within the support "
                f"({self.support!r}) of the distribution {self!r}, but found invalid values:\n{value}"
            )

    def __repr__(self):
        parts = []
        for name in self._arg_constraints():
            if name not in self.__dict__:
                continue
            value = self.__dict__[name]
            shown = value.item() if value.dim() == 0 else repr(value.shape)
            parts.append(f"{name}: {shown}")
        return f"{type(self).__name__}({', '.join(parts)})"
