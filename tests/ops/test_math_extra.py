"""The special functions beyond what the registry's samples reach: tails, edge values, the
torch.special names. (tests/ops/test_opinfo.py gradchecks each op and compares it with PyTorch.)"""

import math

import numpy as np
import pytest

import glassgrad
from glassgrad import special

torch = pytest.importorskip("torch", reason="PyTorch is the oracle for the special functions")


def _both(name, *arrays, module="special"):
    mine = getattr(special if module == "special" else glassgrad, name)(*[glassgrad.tensor(a) for a in arrays])
    theirs = getattr(torch.special if module == "special" else torch, name)(*[torch.tensor(a) for a in arrays])
    return mine.numpy(), theirs.numpy()


@pytest.mark.parametrize(
    "name, values",
    [
        ("ndtri", [0.0, 1e-300, 1e-100, 1e-12, 1e-5, 0.5, 1 - 1e-9, 1.0, -0.1, 1.5]),
        ("log_ndtr", [-200.0, -40.0, -38.0, -10.0, 0.0, 5.0, 40.0]),
        ("ndtr", [-40.0, -3.0, 0.0, 8.0, np.inf, -np.inf]),
        ("erfcx", [-26.0, -5.0, 0.0, 2.5, 50.0, 1e10]),
        ("i0e", [0.0, 1e3, -1e5]),
        ("i1e", [0.0, 1e3, -1e5]),
        ("entr", [0.0, -1.0, 1e-300, np.nan]),
    ],
)
def test_tails_and_edges_match_pytorch(name, values):
    mine, theirs = _both(name, np.array(values))
    np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=0, equal_nan=True)


def test_ndtr_left_tail_is_exact():
    # Phi(-8) = 6.22096057427178e-16; PyTorch's float64 ndtr gives 6.106e-16 out there (2% off).
    assert glassgrad.special.ndtr(glassgrad.tensor(-8.0, dtype=glassgrad.float64)).item() == pytest.approx(
        6.22096057427178e-16, rel=1e-12
    )
    assert glassgrad.special.log_ndtr(glassgrad.tensor(-8.0, dtype=glassgrad.float64)).item() == pytest.approx(
        math.log(6.22096057427178e-16), rel=1e-13
    )


def test_xlogy_edges():
    x, y = np.array([0.0, 0.0, 0.0, 2.0]), np.array([0.0, np.nan, 3.0, 0.0])
    mine, theirs = _both("xlogy", x, y, module="torch")
    np.testing.assert_array_equal(mine, theirs)
    mine, theirs = _both("xlog1py", np.array([0.0, 1.0]), np.array([-1.0, -1.0]))
    np.testing.assert_array_equal(mine, theirs)
    assert glassgrad.xlogy(2.0, glassgrad.tensor([math.e])).item() == pytest.approx(2.0)
    assert glassgrad.xlogy(glassgrad.tensor([3.0]), 1.0).item() == 0.0


def test_trigamma_is_exact():
    # PyTorch's trigamma is good to about 1e-9; the exact values are known in closed form.
    x = np.array([0.25, 0.5, 1.0, 2.0])
    exact = [math.pi**2 + 8 * 0.915965594177219015, math.pi**2 / 2, math.pi**2 / 6, math.pi**2 / 6 - 1]
    mine = glassgrad.polygamma(1, glassgrad.tensor(x)).numpy()
    np.testing.assert_allclose(mine, exact, rtol=1e-14)
    np.testing.assert_allclose(mine, torch.polygamma(1, torch.tensor(x)).numpy(), rtol=5e-9)


def test_special_names():
    x = np.linspace(0.3, 2.0, 6).reshape(2, 3)
    t, tt = glassgrad.tensor(x), torch.tensor(x)
    pairs = [
        (special.expit(t), torch.special.expit(tt)),
        (special.gammaln(t), torch.special.gammaln(tt)),
        (special.psi(t), torch.special.psi(tt)),
        (special.exp2(t), torch.special.exp2(tt)),
        (special.softmax(t, 1), torch.special.softmax(tt, 1)),
        (special.log_softmax(t, 0), torch.special.log_softmax(tt, 0)),
        (special.logsumexp(t, 1), torch.special.logsumexp(tt, 1)),
        (special.multigammaln(t + 1, 2), torch.special.multigammaln(tt + 1, 2)),
        (special.round(t), torch.special.round(tt)),
        (special.xlogy(t, t), torch.special.xlogy(tt, tt)),
    ]
    for mine, theirs in pairs:
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-14)


def test_errors_and_integer_inputs():
    with pytest.raises(RuntimeError, match="negative n"):
        glassgrad.polygamma(-1, glassgrad.ones(2))
    with pytest.raises(RuntimeError, match=r"greater than \(p-1\)/2 = 1.0"):
        glassgrad.mvlgamma(glassgrad.ones(2), 3)
    ints = glassgrad.tensor([-7, 7, 5])
    assert glassgrad.fmod(ints, 3).tolist() == torch.fmod(torch.tensor([-7, 7, 5]), 3).tolist()
    assert glassgrad.fmod(ints, 3).dtype == glassgrad.int64
    assert glassgrad.trunc(ints).tolist() == [-7, 7, 5]
    assert glassgrad.tensor([1.5]).frac().item() == 0.5
