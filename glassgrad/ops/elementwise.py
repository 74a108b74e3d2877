"""Elementwise operations: arithmetic, unary math, activations, comparisons.

Binary ops broadcast like PyTorch; the engine sums each gradient back to its
input's shape, so backward here may return broadcast-shaped gradients.
"""

import numpy as np

from glassgrad import _dtype, backend
from glassgrad.autograd.function import Function
from glassgrad.ops.registry import OpInfo, Sample, register
from glassgrad.ops.utils import as_operand
from glassgrad.tensor import Tensor

_FLOAT64 = np.dtype(np.float64)


def _fix_float(out, a, b):
    """PyTorch keeps int tensors (op) Python floats in the default float dtype; NumPy would give float64."""
    if out.dtype == _FLOAT64:
        for x in (a, b):
            if isinstance(x, Tensor) and x.array.dtype == _FLOAT64:
                return out
        return out.astype(_dtype.get_default_dtype().numpy)
    return out


def _binary(fn_class, a, b, **options):
    # The hot path of every arithmetic operator: exact type checks first, the general case after.
    if type(a) is not Tensor:
        a = as_operand(a)
    if type(b) is not Tensor:
        b = as_operand(b)
        if not isinstance(a, Tensor) and not isinstance(b, Tensor):
            a = Tensor._of(a)
    try:
        out = fn_class._apply((a, b), options)[0]
    except ValueError:
        _check_broadcast(fn_class.__name__.lower(), a, b)
        raise
    array = out.array
    if array.dtype is _FLOAT64:  # NumPy's native dtypes are singletons, so `is` suffices
        fixed = _fix_float(array, a, b)
        if fixed is not array:
            out.array = fixed
    return out


def _check_broadcast(op, a, b):
    """Raise the readable broadcast error when that is what went wrong."""
    a, b = (x.array if isinstance(x, Tensor) else x for x in (a, b))
    try:
        np.broadcast_shapes(np.shape(a), np.shape(b))
    except ValueError:
        raise _broadcast_error(op, a, b) from None


def _broadcast_error(op, a, b):
    return RuntimeError(
        f"{op}: shapes {tuple(np.shape(a))} and {tuple(np.shape(b))} cannot be broadcast together "
        "(sizes must match or be 1, aligned from the right)"
    )


class Add(Function):
    def forward(self, a, b, alpha=1):
        self.alpha = alpha
        try:
            return a + b if alpha == 1 else a + alpha * b
        except ValueError:
            raise _broadcast_error("add", a, b) from None

    def backward(self, grad):
        if self.alpha == 1 or not self.needs_input_grad[1]:
            return grad, grad
        return grad, grad * self.alpha


class Sub(Function):
    def forward(self, a, b, alpha=1):
        self.alpha = alpha
        try:
            return a - b if alpha == 1 else a - alpha * b
        except ValueError:
            raise _broadcast_error("sub", a, b) from None

    def backward(self, grad):
        if not self.needs_input_grad[1]:
            return grad, None
        return grad, -grad if self.alpha == 1 else grad * -self.alpha


class Mul(Function):
    def forward(self, a, b):
        self.save_for_backward(a if self.needs_input_grad[1] else None, b if self.needs_input_grad[0] else None)
        try:
            return a * b
        except ValueError:
            raise _broadcast_error("mul", a, b) from None

    def backward(self, grad):
        a, b = self.saved_tensors
        return (
            grad * b if self.needs_input_grad[0] else None,
            grad * a if self.needs_input_grad[1] else None,
        )


class Div(Function):
    def forward(self, a, b):
        self.save_for_backward(a if self.needs_input_grad[1] else None, b)
        try:
            return a / b
        except ValueError:
            raise _broadcast_error("div", a, b) from None

    def backward(self, grad):
        a, b = self.saved_tensors
        grad_a = grad / b
        grad_b = -grad_a * a / b if self.needs_input_grad[1] else None
        return grad_a if self.needs_input_grad[0] else None, grad_b


