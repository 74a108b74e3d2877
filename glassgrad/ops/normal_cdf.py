"""The standard normal CDF and its kin (torch.special): ndtr, log_ndtr, ndtri, and erfcx.

All four rest on the erf/erfc kernels of ``special.py``. ``erfcx(x) = exp(x^2) erfc(x)`` is the
continued fraction of erfc without its exp(-x^2) factor, so log_ndtr stays finite far into the
left tail (log_ndtr(-40) = -804.6...) where ndtr itself underflows to 0.
"""

import math

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.ops.elementwise import floating
from glassgrad.ops.registry import OpInfo, Sample, register
from glassgrad.ops.special import _TWO_OVER_SQRT_PI, erfc_kernel, erfinv_kernel

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _continued_fraction(x):
    """1 / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) for x >= 2.5: erfcx(x) * sqrt(pi)."""
    t = x
    for k in range(60, 0, -1):
        t = x + (k / 2) / t
    return 1 / t


def erfcx_kernel(x):
    x = np.asarray(x, dtype=np.float64)
    big = x >= 2.5
    out = np.empty_like(x)
    with np.errstate(over="ignore", invalid="ignore"):
        small = ~big
        out[small] = np.exp(x[small] ** 2) * erfc_kernel(x[small])
    out[big] = _continued_fraction(x[big]) / math.sqrt(math.pi)
    return out


def ndtr_kernel(x):
    return 0.5 * erfc_kernel(-np.asarray(x, dtype=np.float64) / _SQRT2)


def log_ndtr_kernel(x):
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        # Left of 0: log(erfcx(-x/sqrt2) / 2) - x^2/2, no underflow. Right: log1p(-ndtr(-x)).
        left = np.log(0.5 * erfcx_kernel(-np.minimum(x, 0) / _SQRT2)) - np.minimum(x, 0) ** 2 / 2
        right = np.log1p(-ndtr_kernel(-np.maximum(x, 0)))
    return np.where(x < 0, left, right)


def ndtri_kernel(p):
    """The inverse of ndtr: a first guess from erfinv (or the tail's asymptote), then Newton steps
    on log_ndtr, which keep their relative accuracy in both tails."""
    p = np.asarray(p, dtype=np.float64)
    inside = (p > 0) & (p < 1)
    q = np.where(inside, p, 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.minimum(q, 1 - q)
        guess = _SQRT2 * erfinv_kernel(2 * lower - 1)
        tiny = lower < 1e-10
        t = -2 * np.log(np.where(tiny, lower, 0.5))
        tail = -np.sqrt(t - np.log(t) - math.log(2 * math.pi))
        x = np.where(tiny, tail, guess)
        target = np.log(lower)
        for _ in range(4):
            log_cdf = log_ndtr_kernel(x)
            log_pdf = -x * x / 2 - _LOG_SQRT_2PI
            x = x - (log_cdf - target) / np.exp(log_pdf - log_cdf)
        x = np.where(q > 0.5, -x, x)  # ndtri(1 - p) = -ndtri(p): the lower tail computes both
    return np.where(inside, x, np.where(p == 0, -np.inf, np.where(p == 1, np.inf, np.nan)))


def _cast(kernel, a):
    return kernel(a).astype(a.dtype, copy=False)


class Erfcx(Function):
    def forward(self, a):
        out = _cast(erfcx_kernel, a)
        self.save_for_backward(a, out)
        return out

    def backward(self, grad):
        a, out = self.saved_tensors
        return grad * (2 * a * out - _TWO_OVER_SQRT_PI)


class Ndtr(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return _cast(ndtr_kernel, a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad * np.exp(-a * a / 2 - _LOG_SQRT_2PI)


class LogNdtr(Function):
    def forward(self, a):
        out = _cast(log_ndtr_kernel, a)
        self.save_for_backward(a, out)
        return out

    def backward(self, grad):
        a, out = self.saved_tensors
        return grad * np.exp(-a * a / 2 - _LOG_SQRT_2PI - out)  # pdf / cdf, in logs


class Ndtri(Function):
    def forward(self, a):
        out = _cast(ndtri_kernel, a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        with np.errstate(over="ignore"):
            return grad * np.exp(out * out / 2 + _LOG_SQRT_2PI)


def erfcx(input):
    """exp(input^2) * erfc(input), the scaled complementary error function."""
    return Erfcx.apply(floating(input, "erfcx"))


def ndtr(input):
    """The standard normal CDF: the area under the Gaussian density left of ``input``."""
    return Ndtr.apply(floating(input, "ndtr"))


def log_ndtr(input):
    """log(ndtr(input)), accurate in both tails."""
    return LogNdtr.apply(floating(input, "log_ndtr"))


def ndtri(input):
    """The inverse of ndtr on (0, 1): the standard normal quantile (-inf at 0, inf at 1)."""
    return Ndtri.apply(floating(input, "ndtri"))


_M = (3, 4)


def _entry(name, fn, samples, domain=(-3.0, 3.0)):
    return OpInfo(
        name,
        fn,
        [Sample(_M), *samples],
        methods=(),
        aliases=(f"special.{name}",),
        torch=f"special.{name}",
        domain=domain,
    )


register(
    _entry("erfcx", erfcx, [Sample(np.array([-3.0, -1.0, 0.0, 2.49, 2.51, 10.0, 1e3]))]),
    _entry("ndtr", ndtr, [Sample(np.array([-9.0, -3.5, 0.0, 1e-3, 2.0, 6.0]))]),
    _entry("log_ndtr", log_ndtr, [Sample(np.array([-40.0, -9.0, -1.0, 0.0, 3.0, 9.0]))]),
    _entry("ndtri", ndtri, [Sample(np.array([1e-4, 0.02, 0.5, 0.7, 0.98, 1 - 1e-4]))], domain=(0.05, 0.95)),
)
