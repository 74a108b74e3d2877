"""Modified Bessel functions of the first kind, orders 0 and 1: i0, i0e, i1, i1e (torch.special).

Below |x| = 30 the power series (positive terms, no cancellation); above it the asymptotic
expansion e^x / sqrt(2 pi x) * sum_k (-1)^k a_k(nu) / x^k, whose terms shrink fast out there.
The exponentially scaled forms (i0e = e^-|x| i0) use the expansion without its e^x, so they
stay finite where i0 overflows.
"""

import math

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.ops.elementwise import floating
from glassgrad.ops.registry import OpInfo, Sample, register

_SWITCH = 30.0


def _series(ax, order):
    """sum_k (x/2)^(2k+order) / (k! (k+order)!) for 0 <= x < _SWITCH."""
    q = (ax / 2) ** 2
    term = (ax / 2) ** order / math.factorial(order)
    total = term.copy()
    for k in range(1, 120):
        term = term * q / (k * (k + order))
        total += term
    return total


def _asymptotic_scaled(ax, order):
    """e^-x I_order(x) for x >= _SWITCH."""
    mu = 4.0 * order * order
    term = np.ones_like(ax)
    total = np.ones_like(ax)
    for k in range(1, 30):
        term = term * -(mu - (2 * k - 1) ** 2) / (k * 8 * ax)
        total += term
    return total / np.sqrt(2 * math.pi * ax)


def _scaled(x, order):
    """e^-|x| I_order(|x|), by series or expansion."""
    ax = np.abs(x)
    big = ax >= _SWITCH
    out = np.empty_like(ax)
    small = ~big
    out[small] = np.exp(-ax[small]) * _series(ax[small], order)
    out[big] = _asymptotic_scaled(ax[big], order)
    return out


def i0_kernel(x):
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        return np.array(_scaled(x, 0) * np.exp(np.abs(x)))


def i0e_kernel(x):
    return np.array(_scaled(np.asarray(x, dtype=np.float64), 0))


def i1e_kernel(x):
    x = np.asarray(x, dtype=np.float64)
    return np.array(np.sign(x) * _scaled(x, 1))  # I1 is odd


def i1_kernel(x):
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.array(i1e_kernel(x) * np.exp(np.abs(x)))


def _cast(kernel, a):
    return kernel(a).astype(a.dtype, copy=False)


class I0(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return _cast(i0_kernel, a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad * _cast(i1_kernel, a)


class I0e(Function):
    def forward(self, a):
        out = _cast(i0e_kernel, a)
        self.save_for_backward(a, out)
        return out

    def backward(self, grad):
        a, out = self.saved_tensors
        return grad * (_cast(i1e_kernel, a) - np.sign(a) * out)


class I1(Function):
    def forward(self, a):
        out = _cast(i1_kernel, a)
        self.save_for_backward(a, out)
        return out

    def backward(self, grad):
        a, out = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(a == 0, 0.5, _cast(i0_kernel, a) - out / a)  # I1' = I0 - I1/x, 1/2 at 0
        return grad * d


class I1e(Function):
    def forward(self, a):
        out = _cast(i1e_kernel, a)
        self.save_for_backward(a, out)
        return out

    def backward(self, grad):
        a, out = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(a == 0, 0.5, _cast(i0e_kernel, a) - out * (np.sign(a) + 1 / a))
        return grad * d


def i0(input):
    """The modified Bessel function of the first kind of order 0."""
    return I0.apply(floating(input, "i0"))


def i0e(input):
    """exp(-|input|) * i0(input), finite for large inputs."""
    return I0e.apply(floating(input, "i0e"))


def i1(input):
    """The modified Bessel function of the first kind of order 1."""
    return I1.apply(floating(input, "i1"))


def i1e(input):
    """exp(-|input|) * i1(input), finite for large inputs."""
    return I1e.apply(floating(input, "i1e"))


_M = (3, 4)
_WIDE = np.array([0.0, 1e-3, -0.7, 5.0, -12.5, 29.9, 30.1, -45.0, 80.0])
_MODERATE = np.array([0.0, 1e-3, -0.7, 5.0, -12.5])
# Either side of the switch from series to expansion, on their own: gradcheck's finite differences
# of a sum that also holds i0(80) ~ 1e33 would drown the smaller elements.
_SWITCHING = np.array([29.9, 30.1, -30.5])

register(
    OpInfo(
        "i0",
        i0,
        [Sample(_M), Sample(()), Sample(_MODERATE), Sample(_SWITCHING)],
        aliases=("i0", "special.i0"),
        inplace=("i0_",),
    ),
    OpInfo(
        "i0e",
        i0e,
        [Sample(_M), Sample(_WIDE), Sample(np.array([700.0, -900.0]))],
        methods=(),
        aliases=("special.i0e",),
        torch="special.i0e",
    ),
    OpInfo(
        "i1",
        i1,
        [Sample(_M), Sample(_MODERATE), Sample(_SWITCHING)],
        methods=(),
        aliases=("special.i1",),
        torch="special.i1",
    ),
    OpInfo(
        "i1e",
        i1e,
        [Sample(_M), Sample(_WIDE), Sample(np.array([700.0, -900.0]))],
        methods=(),
        aliases=("special.i1e",),
        torch="special.i1e",
    ),
)
