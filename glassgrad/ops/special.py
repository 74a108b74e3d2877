"""Special functions on NumPy alone: log1p, expm1, the hyperbolic functions and their inverses,
tan and the inverse trigonometric functions, log2, log10, exp2, reciprocal, erf, erfc, erfinv,
lgamma, digamma.

NumPy has no erf or gamma functions (and SciPy is not a dependency), so they are computed here
from series, continued fractions and asymptotic expansions to float64 precision, vectorised:
each loop runs over terms of a series, never over elements.
"""

import math

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.ops.elementwise import floating
from glassgrad.ops.registry import OpInfo, Sample, register

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

# -- the kernels on float64 arrays ----------------------------------------------------------


def _erfc_large(x):
    """erfc(x) for x >= 2.5, by the continued fraction 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))."""
    t = x
    for k in range(60, 0, -1):
        t = x + (k / 2) / t
    return np.exp(-x * x) / (math.sqrt(math.pi) * t)


def _erf_small(x):
    """erf(x) for |x| < 2.5: exp(-x^2) * sum 2^n x^(2n+1) / (1*3*...*(2n+1)), a series of positive terms."""
    x2 = x * x
    term = x.copy()
    total = x.copy()
    for n in range(1, 80):
        term = term * (2 * x2) / (2 * n + 1)
        total += term
    return _TWO_OVER_SQRT_PI * np.exp(-x2) * total


def erf_kernel(x):
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    small = ax < 2.5
    out = np.empty_like(x)
    out[small] = _erf_small(x[small])
    big = ~small & ~np.isnan(x)
    out[big] = np.sign(x[big]) * (1.0 - _erfc_large(ax[big]))
    out[np.isnan(x)] = np.nan
    return out


def erfc_kernel(x):
    x = np.asarray(x, dtype=np.float64)
    out = np.array(1.0 - erf_kernel(x), dtype=np.float64)  # 0-d stays an array
    big = x >= 2.5
    out[big] = _erfc_large(x[big])  # 1 - erf would lose every digit out there
    return out


def erfinv_kernel(y):
    """The inverse of erf: a rough closed form, then Halley steps on erf (or erfc near +-1)."""
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = 0.147  # Winitzki's approximation, good to about 2e-3
        log_term = np.log1p(-y * y)
        first = 2 / (math.pi * a) + log_term / 2
        x = np.sign(y) * np.sqrt(np.sqrt(first * first - log_term / a) - first)
        inside = np.abs(y) < 1
        ay = np.abs(np.where(inside, y, 0.0))
        ax = np.abs(np.where(inside, x, 0.0))
        for _ in range(4):
            # f(x) = erf(x) - |y| = (1 - |y|) - erfc(x): the second form keeps the digits near 1.
            f = np.where(ay < 0.5, erf_kernel(ax) - ay, (1.0 - ay) - erfc_kernel(ax))
            step = f / (_TWO_OVER_SQRT_PI * np.exp(-ax * ax))
            ax = ax - step / (1 + ax * step)
        out = np.where(inside, np.sign(y) * ax, np.where(np.abs(y) == 1, np.sign(y) * np.inf, np.nan))
    return out


# Stirling's series for lgamma and the asymptotic series of digamma and trigamma, from the
# Bernoulli numbers B2..B14; used at x >= 10, where the next term is below 1e-16.
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)
_SHIFT = 10.0


def _near_integer(x):
    """x minus its nearest integer (exact): |sin(pi x)| and tan(pi x) from it keep their digits near
    the integers, where pi * x itself would round away the small distance that matters."""
    return x - np.round(x)


def _shift_up(x, step):
    """Move x to >= _SHIFT by x -> x + 1 repeatedly, accumulating step(x) over the moves."""
    z = x.copy()
    acc = np.zeros_like(x)
    for _ in range(int(_SHIFT) + 1):
        low = z < _SHIFT
        acc = acc + np.where(low, step(np.where(low, z, 1.0)), 0.0)
        z = np.where(low, z + 1, z)
    return z, acc


def lgamma_kernel(x):
    """log|Gamma(x)|; +inf at the poles 0, -1, -2, ... as in PyTorch."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        reflect = x < 0.5
        z = np.where(reflect, 1 - x, x)  # log|Gamma(x)| = log(pi / |sin(pi x)|) - lgamma(1 - x)
        z, log_product = _shift_up(z, lambda v: np.log(v))
        series = (z - 0.5) * np.log(z) - z + 0.5 * math.log(2 * math.pi)
        inverse = 1 / z
        power = inverse
        for k, b in enumerate(_BERNOULLI, 1):
            series = series + b / (2 * k * (2 * k - 1)) * power
            power = power * inverse * inverse
        value = series - log_product
        sine = np.abs(np.sin(math.pi * np.where(reflect, _near_integer(x), 0.5)))
        out = np.where(reflect, math.log(math.pi) - np.log(sine) - value, value)
        out = np.where(reflect & (x == np.floor(x)), np.inf, out)
        out = np.where(np.isinf(x), np.inf, out)
    return out


def digamma_kernel(x):
    """d/dx lgamma(x); -1/x near 0 (so -inf at +0), NaN at the negative integers, as in PyTorch."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        reflect = x < 0
        z = np.where(reflect, 1 - x, x)  # digamma(x) = digamma(1 - x) - pi / tan(pi x)
        z, shifted = _shift_up(z, lambda v: -1 / v)
        inverse2 = 1 / (z * z)
        series = np.log(z) - 0.5 / z
        power = inverse2
        for k, b in enumerate(_BERNOULLI, 1):
            series = series - b / (2 * k) * power
            power = power * inverse2
        value = series + shifted
        offset = _near_integer(x)
        out = np.where(reflect, value - math.pi / np.tan(math.pi * np.where(reflect, offset, 0.5)), value)
        out = np.where(reflect & (offset == 0), np.nan, out)
        out = np.where(np.isposinf(x), np.inf, np.where(np.isneginf(x), np.nan, out))
    return out


