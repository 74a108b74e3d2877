"""Running reductions along one dimension: cumsum, cumprod, cummax, cummin, logcumsumexp."""

import collections

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.ops.registry import OpInfo, Sample, register
from glassgrad.ops.utils import normalize_dims
from glassgrad.tensor import Tensor

ValuesIndices = collections.namedtuple("ValuesIndices", ["values", "indices"])


def _reverse_cumsum(x, axis):
    return np.flip(np.cumsum(np.flip(x, axis), axis), axis)


class CumSum(Function):
    def forward(self, a, axis=0):
        self.axis = axis
        return np.cumsum(a, axis)

    def backward(self, grad):
        # Element k reaches every output from k on.
        return _reverse_cumsum(grad, self.axis)


class CumProd(Function):
    def forward(self, a, axis=0):
        out = np.cumprod(a, axis)
        self.axis = axis
        self.save_for_backward(a, out)
        return out

    def backward(self, grad):
        a, out = self.saved_tensors
        axis = self.axis
        if np.all(a != 0):
            return _reverse_cumsum(grad * out, axis) / a
        # With zeros, dividing by a is undefined: use S_k = g_k + a_{k+1} S_{k+1}, the gradient being
        # (the product before k) * S_k, in one pass over the dimension (vectorised across the others).
        a, grad, out = (np.moveaxis(x, axis, 0) for x in (a, grad, out))
        running = np.zeros_like(grad[0])
        sums = np.empty_like(grad)
        for k in range(a.shape[0] - 1, -1, -1):
            running = grad[k] + (a[k + 1] * running if k + 1 < a.shape[0] else 0)
            sums[k] = running
        before = np.concatenate([np.ones_like(out[:1]), out[:-1]])
        return np.moveaxis(before * sums, 0, axis)


class CumExtreme(Function):
    """Running maximum (or minimum); its gradient goes to the element each output came from."""

    def forward(self, a, axis=0, largest=True):
        values = (np.maximum if largest else np.minimum).accumulate(a, axis)
        positions = np.arange(a.shape[axis]).reshape((-1,) + (1,) * (a.ndim - axis - 1))
        # The latest element equal to the running extreme, as PyTorch picks on ties.
        self.index = np.maximum.accumulate(np.where(a == values, positions, 0), axis).astype(np.int64)
        self.shape, self.axis = a.shape, axis
        return values

    def backward(self, grad):
        out = np.zeros(self.shape, dtype=grad.dtype)
        grid = list(np.indices(grad.shape, sparse=True))
        grid[self.axis] = self.index
        np.add.at(out, tuple(grid), grad)
        return out


class LogCumSumExp(Function):
    def forward(self, a, axis=0):
        out = np.logaddexp.accumulate(a, axis)
        self.axis = axis
        self.save_for_backward(a, out)
        return out

    def backward(self, grad):
        a, out = self.saved_tensors
        axis = self.axis
        # d out_j / d a_k = exp(a_k - out_j) for k <= j; the sums run in log space, split by the sign
        # of the gradient, so that exp(-out_j) never overflows.
        with np.errstate(divide="ignore"):
            result = np.zeros_like(a)
            for sign in (1, -1):
                part = np.log(np.maximum(sign * grad, 0)) - out
                reverse = np.flip(np.logaddexp.accumulate(np.flip(part, axis), axis), axis)
                result += sign * np.exp(a + reverse)
        return result


def _accumulated(input, dtype):
    from glassgrad import _dtype
    from glassgrad.ops.elementwise import cast

    if dtype is not None:
        return cast(input, _dtype.to_dtype(dtype).numpy)
    if input.array.dtype.kind in "biu":
        return cast(input, np.int64)  # integers and bools accumulate in int64, as in PyTorch
    return input


def _along(fn_class, input, dim, op):
    (axis,) = normalize_dims(dim, input.ndim, op) or (0,)
    if input.ndim == 0:  # NumPy's running reductions flatten a 0-d array to shape (1,)
        from glassgrad.ops.shape import reshape

        return reshape(fn_class.apply(reshape(input, (1,)), axis=0), ())
    return fn_class.apply(input, axis=axis)


def cumsum(input, dim, *, dtype=None):
    """Running sums along ``dim``: out[i] = input[0] + ... + input[i]."""
    input = _accumulated(input, dtype)
    return _along(CumSum, input, dim, "cumsum")


def cumprod(input, dim, *, dtype=None):
    """Running products along ``dim``: out[i] = input[0] * ... * input[i] (zeros handled exactly)."""
    input = _accumulated(input, dtype)
    return _along(CumProd, input, dim, "cumprod")


def _extreme(input, dim, largest, op):
    (axis,) = normalize_dims(dim, input.ndim, op) or (0,)
    if input.ndim == 0:
        return ValuesIndices(input, Tensor._wrap(np.array(0)))
    values, node = CumExtreme.apply_with_node(input, axis=axis, largest=largest)
    return ValuesIndices(values, Tensor._wrap(node.index))


def cummax(input, dim):
    """(values, indices): the running maximum along ``dim`` and where it was found."""
    return _extreme(input, dim, True, "cummax")


def cummin(input, dim):
    """(values, indices): the running minimum along ``dim`` and where it was found."""
    return _extreme(input, dim, False, "cummin")


def logcumsumexp(input, dim):
    """log(cumsum(exp(input))) along ``dim``, without overflow or underflow."""
    return _along(LogCumSumExp, input, dim, "logcumsumexp")


_M = (3, 4)
_ZEROS = np.array([[2.0, 0.0, 3.0, 0.0], [1.5, -1.0, 0.0, 2.0], [0.5, 2.0, -1.5, 1.0]])

register(
    OpInfo("cumsum", cumsum, [Sample(_M, 0), Sample(_M, dim=-1), Sample((), 0), Sample(np.arange(6), 0)]),
    OpInfo("cumprod", cumprod, [Sample(_M, 0), Sample(_M, dim=-1), Sample(_ZEROS, 1), Sample(np.arange(1, 5), 0)]),
    OpInfo("cummax", cummax, [Sample(_M, 0), Sample(_M, 1), Sample((5,), 0)]),
    OpInfo("cummin", cummin, [Sample(_M, 0), Sample(_M, 1), Sample((5,), 0)]),
    OpInfo(
        "logcumsumexp",
        logcumsumexp,
        [Sample(_M, 0), Sample(_M, -1), Sample((5,), 0), Sample(np.array([-800.0, 0.5, -1.0, 700.0]), 0)],
    ),
)
