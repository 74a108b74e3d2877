"""glassgrad.distributions against torch.distributions in float64: values, gradients, samples."""

import math

import numpy as np
import pytest

import glassgrad
from glassgrad import distributions as D
from glassgrad.autograd import gradcheck

torch = pytest.importorskip("torch", reason="PyTorch is the oracle for the distributions")
TD = torch.distributions

RNG = np.random.default_rng(0)
LOC = RNG.standard_normal((2, 3))
SCALE = RNG.uniform(0.5, 2.0, (2, 3))
LOGITS = RNG.standard_normal((2, 4))
PROBS = RNG.uniform(0.1, 0.9, (2, 3))
LOW = RNG.uniform(-1, 0, (3,))
HIGH = LOW + RNG.uniform(0.5, 2, (3,))


def _pair(name, *arrays, **kw):
    """The same distribution in glassgrad and torch, its parameters float64 leaves requiring grad."""
    mine = [glassgrad.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    key = kw.pop("key", None)
    if key:
        return getattr(D, name)(**{key: mine[0]}), getattr(TD, name)(**{key: theirs[0]}), mine, theirs
    return getattr(D, name)(*mine), getattr(TD, name)(*theirs), mine, theirs


CASES = {
    "normal": (("Normal", LOC, SCALE), RNG.standard_normal((5, 2, 3))),
    "categorical_logits": (("Categorical", LOGITS), np.array([[0, 3], [2, 1], [1, 1]])),
    "categorical_probs": (("Categorical", np.abs(LOGITS) + 0.1), np.array([[0, 3], [2, 1]])),
    "bernoulli_probs": (("Bernoulli", PROBS), (RNG.uniform(size=(4, 2, 3)) < 0.5).astype(np.float64)),
    "bernoulli_logits": (("Bernoulli", LOC), (RNG.uniform(size=(2, 3)) < 0.5).astype(np.float64)),
    "uniform": (("Uniform", LOW, HIGH), (LOW + HIGH) / 2 + np.array([[0.1], [-0.2]]) * (HIGH - LOW)),
    "onehot": (("OneHotCategorical", LOGITS), np.eye(4)[[[0, 3], [2, 1]]]),
}


def _build(case):
    (name, *arrays), value = CASES[case]
    key = {
        "categorical_logits": "logits",
        "categorical_probs": "probs",
        "bernoulli_probs": "probs",
        "bernoulli_logits": "logits",
        "onehot": "logits",
    }.get(case)
    return (*_pair(name, *arrays, key=key), value)


def _close(a, b, **kw):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=kw.get("rtol", 1e-12), atol=1e-13)


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_and_gradients_match_pytorch(case):
    mine, theirs, params, tparams, value = _build(case)
    assert tuple(mine.batch_shape) == tuple(theirs.batch_shape)
    assert tuple(mine.event_shape) == tuple(theirs.event_shape)
    assert mine.has_rsample == theirs.has_rsample
    dtype = torch.int64 if "categorical" in case else torch.float64
    lp, tlp = mine.log_prob(glassgrad.tensor(value)), theirs.log_prob(torch.tensor(value, dtype=dtype))
    _close(lp, tlp)
    _close(mine.entropy(), theirs.entropy())
    for attr in ("mean", "variance", "stddev", "mode"):
        np.testing.assert_allclose(
            getattr(mine, attr).detach().numpy(), getattr(theirs, attr).detach().numpy(), rtol=1e-12, equal_nan=True
        )
    if case.startswith(("categorical", "bernoulli", "onehot")):
        _close(mine.probs, theirs.probs)
        _close(mine.logits, theirs.logits, rtol=1e-10)
    # REINFORCE-style: -log_prob(a) * reward, plus an entropy bonus.
    reward = RNG.standard_normal(tuple(lp.shape))
    (-(lp * glassgrad.tensor(reward)).sum() - 0.1 * mine.entropy().sum()).backward()
    (-(tlp * torch.tensor(reward)).sum() - 0.1 * theirs.entropy().sum()).backward()
    for p, q in zip(params, tparams):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ["normal", "uniform"])
def test_cdf_and_icdf_match_pytorch(case):
    mine, theirs, params, tparams, value = _build(case)
    _close(mine.cdf(glassgrad.tensor(value)), theirs.cdf(torch.tensor(value)), rtol=1e-11)
    q = RNG.uniform(0.05, 0.95, (2, 3) if case == "normal" else (3,))
    _close(mine.icdf(glassgrad.tensor(q)), theirs.icdf(torch.tensor(q)), rtol=1e-10)


