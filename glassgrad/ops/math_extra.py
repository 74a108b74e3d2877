"""More elementwise math with PyTorch's names: xlogy, xlog1py, logaddexp(2), hypot, atan2, copysign, fmod,
nextafter, frac, trunc, sinc, logit, entr, polygamma, mvlgamma, addcmul, addcdiv, lerp.

Binary ops broadcast and accept a Python number on either side; the engine sums each gradient
back to its input's shape.
"""

import math

import numpy as np

from glassgrad import _dtype
from glassgrad.autograd.function import Function
from glassgrad.ops.elementwise import add, cast, div, floating, mul, sub
from glassgrad.ops.registry import OpInfo, Sample, register
from glassgrad.ops.special import digamma_kernel, lgamma
from glassgrad.tensor import Tensor


def _operands(a, b, op):
    """Both operands as floating-point tensors of one dtype (a number takes the tensor's)."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}: expected at least one tensor, got {type(a).__name__} and {type(b).__name__}")
    tensors = [x for x in (a, b) if isinstance(x, Tensor)]
    dtype = np.result_type(*(t.array.dtype for t in tensors))
    if dtype.kind != "f":
        dtype = _dtype.get_default_dtype().numpy

    def convert(x):
        if isinstance(x, Tensor):
            return x if x.array.dtype == dtype else cast(x, dtype)
        return Tensor._wrap(np.asarray(x, dtype=dtype))

    return convert(a), convert(b)


class Xlogy(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where((a == 0) & ~np.isnan(b), 0.0, a * np.log(b)).astype(a.dtype, copy=False)

    def backward(self, grad):
        a, b = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            # PyTorch's convention: log(other) even where input is 0, but 0 where other <= 0 too.
            ga = np.where((a == 0) & (b <= 0), 0.0, np.log(b)) if self.needs_input_grad[0] else None
            gb = a / b if self.needs_input_grad[1] else None
        return (grad * ga if ga is not None else None), (grad * gb if gb is not None else None)


class Xlog1py(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where((a == 0) & ~np.isnan(b), 0.0, a * np.log1p(b)).astype(a.dtype, copy=False)

    def backward(self, grad):
        a, b = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad * np.where((a == 0) & (b <= -1), 0.0, np.log1p(b)), grad * a / (1 + b)


class LogAddExp(Function):
    def forward(self, a, b, base2=False):
        out = np.logaddexp2(a, b) if base2 else np.logaddexp(a, b)
        self.save_for_backward(a, b, out)
        self.base2 = base2
        return out

    def backward(self, grad):
        a, b, out = self.saved_tensors
        power = np.exp2 if self.base2 else np.exp
        return grad * power(a - out), grad * power(b - out)


class Hypot(Function):
    def forward(self, a, b):
        out = np.hypot(a, b)
        self.save_for_backward(a, b, out)
        return out

    def backward(self, grad):
        a, b, out = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad * a / out, grad * b / out


class Atan2(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.arctan2(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        r2 = a * a + b * b
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad * b / r2, grad * -a / r2


class Copysign(Function):
    def forward(self, a, b):
        out = np.copysign(a, b)
        self.save_for_backward(a, out)
        return out

    def backward(self, grad):
        a, out = self.saved_tensors
        # d|a|*sign(b)/da: +-1 where a != 0, 0 at a = 0 (PyTorch's choice); nothing flows to b.
        return grad * np.where(a == 0, 0.0, np.sign(a) * np.sign(out)), None


class Fmod(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.fmod(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        gb = -np.trunc(a / b) if self.needs_input_grad[1] else None
        return grad, (grad * gb if gb is not None else None)


def _binary(fn_class, a, b, op, **options):
    a, b = _operands(a, b, op)
    return fn_class.apply(a, b, **options)


def xlogy(input, other):
    """input * log(other), 0 where input is 0 (even where other is 0)."""
    return _binary(Xlogy, input, other, "xlogy")


def xlog1py(input, other):
    """input * log1p(other), 0 where input is 0."""
    return _binary(Xlog1py, input, other, "xlog1py")


def logaddexp(input, other):
    """log(exp(input) + exp(other)) without overflow."""
    return _binary(LogAddExp, input, other, "logaddexp")


def logaddexp2(input, other):
    """log2(2**input + 2**other) without overflow."""
    return _binary(LogAddExp, input, other, "logaddexp2", base2=True)


def hypot(input, other):
    """sqrt(input^2 + other^2) without overflow."""
    return _binary(Hypot, input, other, "hypot")


def atan2(input, other):
    """The angle of the point (other, input) in (-pi, pi]: atan(input / other) in the right quadrant."""
    return _binary(Atan2, input, other, "atan2")


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2, broadcast together."""
    return add(input, mul(tensor1, tensor2), alpha=value)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2, broadcast together."""
    return add(input, div(tensor1, tensor2), alpha=value)


def lerp(input, end, weight):
    """input + weight * (end - input); weight a number or a tensor broadcast with both."""
    return add(input, mul(sub(end, input), weight))


def copysign(input, other):
    """|input| with the sign of other (a signed zero counts)."""
    return _binary(Copysign, input, other, "copysign")


def fmod(input, other):
    """The C remainder: input - trunc(input / other) * other (the sign of input)."""
    if isinstance(input, Tensor) and input.array.dtype.kind != "f":
        b = other.array if isinstance(other, Tensor) else other
        if np.asarray(b).dtype.kind != "f":
            return Tensor._wrap(np.asarray(np.fmod(input.array, b)))  # integers stay integers
    return _binary(Fmod, input, other, "fmod")


def nextafter(input, other):
    """The next floating-point value after input towards other (no gradient, as in PyTorch)."""
    a, b = _operands(input, other, "nextafter")
    return Tensor._wrap(np.asarray(np.nextafter(a.array, b.array)))


class Frac(Function):
    def forward(self, a):
        return a - np.trunc(a)

    def backward(self, grad):
        return grad


class Trunc(Function):
    def forward(self, a):
        return np.trunc(a)

    def backward(self, grad):
        return np.zeros_like(grad)


class Sinc(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return np.sinc(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        pa = math.pi * a
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(a == 0, 0.0, (np.cos(pa) * pa - np.sin(pa)) / (pa * a))
        return grad * d


class Logit(Function):
    def forward(self, a, eps=None):
        x = a if eps is None else np.clip(a, eps, 1 - eps)
        self.save_for_backward(a)
        self.eps = eps
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x / (1 - x))

    def backward(self, grad):
        (a,) = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            d = 1 / (a * (1 - a))
        if self.eps is not None:
            d = np.where((a < self.eps) | (a > 1 - self.eps), 0.0, d)
        return grad * d


class Entr(Function):
    def forward(self, a):
        self.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(a > 0, -a * np.log(np.where(a > 0, a, 1)), np.where(a == 0, 0.0, -np.inf))
        return np.where(np.isnan(a), a, out).astype(a.dtype, copy=False)

    def backward(self, grad):
        (a,) = self.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad * -(np.log(a) + 1)


def _hurwitz_zeta(s, x):
    """zeta(s, x) = sum_k (x + k)^-s for s > 1, x > 0, by Euler-Maclaurin after moving x past 10."""
    from glassgrad.ops.special import _BERNOULLI

    total = np.zeros_like(x)
    z = x.copy()
    for _ in range(12):
        low = z < 12
        total = total + np.where(low, np.where(low, z, 1.0) ** -s, 0.0)
        z = np.where(low, z + 1, z)
    total = total + z ** (1 - s) / (s - 1) + 0.5 * z**-s
    rising = s  # s (s+1) ... (s+2j-2)
    power = z ** (-s - 1)
    factorial = 2.0
    for j, b in enumerate(_BERNOULLI, 1):
        total = total + b / factorial * rising * power
        rising = rising * (s + 2 * j - 1) * (s + 2 * j)
        power = power / (z * z)
        factorial = factorial * (2 * j + 1) * (2 * j + 2)
    return total


def polygamma_kernel(n, x):
    """The n-th derivative of digamma; x > 0 for n >= 2."""
    x = np.asarray(x, dtype=np.float64)
    if n == 0:
        return digamma_kernel(x)
    with np.errstate(invalid="ignore"):
        return (-1) ** (n + 1) * math.factorial(n) * _hurwitz_zeta(n + 1.0, x)


class Polygamma(Function):
    def forward(self, a, n):
        self.save_for_backward(a)
        self.n = n
        return polygamma_kernel(n, a).astype(a.dtype, copy=False)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad * polygamma_kernel(self.n + 1, a).astype(grad.dtype, copy=False)


def frac(input):
    """input - trunc(input): the fractional part, with the sign of input."""
    return Frac.apply(input)


def trunc(input):
    """input rounded towards zero (gradient 0, as PyTorch's)."""
    if input.array.dtype.kind != "f":
        return input.clone()
    return Trunc.apply(input)


def sinc(input):
    """sin(pi x) / (pi x), 1 at 0."""
    return Sinc.apply(floating(input, "sinc"))


def logit(input, eps=None):
    """log(p / (1 - p)); with ``eps``, p is first clamped to [eps, 1 - eps]."""
    return Logit.apply(floating(input, "logit"), eps=eps)


def entr(input):
    """-x log x elementwise (0 at 0, -inf below 0): the entropy of each element."""
    return Entr.apply(floating(input, "entr"))


def polygamma(n, input):
    """The ``n``-th derivative of digamma at ``input`` (n = 0 is digamma)."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n or non-integer n, got n={n!r}")
    return Polygamma.apply(floating(input, "polygamma"), n=int(n))


def mvlgamma(input, p):
    """The multivariate log-gamma of dimension ``p``: sum_i lgamma(x - i/2) + p(p-1)/4 log(pi).
    Every element must exceed (p - 1) / 2."""
    if not isinstance(p, (int, np.integer)) or p < 1:
        raise RuntimeError(f"mvlgamma: p has to be greater than or equal to 1, got {p!r}")
    x = floating(input, "mvlgamma")
    if bool((x.array <= (p - 1) / 2).any()):
        raise RuntimeError(f"All elements must be greater than (p-1)/2 = {(p - 1) / 2}")
    total = lgamma(x)
    for i in range(1, p):
        total = total + lgamma(x - i / 2)
    return total + p * (p - 1) / 4 * math.log(math.pi)


_M, _B = (3, 4), (4,)
_POS = (0.5, 2.0)


def _binary_entry(name, fn, domain=(-2.0, 2.0), extra=(), special=False, inplace=True, scalar=True):
    aliases = (name, f"special.{name}") if special else (name,)
    samples = [Sample(_M, _M), Sample(_M, _B), *([Sample(_M, 1.5)] if scalar else []), *extra]
    return OpInfo(name, fn, samples, aliases=aliases, domain=domain, inplace=(name + "_",) if inplace else ())


register(
    _binary_entry(
        "xlogy",
        xlogy,
        domain=_POS,
        special=True,
        extra=[Sample(np.array([0.0, 1.5, 2.0]), np.array([2.0, 0.5, np.e]))],
    ),
    OpInfo(
        "xlog1py",
        xlog1py,
        [Sample(_M, _M), Sample(_M, _B), Sample(np.array([0.0, 1.5]), np.array([2.0, 0.5]))],
        methods=(),
        aliases=("special.xlog1py",),
        torch="special.xlog1py",
        domain=_POS,
    ),
    _binary_entry(
        "logaddexp",
        logaddexp,
        inplace=False,
        scalar=False,
        extra=[Sample(np.array([800.0, -800.0]), np.array([799.0, -801.0]))],
    ),
    _binary_entry("logaddexp2", logaddexp2, inplace=False, scalar=False),
    _binary_entry("hypot", hypot, domain=_POS, scalar=False),
    OpInfo(
        "atan2",
        atan2,
        [Sample(_M, _M), Sample(_M, _B), Sample(np.array([1.0, -1.0, 0.5, -2.0]), np.array([-1.0, -1.0, 2.0, 0.3]))],
        aliases=("atan2", "arctan2"),
        methods=("atan2", "arctan2"),
        inplace=("atan2_", "arctan2_"),
        domain=_POS,
    ),
    OpInfo("addcmul", addcmul, [Sample(_M, _M, _M), Sample(_B, _M, _B, value=0.5)]),
    OpInfo("addcdiv", addcdiv, [Sample(_M, _M, _M), Sample(_M, _B, _M, value=-2.0)], domain=_POS),
    OpInfo("lerp", lerp, [Sample(_M, _M, 0.3), Sample(_M, _B, _M)]),
    _binary_entry("copysign", copysign, domain=_POS, extra=[Sample(_M, np.array([-1.0, 2.0, -3.0, 0.5]))]),
    _binary_entry(
        "fmod", fmod, domain=(0.3, 3.0), extra=[Sample(np.array([-3.5, 3.5, 7.25]), np.array([2.0, -2.0, 0.75]))]
    ),
    OpInfo("nextafter", nextafter, [Sample(_M, _M), Sample(_M, _B)], inplace=("nextafter_",), gradcheck=False),
    OpInfo(
        "frac", frac, [Sample(_M), Sample(np.array([-2.5, 2.75, 0.0, -0.25]))], domain=(-3.2, 3.2), inplace=("frac_",)
    ),
    OpInfo(
        "trunc",
        trunc,
        [Sample(_M), Sample(np.array([-2.5, 2.75, -0.25]))],
        aliases=("trunc", "fix"),
        methods=("trunc", "fix"),
        inplace=("trunc_", "fix_"),
        domain=(-3.2, 3.2),
    ),
    OpInfo(
        "sinc",
        sinc,
        [Sample(_M), Sample(np.array([0.0, 1.0, -2.0, 0.5, 1e-9]))],
        aliases=("sinc", "special.sinc"),
        inplace=("sinc_",),
    ),
    OpInfo(
        "logit",
        logit,
        [Sample(_M), Sample(_M, eps=0.3), Sample(_M, 0.3)],
        aliases=("logit", "special.logit"),
        inplace=("logit_",),
        domain=(0.1, 0.9),
    ),
    OpInfo(
        "entr",
        entr,
        [Sample(_M), Sample(np.array([1e-3, 0.5, 1.0, 2.0]))],
        methods=(),
        aliases=("special.entr",),
        torch="special.entr",
        domain=_POS,
    ),
    # n = 1 is left to tests/ops/test_math_extra.py: PyTorch's trigamma is good to 1e-9 only, which this
    # registry's float64 tolerance (1e-10) would count against glassgrad's exact values.
    OpInfo(
        "polygamma",
        polygamma,
        [Sample(0, _M), Sample(2, _M), Sample(3, np.array([0.3, 1.0, 4.5, 11.0, 30.0]))],
        methods=(),
        aliases=("polygamma", "special.polygamma"),
        domain=(0.2, 5.0),
    ),
    OpInfo(
        "mvlgamma",
        mvlgamma,
        [Sample(_M, 1), Sample(_M, 3), Sample(np.array([2.5, 7.0]), p=4)],
        aliases=("mvlgamma", "special.multigammaln"),
        domain=(1.6, 5.0),
    ),
)
