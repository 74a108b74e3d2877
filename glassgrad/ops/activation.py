"""Activation functions beyond relu/sigmoid/tanh (which live in elementwise.py).

Each is one Function with forward and backward side by side; all are elementwise,
so every input shape works and the output has the input's shape and dtype.
"""

import math

import numpy as np

from glassgrad import backend
from glassgrad.autograd.function import Function
from glassgrad.backend import memory

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _erfc_positive(x):
    """erfc(x) for x >= 0 in float64, accurate to ~1e-14 relative (NumPy has no erf)."""
    out = np.empty_like(x)
    small = x < 2.0
    xs = x[small]
    # Below 2: erf(x) = 2/sqrt(pi) e^(-x^2) sum_n (2x^2)^n x / (2n+1)!!, a series of positive
    # terms, so no cancellation; 60 terms reach double precision at x = 2.
    term = xs.copy()
    total = xs.copy()
    two_x2 = 2 * xs * xs
    for n in range(1, 60):
        term *= two_x2 / (2 * n + 1)
        total += term
        if n % 8 == 0 and not np.any(term > 1e-17 * total):
            break
    out[small] = 1 - (2 / math.sqrt(math.pi)) * np.exp(-xs * xs) * total
    # From 2 up the continued fraction of erfc converges fast and keeps tiny tails exact.
    xl = x[~small]
    frac = xl.copy()
    for k in range(60, 0, -1):
        frac = xl + (k / 2) / frac
    out[~small] = np.exp(-xl * xl) / (math.sqrt(math.pi) * frac)
    return out


def erfc(x):
    """The complementary error function 1 - erf(x), elementwise, in float64."""
    x = np.asarray(x, dtype=np.float64)
    positive = _erfc_positive(np.abs(x))
    return np.where(x >= 0, positive, 2 - positive)


def erf(x):
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * (1 - _erfc_positive(np.abs(x)))


def normal_cdf(x):
    """Phi(x) = P(Z <= x) for a standard normal Z, exact in the far negative tail."""
    return 0.5 * erfc(-np.asarray(x, dtype=np.float64) * _SQRT_HALF)


def _like(values, a):
    return values.astype(a.dtype, copy=False)


class LeakyReLU(Function):
    """x where x > 0, negative_slope * x elsewhere."""

    def forward(self, a, negative_slope=0.01):
        self.slope = negative_slope
        self.save_for_backward(a)
        return np.where(a > 0, a, a * a.dtype.type(negative_slope))

    def backward(self, grad):
        (a,) = self.saved_tensors
        return np.where(a > 0, grad, grad * grad.dtype.type(self.slope))