def trigamma_kernel(x):
    """d/dx digamma(x) (digamma's gradient)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        reflect = x < 0
        z = np.where(reflect, 1 - x, x)  # trigamma(x) = pi^2 / sin^2(pi x) - trigamma(1 - x)
        z, shifted = _shift_up(z, lambda v: 1 / (v * v))
        inverse = 1 / z
        inverse2 = inverse * inverse
        series = inverse + 0.5 * inverse2
        power = inverse2 * inverse
        for b in _BERNOULLI:
            series = series + b * power
            power = power * inverse2
        value = series + shifted
        sine = np.sin(math.pi * np.where(reflect, _near_integer(x), 0.5))
        out = np.where(reflect, math.pi**2 / (sine * sine) - value, value)
    return out


def _in_dtype(kernel, a):
    return kernel(a).astype(a.dtype, copy=False)


# -- the differentiable ops -------------------------------------------------------------------


class Log1p(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return np.log1p(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad / (1 + a)


class Expm1(Function):
    def forward(self, a):
        out = np.expm1(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * (out + 1)


class Sinh(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return np.sinh(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad * np.cosh(a)


class Cosh(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return np.cosh(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad * np.sinh(a)


class Asinh(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return np.arcsinh(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad / np.sqrt(a * a + 1)


class Acosh(Function):
    def forward(self, a):
        self.save_for_backward(a)
        with np.errstate(invalid="ignore"):
            return np.arccosh(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        with np.errstate(invalid="ignore", divide="ignore"):
            return grad / np.sqrt(a * a - 1)


class Atanh(Function):
    def forward(self, a):
        self.save_for_backward(a)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.arctanh(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        with np.errstate(divide="ignore"):
            return grad / (1 - a * a)


class Tan(Function):
    def forward(self, a):
        out = np.tan(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * (1 + out * out)


class Asin(Function):
    def forward(self, a):
        self.save_for_backward(a)
        with np.errstate(invalid="ignore"):
            return np.arcsin(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        with np.errstate(invalid="ignore", divide="ignore"):
            return grad / np.sqrt(1 - a * a)


class Acos(Function):
    def forward(self, a):
        self.save_for_backward(a)
        with np.errstate(invalid="ignore"):
            return np.arccos(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        with np.errstate(invalid="ignore", divide="ignore"):
            return -grad / np.sqrt(1 - a * a)


class Atan(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return np.arctan(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad / (1 + a * a)


class LogBase(Function):
    """log2 or log10: d/da log_b(a) = 1 / (a ln b)."""

    def forward(self, a, base):
        self.save_for_backward(a)
        self.log_base = math.log(base)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log2(a) if base == 2 else np.log10(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        with np.errstate(divide="ignore"):
            return grad / (a * self.log_base)


class Exp2(Function):
    def forward(self, a):
        out = np.exp2(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * out * math.log(2.0)


class Reciprocal(Function):
    def forward(self, a):
        with np.errstate(divide="ignore"):
            out = np.reciprocal(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return -grad * out * out


class Erf(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return _in_dtype(erf_kernel, a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad * _TWO_OVER_SQRT_PI * np.exp(-a * a)


class Erfc(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return _in_dtype(erfc_kernel, a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad * -_TWO_OVER_SQRT_PI * np.exp(-a * a)


class Erfinv(Function):
    def forward(self, a):
        out = _in_dtype(erfinv_kernel, a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        with np.errstate(over="ignore"):
            return grad * (math.sqrt(math.pi) / 2) * np.exp(out * out)


class Lgamma(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return _in_dtype(lgamma_kernel, a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad * digamma_kernel(a).astype(grad.dtype, copy=False)


class Digamma(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return _in_dtype(digamma_kernel, a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad * trigamma_kernel(a).astype(grad.dtype, copy=False)


def _unary_op(fn_class, name, doc):
    def op(input):
        return fn_class.apply(floating(input, name))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


log1p = _unary_op(Log1p, "log1p", "log(1 + input), exact for small inputs.")
expm1 = _unary_op(Expm1, "expm1", "exp(input) - 1, exact for small inputs.")
sinh = _unary_op(Sinh, "sinh", "The hyperbolic sine.")
cosh = _unary_op(Cosh, "cosh", "The hyperbolic cosine.")
asinh = _unary_op(Asinh, "asinh", "The inverse hyperbolic sine.")
acosh = _unary_op(Acosh, "acosh", "The inverse hyperbolic cosine (NaN below 1).")
atanh = _unary_op(Atanh, "atanh", "The inverse hyperbolic tangent (+-inf at +-1, NaN beyond).")
tan = _unary_op(Tan, "tan", "The tangent (input in radians).")
asin = _unary_op(Asin, "asin", "The inverse sine, in [-pi/2, pi/2] (NaN outside [-1, 1]).")
acos = _unary_op(Acos, "acos", "The inverse cosine, in [0, pi] (NaN outside [-1, 1]).")
atan = _unary_op(Atan, "atan", "The inverse tangent, in (-pi/2, pi/2).")
exp2 = _unary_op(Exp2, "exp2", "2 ** input.")
reciprocal = _unary_op(Reciprocal, "reciprocal", "1 / input (+-inf at 0); integers become floating point.")


def log2(input):
    """The base-2 logarithm (-inf at 0, NaN below)."""
    return LogBase.apply(floating(input, "log2"), base=2)


def log10(input):
    """The base-10 logarithm (-inf at 0, NaN below)."""
    return LogBase.apply(floating(input, "log10"), base=10)


erf = _unary_op(Erf, "erf", "The error function 2/sqrt(pi) * integral of exp(-t^2) from 0 to input.")
erfc = _unary_op(Erfc, "erfc", "1 - erf(input), exact where erf is close to 1.")
erfinv = _unary_op(Erfinv, "erfinv", "The inverse of erf on (-1, 1) (+-inf at +-1, NaN beyond).")
lgamma = _unary_op(Lgamma, "lgamma", "log|Gamma(input)| (+inf at 0, -1, -2, ...).")
digamma = _unary_op(Digamma, "digamma", "The derivative of lgamma (NaN at the negative integers).")

_M = (3, 4)
_GAMMA = np.array([-2.5, -1.3, -0.7, 0.3, 1.0, 2.0, 7.5, 15.0, 0.05, 3.0])


def _entry(name, fn, domain=(-2.0, 2.0), extra=()):
    return OpInfo(name, fn, [Sample(_M), Sample(()), *extra], inplace=(name + "_",), domain=domain)


register(
    _entry("tan", tan, domain=(-1.2, 1.2)),
    OpInfo(
        "asin",
        asin,
        [Sample(_M), Sample(())],
        aliases=("asin", "arcsin"),
        methods=("asin", "arcsin"),
        inplace=("asin_", "arcsin_"),
        domain=(-0.9, 0.9),
    ),
    OpInfo(
        "acos",
        acos,
        [Sample(_M), Sample(())],
        aliases=("acos", "arccos"),
        methods=("acos", "arccos"),
        inplace=("acos_", "arccos_"),
        domain=(-0.9, 0.9),
    ),
    OpInfo(
        "atan",
        atan,
        [Sample(_M), Sample(())],
        aliases=("atan", "arctan"),
        methods=("atan", "arctan"),
        inplace=("atan_", "arctan_"),
        domain=(-3.0, 3.0),
    ),
    _entry("exp2", exp2),
    _entry("log2", log2, domain=(0.2, 5.0)),
    _entry("log10", log10, domain=(0.2, 5.0)),
    _entry("reciprocal", reciprocal, domain=(0.5, 2.0), extra=[Sample(np.array([-0.5, 0.25, 4.0]))]),
    _entry("log1p", log1p, domain=(-0.9, 2.0), extra=[Sample(np.array([1e-10, -1e-12, 0.0]))]),
    _entry("expm1", expm1, extra=[Sample(np.array([1e-10, -1e-12, 0.0]))]),
    _entry("sinh", sinh),
    _entry("cosh", cosh),
    _entry("asinh", asinh),
    _entry("acosh", acosh, domain=(1.1, 3.0)),
    _entry("atanh", atanh, domain=(-0.9, 0.9)),
    _entry("erf", erf, domain=(-3.0, 3.0), extra=[Sample(np.array([-7.0, -4.5, -2.49, 2.51, 3.5, 5.9, 0.0, 1e-3]))]),
    _entry("erfc", erfc, domain=(-3.0, 3.0), extra=[Sample(np.array([-7.0, -2.49, 2.51, 5.0, 9.0, 26.0, 0.0]))]),
    _entry(
        "erfinv",
        erfinv,
        domain=(-0.95, 0.95),
        extra=[Sample(np.array([0.0, 1e-8, -0.5, 0.9999, -0.999999, 0.49, 0.51]))],
    ),
    _entry("lgamma", lgamma, domain=(0.1, 5.0), extra=[Sample(_GAMMA)]),
    _entry("digamma", digamma, domain=(0.1, 5.0), extra=[Sample(_GAMMA)]),
)