def test_log_prob_and_entropy_gradcheck():
    loc = glassgrad.tensor(LOC, requires_grad=True)
    scale = glassgrad.tensor(SCALE, requires_grad=True)
    x = glassgrad.tensor(LOC + 0.3)
    assert gradcheck(lambda m, s: D.Normal(m, s).log_prob(x), (loc, scale))
    assert gradcheck(lambda m, s: D.Normal(m, s).cdf(x), (loc, scale))
    logits = glassgrad.tensor(LOGITS, requires_grad=True)
    assert gradcheck(lambda lg: D.Categorical(logits=lg).entropy(), (logits,))
    assert gradcheck(lambda lg: D.Categorical(logits=lg).log_prob(glassgrad.tensor([1, 2])), (logits,))
    probs = glassgrad.tensor(PROBS, requires_grad=True)
    assert gradcheck(lambda p: D.Bernoulli(probs=p).entropy(), (probs,))
    low, high = glassgrad.tensor(LOW, requires_grad=True), glassgrad.tensor(HIGH, requires_grad=True)

    def uniform_draws(a, b):
        glassgrad.manual_seed(3)  # the same draws at every evaluation
        return D.Uniform(a, b).rsample((4,))

    assert gradcheck(uniform_draws, (low, high))


def test_rsample_is_reparameterised():
    loc = glassgrad.tensor(LOC, requires_grad=True)
    scale = glassgrad.tensor(SCALE, requires_grad=True)
    x = D.Normal(loc, scale).rsample((7,))
    assert x.shape == (7, 2, 3) and x.requires_grad
    x.sum().backward()
    noise = (x.detach().numpy() - LOC) / SCALE
    # d(loc + noise * scale): 1 per draw for loc, the noise for scale (PyTorch's formula).
    np.testing.assert_allclose(loc.grad.numpy(), np.full((2, 3), 7.0))
    np.testing.assert_allclose(scale.grad.numpy(), noise.sum(0), rtol=1e-12)
    # The same noise through torch's rsample formula gives the same gradient.
    tl, ts = torch.tensor(LOC, requires_grad=True), torch.tensor(SCALE, requires_grad=True)
    (tl + torch.tensor(noise) * ts).sum().backward()
    np.testing.assert_allclose(scale.grad.numpy(), ts.grad.numpy(), rtol=1e-12)
    assert not D.Normal(loc, scale).sample().requires_grad


@pytest.mark.parametrize(
    "make, mean, var",
    [
        (lambda: D.Normal(glassgrad.tensor([1.0, -2.0]), glassgrad.tensor([0.5, 2.0])), [1.0, -2.0], [0.25, 4.0]),
        (lambda: D.Uniform(glassgrad.tensor([0.0, 2.0]), glassgrad.tensor([1.0, 5.0])), [0.5, 3.5], [1 / 12, 0.75]),
        (lambda: D.Bernoulli(glassgrad.tensor([0.2, 0.7])), [0.2, 0.7], [0.16, 0.21]),
        (lambda: D.Categorical(glassgrad.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])), [1.3, 0.0], [0.61, 0.0]),
    ],
)
def test_sample_statistics(make, mean, var):
    glassgrad.manual_seed(0)
    draws = make().sample((20000,)).numpy().astype(np.float64)
    assert draws.shape == (20000, 2)
    error = np.sqrt(np.array(var) / 20000)
    assert np.all(np.abs(draws.mean(0) - mean) <= 5 * error + 1e-12), (draws.mean(0), mean)


def test_sample_shapes_and_dtypes():
    c = D.Categorical(logits=glassgrad.zeros(2, 3, 5))
    assert c.sample().shape == (2, 3) and c.sample((4,)).shape == (4, 2, 3) and c.sample().dtype == glassgrad.int64
    o = D.OneHotCategorical(logits=glassgrad.zeros(2, 5))
    s = o.sample((3,))
    assert s.shape == (3, 2, 5) and np.all(s.numpy().sum(-1) == 1)
    assert D.Bernoulli(logits=glassgrad.zeros(3)).sample((2, 2)).shape == (2, 2, 3)
    assert D.Normal(0.0, 1.0).sample((6,)).shape == (6,)
    assert c.enumerate_support().shape == (5, 2, 3)


def test_expand():
    n = D.Normal(glassgrad.tensor(0.0), glassgrad.tensor(1.0)).expand((4, 2))
    assert n.batch_shape == (4, 2) and n.sample().shape == (4, 2)
    c = D.Categorical(logits=glassgrad.zeros(3)).expand((2,))
    assert c.batch_shape == (2,) and c.log_prob(glassgrad.tensor([0, 2])).shape == (2,)


