"""kl_divergence(p, q): KL(p || q) in closed form, for the pairs registered with ``register_kl``."""

import math

import numpy as np

from glassgrad import linalg, ops
from glassgrad.distributions.bernoulli import Bernoulli
from glassgrad.distributions.categorical import Categorical, OneHotCategorical
from glassgrad.distributions.distribution import softplus
from glassgrad.distributions.multivariate_normal import MultivariateNormal
from glassgrad.distributions.normal import Normal
from glassgrad.distributions.uniform import Uniform

_KL: dict = {}


def register_kl(type_p, type_q):
    """Decorator: ``@register_kl(Normal, Normal) def f(p, q): ...`` makes ``f`` the KL of that pair."""

    def decorate(fn):
        _KL[(type_p, type_q)] = fn
        return fn

    return decorate


def kl_divergence(p, q):
    """KL(p || q) = E_p[log p(x) - log q(x)], of shape ``batch_shape``."""
    for cls_p in type(p).__mro__:
        for cls_q in type(q).__mro__:
            if (cls_p, cls_q) in _KL:
                return _KL[(cls_p, cls_q)](p, q)
    raise NotImplementedError(
        f"kl_divergence: no closed form registered for {type(p).__name__} and {type(q).__name__}; "
        f"known pairs: {sorted(f'{a.__name__}/{b.__name__}' for a, b in _KL)}"
    )


def _infinite_where(condition, value):
    return ops.where(condition, math.inf, value)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale).pow(2)
    t1 = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = _infinite_where(q.probs == 0, t)
    t = ops.where(p.probs == 0, 0.0, t)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehot_onehot(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t1 = ops.where(p.probs == 0, 0.0, _infinite_where(q.probs == 0, t1))
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    t2 = ops.where(p.probs == 1, 0.0, _infinite_where(q.probs == 1, t2))
    return t1 + t2


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return _infinite_where((q.low > p.low) | (q.high < p.high), result)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    # 0.5 * (tr(S_q^-1 S_p) + |L_q^-1 (mu_q - mu_p)|^2 - k) + log|L_q| - log|L_p|, with L the Cholesky factors.
    k = p.event_shape[0]
    shape = tuple(np.broadcast_shapes(tuple(p.batch_shape), tuple(q.batch_shape)))
    lq = q._unbroadcasted_scale_tril.tril().expand(shape + (k, k))
    lp = p._unbroadcasted_scale_tril.tril().expand(shape + (k, k))
    trace = linalg.solve(lq, lp).pow(2).sum((-2, -1))
    diff = (q.loc - p.loc).expand(shape + (k,))
    mahalanobis = linalg.solve(lq, diff.unsqueeze(-1)).squeeze(-1).pow(2).sum(-1)
    return 0.5 * (trace + mahalanobis - k) + q._half_log_det() - p._half_log_det()
