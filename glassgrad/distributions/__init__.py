"""Probability distributions with PyTorch's names: ``torch.distributions`` for glassgrad.

``Categorical``, ``OneHotCategorical``, ``Bernoulli``, ``Normal``, ``MultivariateNormal`` and ``Uniform``, with ``sample``,
``rsample`` (Normal, Uniform), ``log_prob``, ``entropy``, ``cdf``/``icdf`` (Normal, Uniform),
``mean``/``variance``/``stddev``, ``expand``, and ``kl_divergence`` for each pair of one family.
Built from Tensor ops, so log-probabilities and reparameterised samples are differentiable.
"""

from glassgrad.distributions import constraints
from glassgrad.distributions.bernoulli import Bernoulli
from glassgrad.distributions.categorical import Categorical, OneHotCategorical
from glassgrad.distributions.distribution import Distribution
from glassgrad.distributions.kl import kl_divergence, register_kl
from glassgrad.distributions.multivariate_normal import MultivariateNormal
from glassgrad.distributions.normal import Normal
from glassgrad.distributions.uniform import Uniform

__all__ = [
    "Bernoulli",
    "Categorical",
    "Distribution",
    "MultivariateNormal",
    "Normal",
    "OneHotCategorical",
    "Uniform",
    "constraints",
    "kl_divergence",
    "register_kl",
]