@pytest.mark.parametrize(
    "name, p, q",
    [
        ("Normal", (LOC, SCALE), (LOC[::-1].copy(), SCALE[::-1].copy())),
        ("Categorical", (np.abs(LOGITS) + 0.1,), (np.abs(LOGITS[::-1]) + 0.2,)),
        ("Bernoulli", (PROBS,), (PROBS[::-1].copy(),)),
        ("Uniform", (LOW, HIGH), (LOW - 0.5, HIGH + 0.1)),
        ("Uniform", (LOW, HIGH), (LOW + 0.1, HIGH + 0.1)),  # q misses part of p: infinite
    ],
)
def test_kl_divergence_matches_pytorch(name, p, q):
    leaves = [glassgrad.tensor(a, requires_grad=True) for a in p]
    mp = getattr(D, name)(*leaves)
    mq = getattr(D, name)(*[glassgrad.tensor(a) for a in q])
    tp_params = [torch.tensor(a, requires_grad=True) for a in p]
    tp, tq = getattr(TD, name)(*tp_params), getattr(TD, name)(*[torch.tensor(a) for a in q])
    mine, theirs = D.kl_divergence(mp, mq), TD.kl_divergence(tp, tq)
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
    if np.all(np.isfinite(theirs.detach().numpy())):
        mine.sum().backward()
        theirs.sum().backward()
        for mine_leaf, their_leaf in zip(leaves, tp_params):
            np.testing.assert_allclose(mine_leaf.grad.numpy(), their_leaf.grad.numpy(), rtol=1e-10)
    with pytest.raises(NotImplementedError, match="no closed form registered for Normal and Uniform"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Uniform(0.0, 1.0))


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_validate_args_name_the_parameter():
    with pytest.raises(ValueError, match="Expected parameter scale .* GreaterThan"):
        D.Normal(0.0, -1.0)
    with pytest.raises(ValueError, match="Expected parameter probs .* Interval"):
        D.Bernoulli(probs=1.5)
    with pytest.raises(ValueError, match="Expected parameter low .* LessThan"):
        D.Uniform(1.0, 0.0)
    with pytest.raises(ValueError, match="Either `probs` or `logits`"):
        D.Categorical()
    with pytest.raises(ValueError, match="within the support"):
        D.Categorical(logits=glassgrad.zeros(3)).log_prob(glassgrad.tensor(3))
    with pytest.raises(ValueError, match="must be a Tensor"):
        D.Normal(0.0, 1.0).log_prob(1.0)
    assert math.isnan(D.Normal(0.0, -1.0, validate_args=False).entropy().item())
    D.Distribution.set_default_validate_args(False)
    try:
        D.Normal(0.0, -1.0)
    finally:
        D.Distribution.set_default_validate_args(True)


@pytest.mark.parametrize("form", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_multivariate_normal_matches_pytorch(form):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3, 3))
    cov = a @ a.transpose(0, 2, 1) + np.eye(3)
    matrix = (
        np.linalg.cholesky(cov) if form == "scale_tril" else cov if form == "covariance_matrix" else np.linalg.inv(cov)
    )
    loc, x = rng.standard_normal((2, 3)), rng.standard_normal((4, 2, 3))
    gm, gl = glassgrad.tensor(matrix, requires_grad=True), glassgrad.tensor(loc, requires_grad=True)
    tm, tl = torch.tensor(matrix, requires_grad=True), torch.tensor(loc, requires_grad=True)
    mine, theirs = D.MultivariateNormal(gl, **{form: gm}), TD.MultivariateNormal(tl, **{form: tm})
    assert mine.batch_shape == (2,) and mine.event_shape == (3,) and mine.rsample((5,)).shape == (5, 2, 3)
    lp, tlp = mine.log_prob(glassgrad.tensor(x)), theirs.log_prob(torch.tensor(x))
    _close(lp, tlp, rtol=1e-11)
    _close(mine.entropy(), theirs.entropy(), rtol=1e-11)
    for attr in ("variance", "covariance_matrix", "precision_matrix", "scale_tril"):
        _close(getattr(mine, attr), getattr(theirs, attr), rtol=1e-10)
    q, tq = (
        D.MultivariateNormal(
            glassgrad.zeros(3, dtype=glassgrad.float64), glassgrad.eye(3, dtype=glassgrad.float64) * 2
        ),
        TD.MultivariateNormal(torch.zeros(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64) * 2),
    )
    kl, tkl = D.kl_divergence(mine, q), TD.kl_divergence(theirs, tq)
    _close(kl, tkl, rtol=1e-11)
    (lp.sum() + mine.entropy().sum() + kl.sum()).backward()
    (tlp.sum() + theirs.entropy().sum() + tkl.sum()).backward()
    np.testing.assert_allclose(gm.grad.numpy(), tm.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gl.grad.numpy(), tl.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_multivariate_normal_samples_and_checks():
    glassgrad.manual_seed(0)
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    dist = D.MultivariateNormal(glassgrad.tensor([1.0, -1.0]), glassgrad.tensor(cov))
    draws = dist.sample((20000,)).numpy().astype(np.float64)
    assert np.all(np.abs(draws.mean(0) - [1.0, -1.0]) < 5 * np.sqrt(np.diag(cov) / 20000))
    np.testing.assert_allclose(np.cov(draws.T), cov, atol=0.08)
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix or precision_matrix or scale_tril"):
        D.MultivariateNormal(glassgrad.zeros(2))
    with pytest.raises(ValueError, match="Expected parameter covariance_matrix .* PositiveDefinite"):
        D.MultivariateNormal(glassgrad.zeros(2), glassgrad.tensor([[1.0, 2.0], [2.0, 1.0]]))