class Pow(Function):
    """a ** b, broadcasting; d/da = b * a^(b-1) (0 where b == 0), d/db = a^b * log(a) (0 where a == 0)."""

    def forward(self, a, b):
        out = np.power(a, b)
        self.save_for_backward(a if self.needs_input_grad[0] or self.needs_input_grad[1] else None, b, out)
        return out

    def backward(self, grad):
        a, b, out = self.saved_tensors
        grad_a = grad_b = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs_input_grad[0]:
                if isinstance(b, (int, float)):
                    if b == 0:
                        grad_a = np.zeros_like(grad)
                    else:
                        grad_a = grad * b * (a ** (b - 1) if b != 2 else a)
                else:
                    grad_a = np.where(b == 0, 0, grad * b * np.power(a, b - 1))
            if self.needs_input_grad[1]:
                # PyTorch's convention: the exponent's gradient is 0 where the base is 0.
                grad_b = np.where(a == 0, 0, grad * out * np.log(np.where(a == 0, 1, a)))
        return grad_a, grad_b


class Maximum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.maximum(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        # Ties split the gradient evenly, as PyTorch does.
        a_wins = (a > b) + 0.5 * (a == b)
        return grad * a_wins, grad * (1 - a_wins)


class Minimum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.minimum(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        a_wins = (a < b) + 0.5 * (a == b)
        return grad * a_wins, grad * (1 - a_wins)


class Where(Function):
    def forward(self, condition, a, b):
        self.save_for_backward(condition)
        return np.where(condition, a, b)

    def backward(self, grad):
        (condition,) = self.saved_tensors
        zero = np.zeros((), dtype=grad.dtype)
        return None, np.where(condition, grad, zero), np.where(condition, zero, grad)


class Neg(Function):
    def forward(self, a):
        return np.negative(a)

    def backward(self, grad):
        return -grad


class Abs(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return np.abs(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad * np.sign(a)


class Exp(Function):
    def forward(self, a):
        out = np.exp(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * out


class Log(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return np.log(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad / a


class Sqrt(Function):
    def forward(self, a):
        out = np.sqrt(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad / (2 * out)


class Rsqrt(Function):
    def forward(self, a):
        out = 1 / np.sqrt(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad * -0.5 * out * out * out


class Sin(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return np.sin(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad * np.cos(a)


class Cos(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return np.cos(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad * -np.sin(a)


class Tanh(Function):
    def forward(self, a):
        out = np.tanh(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        # One temporary instead of three: large tensors are bound by memory traffic.
        local = np.multiply(out, out, out=np.empty_like(out))  # out= keeps 0-d results arrays
        np.subtract(1, local, out=local)
        return np.multiply(local, grad, out=local)


class Sigmoid(Function):
    def forward(self, a):
        if a.dtype.kind == "f":
            # Same formula as below in one compiled pass where numba is installed.
            out = backend.sigmoid(a)
        else:
            # exp of a negative magnitude never overflows, whatever the sign of a.
            e = np.exp(-np.abs(a))
            out = np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        # (1 - s) * s * grad, in one compiled pass where numba is installed.
        return backend.sigmoid_backward(grad, out)


class ReLU(Function):
    def forward(self, a, out=None):
        # backend: one compiled pass where numba is installed; NaN stays NaN. ``out``: see
        # Function.apply_into (relu_ writes straight into its tensor: backward reads the output only).
        out = backend.relu(a, out) if a.dtype.kind == "f" else np.maximum(a, 0, out=out)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        # grad where out > 0, else 0 (as PyTorch's threshold_backward; a NaN grad there gives 0).
        return backend.relu_backward(grad, out)


class Clamp(Function):
    def forward(self, a, low=None, high=None):
        self.save_for_backward(a)
        self.low, self.high = low, high
        return np.clip(a, low, high)

    def backward(self, grad):
        (a,) = self.saved_tensors
        inside = np.ones(a.shape, dtype=bool)
        if self.low is not None:
            inside &= a >= self.low
        if self.high is not None:
            inside &= a <= self.high
        return grad * inside


class Cast(Function):
    def forward(self, a, dtype=None):
        return a.astype(dtype)

    def backward(self, grad):
        return grad


class Overwrite(Function):
    """The values of ``src`` broadcast into ``a``'s shape and dtype: what ``a.copy_(src)``,
    ``a.zero_()`` and ``a.fill_(v)`` record. The old values of ``a`` no longer matter,
    so their gradient is zero; ``src`` receives the gradient (summed back to its shape)."""

    def forward(self, a, src):
        try:
            return np.broadcast_to(src, a.shape).astype(a.dtype, copy=True)
        except ValueError:
            raise RuntimeError(
                f"copy_: source of shape {tuple(np.shape(src))} cannot be broadcast to the tensor's shape {a.shape}"
            ) from None

    def backward(self, grad):
        return np.zeros_like(grad) if self.needs_input_grad[0] else None, grad


class Clone(Function):
    def forward(self, a):
        return a.copy()

    def backward(self, grad):
        return grad


def add(a, b, alpha=1):
    """a + alpha * b, broadcasting."""
    return _binary(Add, a, b) if alpha == 1 else _binary(Add, a, b, alpha=alpha)


def sub(a, b, alpha=1):
    """a - alpha * b, broadcasting."""
    return _binary(Sub, a, b) if alpha == 1 else _binary(Sub, a, b, alpha=alpha)


def mul(a, b):
    """a * b, broadcasting."""
    return _binary(Mul, a, b)


def div(a, b):
    """a / b (true division; integer inputs give floats), broadcasting."""
    if type(a) is Tensor and a.array.dtype.kind == "f":
        return _binary(Div, a, b)
    a, b = as_operand(a), as_operand(b)
    if isinstance(a, Tensor) and a.array.dtype.kind != "f" and (not isinstance(b, Tensor) or b.array.dtype.kind != "f"):
        a = cast(a, _dtype.get_default_dtype().numpy)
    return _binary(Div, a, b)


def pow(a, b):
    """a ** b; a Python exponent keeps a's dtype."""
    return _binary(Pow, a, b)


def maximum(a, b):
    return _binary(Maximum, a, b)


def minimum(a, b):
    return _binary(Minimum, a, b)


def where(condition, a=None, b=None):
    """Elements of a where condition holds, else of b (all three broadcast).

    ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``.
    """
    condition = condition.array if isinstance(condition, Tensor) else np.asarray(condition)
    if a is None and b is None:
        return tuple(Tensor._wrap(i.astype(np.int64, copy=False)) for i in np.nonzero(condition))
    if a is None or b is None:
        raise TypeError("where: give both a and b (or neither, for the indices where condition holds)")
    a, b = as_operand(a), as_operand(b)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor._of(a)
    try:
        out = Where.apply(condition.astype(bool, copy=False), a, b)
    except ValueError:
        _check_broadcast("where", condition, a)
        _check_broadcast("where", condition, b)
        _check_broadcast("where", a, b)
        raise
    fixed = _fix_float(out.array, a, b)
    if fixed is not out.array:
        out.array = fixed
    return out


def nonzero(a, as_tuple=False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or a tuple of ndim index tensors."""
    indices = np.nonzero(a.array)
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(np.int64, copy=False)) for i in indices)
    return Tensor._wrap(np.stack(indices, axis=1).astype(np.int64, copy=False))


def neg(a):
    return Neg.apply(a)


def abs(a):
    return Abs.apply(a)


def floating(a, op):
    if a.array.dtype.kind != "f":
        return cast(a, _dtype.get_default_dtype().numpy)
    return a


def exp(a):
    return Exp.apply(floating(a, "exp"))


def log(a):
    return Log.apply(floating(a, "log"))


def sqrt(a):
    return Sqrt.apply(floating(a, "sqrt"))


def rsqrt(a):
    return Rsqrt.apply(floating(a, "rsqrt"))


def sin(a):
    return Sin.apply(floating(a, "sin"))


def cos(a):
    return Cos.apply(floating(a, "cos"))


def tanh(a):
    return Tanh.apply(floating(a, "tanh"))


def sigmoid(a):
    return Sigmoid.apply(floating(a, "sigmoid"))


def relu(a):
    return ReLU.apply(a)


def clamp(a, min=None, max=None):
    """Limit values to [min, max]; either bound may be None. The gradient passes inside the range."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = a
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    return Clamp.apply(a, low=min, high=max)


clip = clamp


def cast(a, dtype):
    """a converted to a NumPy dtype; gradients flow back unchanged (converted by the engine)."""
    return Cast.apply(a, dtype=np.dtype(dtype))


def overwrite(a, src):
    """A tensor shaped like ``a`` holding ``src`` (a Tensor, array or number), recorded for autograd."""
    if not isinstance(src, Tensor):
        src = np.asarray(src)
    return Overwrite.apply(a, src)


def clone(a, memory_format=None):
    return Clone.apply(a)


# -- without gradient ---------------------------------------------------------------


def _no_grad_binary(np_fn, a, b):
    a = a.array if isinstance(a, Tensor) else a
    b = b.array if isinstance(b, Tensor) else b
    try:
        return Tensor._wrap(np.asarray(np_fn(a, b)))
    except ValueError:
        raise _broadcast_error(np_fn.__name__, a, b) from None


def eq(a, b):
    return _no_grad_binary(np.equal, a, b)


def ne(a, b):
    return _no_grad_binary(np.not_equal, a, b)


def lt(a, b):
    return _no_grad_binary(np.less, a, b)


def le(a, b):
    return _no_grad_binary(np.less_equal, a, b)


def gt(a, b):
    return _no_grad_binary(np.greater, a, b)


def ge(a, b):
    return _no_grad_binary(np.greater_equal, a, b)


def logical_and(a, b):
    return _no_grad_binary(np.logical_and, a, b) if _is_bool(a) else _no_grad_binary(np.bitwise_and, a, b)


def logical_or(a, b):
    return _no_grad_binary(np.logical_or, a, b) if _is_bool(a) else _no_grad_binary(np.bitwise_or, a, b)


def logical_xor(a, b):
    return _no_grad_binary(np.logical_xor, a, b) if _is_bool(a) else _no_grad_binary(np.bitwise_xor, a, b)


def _is_bool(a):
    return np.asarray(a.array if isinstance(a, Tensor) else a).dtype == np.bool_


def logical_not(a):
    array = a.array
    return Tensor._wrap(np.logical_not(array) if array.dtype == np.bool_ else np.invert(array))


def floor_divide(a, b):
    return _no_grad_binary(np.floor_divide, a, b)


class Remainder(Function):
    """Python's modulo (the sign of b): a - floor(a / b) * b."""

    def forward(self, a, b):
        wanted = self.needs_input_grad[1]
        self.save_for_backward(a if wanted else None, b if wanted else None)
        try:
            return np.remainder(a, b)
        except ValueError:
            raise _broadcast_error("remainder", a, b) from None

    def backward(self, grad):
        if not self.needs_input_grad[1]:
            return grad, None
        a, b = self.saved_tensors
        return grad, -grad * np.floor(a / b)


def remainder(a, b):
    """a - floor(a / b) * b, with the sign of b (``a % b``); differentiable in both, as in PyTorch."""
    return _binary(Remainder, a, b)


def sign(a):
    return Tensor._wrap(np.sign(a.array))


def floor(a):
    return Tensor._wrap(np.floor(a.array))


def ceil(a):
    return Tensor._wrap(np.ceil(a.array))


def round(a, decimals=0):
    return Tensor._wrap(np.round(a.array, decimals))


def isnan(a):
    return Tensor._wrap(np.isnan(a.array))


def isinf(a):
    return Tensor._wrap(np.isinf(a.array))


def isfinite(a):
    return Tensor._wrap(np.isfinite(a.array))


def equal(a, b):
    """True when both tensors have the same shape and elements."""
    return a.array.shape == b.array.shape and bool(np.array_equal(a.array, b.array))


class NanToNum(Function):
    def forward(self, a, nan=0.0, posinf=None, neginf=None):
        self.finite = np.isfinite(a)
        return np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, grad):
        return grad * self.finite


def nan_to_num(a, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (default: the dtype's largest and
    smallest values); the gradient is 0 where a value was replaced. Integers pass through."""
    if a.array.dtype.kind != "f":
        return clone(a)
    return NanToNum.apply(a, nan=nan, posinf=posinf, neginf=neginf)


def square(a):
    """input * input."""
    return mul(a, a)


def clamp_min(a, min):
    """clamp(input, min=min)."""
    return clamp(a, min=min)


def clamp_max(a, max):
    """clamp(input, max=max)."""
    return clamp(a, max=max)


def isclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Elementwise |a - b| <= atol + rtol * |b| as a bool tensor (no gradient)."""
    other = b.array if isinstance(b, Tensor) else b
    return Tensor._wrap(np.asarray(np.isclose(a.array, other, rtol=rtol, atol=atol, equal_nan=equal_nan)))


def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    b = b.array if isinstance(b, Tensor) else b
    return bool(np.allclose(a.array, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


# -- the registry (glassgrad/ops/registry.py): names, methods, samples and tests ----------

_M, _B = (3, 4), (4,)  # a matrix and a row that broadcasts against it
_MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])
_BOOLS = np.array([True, False, True, False]), np.array([True, True, False, False])
_SPECIAL = np.array([1.0, np.nan, np.inf, -np.inf, -2.5, 0.0])


def _unary(name, fn, inplace=False, domain=(-2.0, 2.0), gradcheck=True):
    return OpInfo(
        name, fn, [Sample(_M), Sample(())], inplace=(name + "_",) if inplace else (), domain=domain, gradcheck=gradcheck
    )


def _binary_samples(**kwargs):
    return [Sample(_M, _M, **kwargs), Sample(_M, _B, **kwargs), Sample(_M, 2.5, **kwargs)]


def _comparison(name, fn, aliases=None):
    return OpInfo(name, fn, [Sample(_M, _M), Sample(_M, 0.5)], aliases=aliases, methods=aliases, gradcheck=False)


register(
    OpInfo("add", add, _binary_samples() + [Sample(_M, _B, alpha=2)], inplace=("add_",)),
    OpInfo(
        "sub",
        sub,
        _binary_samples() + [Sample(_M, _M, alpha=-3)],
        aliases=("sub", "subtract"),
        methods=("sub", "subtract"),
        inplace=("sub_", "subtract_"),
    ),
    OpInfo(
        "mul",
        mul,
        _binary_samples(),
        aliases=("mul", "multiply"),
        methods=("mul", "multiply"),
        inplace=("mul_", "multiply_"),
    ),
    OpInfo(
        "div",
        div,
        _binary_samples(),
        aliases=("div", "divide", "true_divide"),
        methods=("div", "divide", "true_divide"),
        inplace=("div_", "divide_", "true_divide_"),
        domain=(0.5, 2.0),
    ),
    OpInfo("pow", pow, [Sample(_M, 2), Sample(_M, 0.5), Sample(_M, _M)], inplace=("pow_",), domain=(0.5, 2.0)),
    OpInfo("maximum", maximum, [Sample(_M, _M), Sample(_M, _B)]),
    OpInfo("minimum", minimum, [Sample(_M, _M), Sample(_M, _B)]),
    OpInfo("where", where, [Sample(_MASK, _M, _M), Sample(_MASK, _M, _B)], methods=()),
    OpInfo(
        "neg",
        neg,
        [Sample(_M), Sample(())],
        aliases=("neg", "negative"),
        methods=("neg", "negative"),
        inplace=("neg_", "negative_"),
    ),
    OpInfo(
        "abs",
        abs,
        [Sample(_M), Sample(())],
        aliases=("abs", "absolute"),
        methods=("abs", "absolute"),
        inplace=("abs_", "absolute_"),
    ),
    OpInfo(
        "nan_to_num",
        nan_to_num,
        [
            Sample(_M),
            Sample(_SPECIAL, posinf=1e3, neginf=-1e3),
            Sample(_SPECIAL, nan=1.5, posinf=9.0, neginf=-9.0),
            Sample(_SPECIAL, posinf=4.0, neginf=-3.0),
        ],
        inplace=("nan_to_num_",),
    ),
    OpInfo("square", square, [Sample(_M), Sample(())], methods=(), inplace=("square_",)),
    OpInfo("clamp_min", clamp_min, [Sample(_M, -0.5), Sample(_M, min=0.25)], inplace=("clamp_min_",)),
    OpInfo("clamp_max", clamp_max, [Sample(_M, 0.5), Sample(_M, max=-0.25)], inplace=("clamp_max_",)),
    OpInfo(
        "isclose",
        isclose,
        [Sample(_M, _M), Sample(_M, _M, atol=1.0), Sample(_SPECIAL, _SPECIAL, equal_nan=True)],
        gradcheck=False,
    ),
    _unary("exp", exp, inplace=True),
    _unary("log", log, domain=(0.5, 2.0)),
    _unary("sqrt", sqrt, inplace=True, domain=(0.5, 2.0)),
    _unary("rsqrt", rsqrt, domain=(0.5, 2.0)),
    _unary("sin", sin),
    _unary("cos", cos),
    _unary("tanh", tanh, inplace=True),
    _unary("sigmoid", sigmoid, inplace=True),
    _unary("relu", relu, inplace=True),
    OpInfo(
        "clamp",
        clamp,
        [Sample(_M, min=-0.5, max=0.5), Sample(_M, min=-1.0), Sample(_M, max=0.25), Sample(_M, -0.5, 0.5)],
        methods=("clamp", "clip"),
        aliases=("clamp", "clip"),
        inplace=("clamp_", "clip_"),
    ),
    OpInfo("clone", clone, [Sample(_M), Sample(())]),
    _unary("sign", sign, gradcheck=False),
    _unary("floor", floor, gradcheck=False),
    _unary("ceil", ceil, gradcheck=False),
    OpInfo("round", round, [Sample(_M), Sample(_M, decimals=1)], gradcheck=False),
    _comparison("eq", eq),
    _comparison("ne", ne, aliases=("ne", "not_equal")),
    _comparison("lt", lt, aliases=("lt", "less")),
    _comparison("le", le, aliases=("le", "less_equal")),
    _comparison("gt", gt, aliases=("gt", "greater")),
    _comparison("ge", ge, aliases=("ge", "greater_equal")),
    _comparison("floor_divide", floor_divide),
    OpInfo(
        "remainder",
        remainder,
        [
            Sample(_M, _M),
            Sample(_M, _B),
            Sample(_M, 0.7),
            Sample(np.array([-3.5, 3.5, 7.25]), np.array([2.0, -2.0, 0.75])),
        ],
        inplace=("remainder_",),
        domain=(0.3, 3.0),
    ),
    OpInfo("logical_and", logical_and, [Sample(*_BOOLS)], gradcheck=False),
    OpInfo("logical_or", logical_or, [Sample(*_BOOLS)], gradcheck=False),
    OpInfo("logical_xor", logical_xor, [Sample(*_BOOLS)], gradcheck=False),
    OpInfo("logical_not", logical_not, [Sample(_BOOLS[0])], gradcheck=False),
    OpInfo("isnan", isnan, [Sample(_SPECIAL)], gradcheck=False),
    OpInfo("isinf", isinf, [Sample(_SPECIAL)], gradcheck=False),
    OpInfo("isfinite", isfinite, [Sample(_SPECIAL)], gradcheck=False),
    OpInfo("equal", equal, [Sample(_M, _M), Sample(_SPECIAL[:1], _SPECIAL[:1])], gradcheck=False),
    OpInfo("allclose", allclose, [Sample(_M, _M), Sample(_M, _M, atol=10.0)], gradcheck=False),
    OpInfo("nonzero", nonzero, [Sample(_MASK), Sample(_MASK, as_tuple=True)], gradcheck=False),
)