class ELU(Function):
    """x where x > 0, alpha * (exp(x) - 1) elsewhere; times ``scale`` (SELU uses it)."""

    def forward(self, a, alpha=1.0, scale=1.0):
        self.alpha, self.scale = alpha, scale
        negative = alpha * np.expm1(np.minimum(a, 0))
        self.save_for_backward(a)
        return _like(scale * np.where(a > 0, a, negative), a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        slope = np.where(a > 0, self.scale, self.scale * self.alpha * np.exp(np.minimum(a, 0)))
        return _like(grad * slope, grad)


class CELU(Function):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

    def forward(self, a, alpha=1.0):
        self.alpha = alpha
        self.save_for_backward(a)
        return _like(np.where(a > 0, a, alpha * np.expm1(np.minimum(a, 0) / alpha)), a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return _like(grad * np.where(a > 0, 1, np.exp(np.minimum(a, 0) / self.alpha)), grad)


class GELU(Function):
    """x * Phi(x), with Phi the standard normal CDF (``approximate='none'``), or its tanh
    approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (``approximate='tanh'``).

    float64 inputs get Phi to ~1e-14 (series and continued fraction); float32 inputs a
    rational approximation of erfc with relative error ~1e-7, computed in float32."""

    def forward(self, a, approximate="none"):
        self.approximate = approximate
        if approximate == "tanh":
            t = np.tanh(a.dtype.type(_SQRT_2_OVER_PI) * (a + a.dtype.type(0.044715) * a * a * a))
            self.save_for_backward(a, t)
            return _like(0.5 * a * (1 + t), a)
        cdf = _like(normal_cdf(a) if a.dtype == np.float64 else _normal_cdf_fast(a.astype(np.float32)), a)
        self.save_for_backward(a, cdf)
        return a * cdf

    def backward(self, grad):
        a, saved = self.saved_tensors
        if self.approximate == "tanh":
            t = saved
            inner_slope = a.dtype.type(_SQRT_2_OVER_PI) * (1 + a.dtype.type(3 * 0.044715) * a * a)
            slope = 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * inner_slope
        else:
            slope = saved + a * a.dtype.type(_INV_SQRT_2PI) * np.exp(-0.5 * a * a)
        return _like(grad * slope, grad)


# Numerical Recipes' Chebyshev fit of erfc: erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2),
# relative error below 1.2e-7 for every z >= 0, ten multiply-adds, no branches.
_ERFC_FIT = (
    -1.26551223,
    1.00002368,
    0.37409196,
    0.09678418,
    -0.18628806,
    0.27886807,
    -1.13520398,
    1.48851587,
    -0.82215223,
    0.17087277,
)


def _normal_cdf_fast(x):
    z = np.abs(x) * x.dtype.type(_SQRT_HALF)
    t = 1 / (1 + x.dtype.type(0.5) * z)
    poly = x.dtype.type(_ERFC_FIT[-1])
    for c in _ERFC_FIT[-2::-1]:
        poly = poly * t + x.dtype.type(c)
    tail = 0.5 * t * np.exp(poly - z * z)  # = Phi(-|x|)
    return np.where(x >= 0, 1 - tail, tail)


def _sigmoid(a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(a):
    """log(1 + exp(a)) without overflow: max(a, 0) + log1p(exp(-|a|))."""
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


class SiLU(Function):
    """x * sigmoid(x) (also called swish)."""

    def forward(self, a):
        s = _sigmoid(a)
        self.save_for_backward(a, s)
        return _like(a * s, a)

    def backward(self, grad):
        a, s = self.saved_tensors
        return _like(grad * s * (1 + a * (1 - s)), grad)


class Mish(Function):
    """x * tanh(softplus(x))."""

    def forward(self, a):
        t = np.tanh(_softplus(a))
        self.save_for_backward(a, t)
        return _like(a * t, a)

    def backward(self, grad):
        a, t = self.saved_tensors
        return _like(grad * (t + a * (1 - t * t) * _sigmoid(a)), grad)


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch does)."""

    def forward(self, a, beta=1.0, threshold=20.0):
        self.beta, self.threshold = beta, threshold
        self.save_for_backward(a)
        z = a * beta
        return _like(np.where(z > threshold, a, _softplus(z) / beta), a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        z = a * self.beta
        return _like(grad * np.where(z > self.threshold, 1, _sigmoid(z)), grad)


class LogSigmoid(Function):
    """log(sigmoid(x)) = -softplus(-x), finite for every x."""

    def forward(self, a):
        self.save_for_backward(a)
        return _like(-_softplus(-a), a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return _like(grad * _sigmoid(-a), grad)


class Hardtanh(Function):
    """clip(x, min_val, max_val); the gradient is 1 strictly inside the interval, 0 outside."""

    def forward(self, a, min_val=-1.0, max_val=1.0, out=None):
        self.low, self.high = min_val, max_val
        # Into reused memory: the output is kept for backward, and fresh pages cost a fault each.
        # ``out``: hardtanh_ (ReLU6(inplace=True)) clips straight into its tensor (Function.apply_into).
        if out is None:
            out = memory.empty(a.shape, a.dtype)
        np.clip(a, a.dtype.type(min_val), a.dtype.type(max_val), out=out)
        # The output, not the input: out lies strictly inside (low, high) exactly where a does, so
        # backward needs nothing that the in-place form overwrites.
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return backend.hardtanh_backward(grad, out, self.low, self.high)


class Hardshrink(Function):
    """x where |x| > lambd, else 0; the gradient passes where x is kept."""

    def forward(self, a, lambd=0.5):
        self.keep = np.abs(a) > lambd
        return np.where(self.keep, a, a.dtype.type(0))

    def backward(self, grad):
        return grad * self.keep


class Softshrink(Function):
    """x - lambd above lambd, x + lambd below -lambd, 0 between; the gradient is 1 outside."""

    def forward(self, a, lambd=0.5):
        self.keep = np.abs(a) > lambd
        return np.where(self.keep, a - np.sign(a) * a.dtype.type(lambd), a.dtype.type(0))

    def backward(self, grad):
        return grad * self.keep


class Hardsigmoid(Function):
    """relu6(x + 3) / 6."""

    def forward(self, a):
        self.save_for_backward(a)
        return _like(np.clip(a + 3, 0, 6) / 6, a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return _like(grad * ((a > -3) & (a < 3)) / 6, grad)


class Hardswish(Function):
    """x * relu6(x + 3) / 6."""

    def forward(self, a):
        self.save_for_backward(a)
        return _like(a * np.clip(a + 3, 0, 6) / 6, a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        slope = np.where(a < -3, 0, np.where(a <= 3, a / 3 + 0.5, 1))
        return _like(grad * slope, grad)


class Softsign(Function):
    """x / (1 + |x|)."""

    def forward(self, a):
        self.save_for_backward(a)
        return a / (1 + np.abs(a))

    def backward(self, grad):
        (a,) = self.saved_tensors
        d = 1 + np.abs(a)
        return grad / (d * d)


class Threshold(Function):
    """x where x > threshold, ``value`` elsewhere."""

    def forward(self, a, threshold=0.0, value=0.0):
        self.threshold = threshold
        self.save_for_backward(a)
        return np.where(a > threshold, a, a.dtype.type(value))

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad * (a > self.threshold)


class PReLU(Function):
    """x where x > 0, w * x elsewhere, with a learned slope ``w`` per channel (dimension 1)
    or one shared slope. Input (N, C, *) or (C,); weight (C,) or (1,)."""

    def forward(self, a, weight):
        shape = [1] * a.ndim
        if weight.size > 1:
            shape[1 if a.ndim > 1 else 0] = weight.size
        w = weight.reshape(shape) if a.ndim else weight.reshape(())
        self.weight_shape = weight.shape
        self.save_for_backward(a, w)
        return np.where(a > 0, a, w * a).astype(a.dtype, copy=False)

    def backward(self, grad):
        a, w = self.saved_tensors
        grad_a = np.where(a > 0, grad, w * grad) if self.needs_input_grad[0] else None
        grad_w = None
        if self.needs_input_grad[1]:
            contrib = np.where(a > 0, 0, a * grad)
            axes = tuple(i for i in range(a.ndim) if w.ndim == 0 or w.shape[i] == 1)
            grad_w = contrib.sum(axis=axes).reshape(self.weight_shape)
        return grad_a, grad_w
