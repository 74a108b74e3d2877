"""Reductions over dimensions, and softmax and its log."""

import collections

import numpy as np

from glassgrad import _dtype
from glassgrad.autograd.function import Function
from glassgrad.ops.elementwise import isnan, where
from glassgrad.ops.registry import OpInfo, Sample, register
from glassgrad.ops.utils import normalize_dims
from glassgrad.tensor import Tensor

ValuesIndices = collections.namedtuple("ValuesIndices", ["values", "indices"])


def _unsqueeze_like(grad, axes, keepdim, shape):
    """Put back the reduced axes so that ``grad`` broadcasts against the input."""
    if not keepdim and axes:
        grad = np.expand_dims(grad, axes)
    return grad


class Sum(Function):
    def forward(self, a, axes=(), keepdim=False):
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        return np.sum(a, axis=axes, keepdims=keepdim)

    def backward(self, grad):
        return np.broadcast_to(_unsqueeze_like(grad, self.axes, self.keepdim, self.shape), self.shape)


class Mean(Function):
    def forward(self, a, axes=(), keepdim=False):
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        self.count = int(np.prod([a.shape[i] for i in axes])) if axes else 1
        return np.mean(a, axis=axes, keepdims=keepdim)

    def backward(self, grad):
        grad = _unsqueeze_like(grad, self.axes, self.keepdim, self.shape) / self.count
        return np.broadcast_to(grad, self.shape)


class Prod(Function):
    def forward(self, a, axes=(), keepdim=False):
        self.axes, self.keepdim = axes, keepdim
        out = np.prod(a, axis=axes, keepdims=keepdim)
        self.save_for_backward(a, out)
        return out

    def backward(self, grad):
        a, out = self.saved_tensors
        grad = _unsqueeze_like(grad, self.axes, self.keepdim, a.shape)
        out = _unsqueeze_like(out, self.axes, self.keepdim, a.shape)
        if np.all(a != 0):
            return grad * out / a
        # With zeros, the product of the other elements: exclusive cumulative products
        # from both sides along each reduced axis (moved to the end and flattened).
        moved = np.moveaxis(a, self.axes, range(a.ndim - len(self.axes), a.ndim))
        flat = moved.reshape(*moved.shape[: a.ndim - len(self.axes)], -1)
        ones = np.ones_like(flat[..., :1])
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        others = (left * right).reshape(moved.shape)
        others = np.moveaxis(others, range(a.ndim - len(self.axes), a.ndim), self.axes)
        return grad * others


class MaxMin(Function):
    """Max or min over axes; the gradient goes to the extreme elements, split evenly on ties
    (PyTorch's rule for full reductions; ``max(dim)`` sends it to the returned index instead)."""

    def forward(self, a, axes=(), keepdim=False, largest=True):
        self.axes, self.keepdim = axes, keepdim
        out = np.max(a, axis=axes, keepdims=True) if largest else np.min(a, axis=axes, keepdims=True)
        self.save_for_backward(a, out)
        return out if keepdim else np.squeeze(out, axis=axes)

    def backward(self, grad):
        a, out = self.saved_tensors
        grad = _unsqueeze_like(grad, self.axes, self.keepdim, a.shape)
        hits = a == out
        return grad * hits / hits.sum(axis=self.axes, keepdims=True)


class MaxMinDim(Function):
    """``max(dim)`` / ``min(dim)``: values and the index of the first extreme element."""

    def forward(self, a, axis=0, keepdim=False, largest=True):
        self.axis, self.keepdim, self.shape = axis, keepdim, a.shape
        index = np.argmax(a, axis=axis) if largest else np.argmin(a, axis=axis)
        index = np.expand_dims(index, axis)
        self.index = index
        values = np.take_along_axis(a, index, axis=axis)
        return values if keepdim else np.squeeze(values, axis=axis)

    def backward(self, grad):
        if not self.keepdim:
            grad = np.expand_dims(grad, self.axis)
        out = np.zeros(self.shape, dtype=grad.dtype)
        np.put_along_axis(out, self.index, grad, axis=self.axis)
        return out


class Var(Function):
    def forward(self, a, axes=(), keepdim=False, correction=1):
        self.axes, self.keepdim = axes, keepdim
        count = int(np.prod([a.shape[i] for i in axes])) if axes else 1
        self.divisor = count - correction if count > correction else 0
        centered = a - np.mean(a, axis=axes, keepdims=True)
        self.save_for_backward(centered)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(centered * centered, axis=axes, keepdims=keepdim) / self.divisor

    def backward(self, grad):
        (centered,) = self.saved_tensors
        grad = _unsqueeze_like(grad, self.axes, self.keepdim, centered.shape)
        return grad * (2 / self.divisor if self.divisor else float("nan")) * centered


class LogSumExp(Function):
    def forward(self, a, axes=(), keepdim=False):
        self.axes, self.keepdim = axes, keepdim
        peak = np.max(a, axis=axes, keepdims=True)
        peak = np.where(np.isfinite(peak), peak, 0)
        out = np.log(np.sum(np.exp(a - peak), axis=axes, keepdims=True)) + peak
        self.save_for_backward(a, out)
        return out if keepdim else np.squeeze(out, axis=axes)

    def backward(self, grad):
        a, out = self.saved_tensors
        grad = _unsqueeze_like(grad, self.axes, self.keepdim, a.shape)
        return grad * np.exp(a - out)


class Softmax(Function):
    def forward(self, a, axis=-1):
        self.axis = axis
        shifted = np.exp(a - np.max(a, axis=axis, keepdims=True))
        out = shifted / np.sum(shifted, axis=axis, keepdims=True)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return out * (grad - np.sum(grad * out, axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    def forward(self, a, axis=-1):
        self.axis = axis
        shifted = a - np.max(a, axis=axis, keepdims=True)
        out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return grad - np.exp(out) * np.sum(grad, axis=self.axis, keepdims=True)


def _float_input(a, dtype):
    if dtype is not None:
        from glassgrad.ops.elementwise import cast

        return cast(a, _dtype.to_dtype(dtype).numpy)
    return a


def sum(a, dim=None, keepdim=False, dtype=None):
    """Sum over ``dim`` (all by default). Integer and bool tensors sum to int64, as in PyTorch."""
    a = _float_input(a, dtype)
    if a.array.dtype.kind in "biu" and dtype is None:
        from glassgrad.ops.elementwise import cast

        a = cast(a, np.int64)
    return Sum.apply(a, axes=normalize_dims(dim, a.ndim, "sum"), keepdim=keepdim)


def mean(a, dim=None, keepdim=False, dtype=None):
    """Mean over ``dim`` (all by default); needs a floating-point tensor."""
    a = _float_input(a, dtype)
    if a.array.dtype.kind != "f":
        raise RuntimeError(f"mean(): needs a floating-point tensor, got {a.dtype}; call .float() first")
    return Mean.apply(a, axes=normalize_dims(dim, a.ndim, "mean"), keepdim=keepdim)


def prod(a, dim=None, keepdim=False):
    return Prod.apply(a, axes=normalize_dims(dim, a.ndim, "prod"), keepdim=keepdim)


def _extreme(a, dim, keepdim, largest, op):
    if a.array.size == 0:
        raise RuntimeError(f"{op}(): the tensor is empty; there is no {op}imum")
    if dim is None:
        return MaxMin.apply(a, axes=normalize_dims(None, a.ndim, op), keepdim=False, largest=largest)
    if isinstance(dim, Tensor):
        from glassgrad.ops.elementwise import maximum, minimum

        return maximum(a, dim) if largest else minimum(a, dim)
    (axis,) = normalize_dims(dim, a.ndim, op) or (0,)
    if a.ndim == 0:
        return ValuesIndices(a, Tensor._wrap(np.array(0)))
    values, node = MaxMinDim.apply_with_node(a, axis=axis, keepdim=keepdim, largest=largest)
    index = node.index if keepdim else np.squeeze(node.index, axis=axis)
    return ValuesIndices(values, Tensor._wrap(index.astype(np.int64, copy=False)))


def max(a, dim=None, keepdim=False):
    """The largest element, or ``(values, indices)`` along ``dim``; ``max(a, b)`` is ``maximum``."""
    return _extreme(a, dim, keepdim, True, "max")


def min(a, dim=None, keepdim=False):
    """The smallest element, or ``(values, indices)`` along ``dim``; ``min(a, b)`` is ``minimum``."""
    return _extreme(a, dim, keepdim, False, "min")


def amax(a, dim=None, keepdim=False):
    return MaxMin.apply(a, axes=normalize_dims(dim, a.ndim, "amax"), keepdim=keepdim, largest=True)


def amin(a, dim=None, keepdim=False):
    return MaxMin.apply(a, axes=normalize_dims(dim, a.ndim, "amin"), keepdim=keepdim, largest=False)


def _bool_first(dim, unbiased):
    """``x.var(False)`` means unbiased=False, as in PyTorch, not dim=0."""
    if isinstance(dim, bool):
        return None, dim
    return dim, unbiased


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


def var(a, dim=None, unbiased=None, keepdim=False, correction=None):
    """Variance over ``dim``; unbiased (divides by N - 1) unless ``unbiased=False`` or ``correction=0``."""
    dim, unbiased = _bool_first(dim, unbiased)
    return Var.apply(
        a, axes=normalize_dims(dim, a.ndim, "var"), keepdim=keepdim, correction=_correction(unbiased, correction)
    )


def std(a, dim=None, unbiased=None, keepdim=False, correction=None):
    """Standard deviation: the square root of ``var`` with the same arguments."""
    dim, unbiased = _bool_first(dim, unbiased)
    from glassgrad.ops.elementwise import sqrt

    return sqrt(var(a, dim, unbiased=unbiased, keepdim=keepdim, correction=correction))


def var_mean(a, dim=None, unbiased=None, keepdim=False, correction=None):
    """(var, mean) over ``dim`` in one call, with var's arguments."""
    dim, unbiased = _bool_first(dim, unbiased)
    return var(a, dim, unbiased=unbiased, keepdim=keepdim, correction=correction), mean(a, dim, keepdim)


def std_mean(a, dim=None, unbiased=None, keepdim=False, correction=None):
    """(std, mean) over ``dim`` in one call, with std's arguments."""
    dim, unbiased = _bool_first(dim, unbiased)
    return std(a, dim, unbiased=unbiased, keepdim=keepdim, correction=correction), mean(a, dim, keepdim)


def logsumexp(a, dim, keepdim=False):
    """log(sum(exp(a))) over ``dim``, without overflow."""
    return LogSumExp.apply(a, axes=normalize_dims(dim, a.ndim, "logsumexp"), keepdim=keepdim)


def norm(a, p="fro", dim=None, keepdim=False, dtype=None):
    """The p-norm over ``dim`` (all elements by default); ``dtype`` casts the input first, as
    PyTorch's (a float64 norm of a float32 tensor)."""
    from glassgrad.ops.elementwise import abs as abs_
    from glassgrad.ops.elementwise import pow as pow_
    from glassgrad.ops.elementwise import sqrt

    if dtype is not None:
        a = a.to(dtype)
    if p is None or p == 2 or p == "fro":
        return sqrt(sum(a * a, dim, keepdim))
    if p == float("inf"):
        return amax(abs_(a), dim, keepdim)
    if p == 1:
        return sum(abs_(a), dim, keepdim)
    return pow_(sum(pow_(abs_(a), p), dim, keepdim), 1.0 / p)


def nansum(a, dim=None, keepdim=False, dtype=None):
    """sum with NaN counted as 0 (its gradient is 0 there)."""
    return sum(where(isnan(a), 0.0, a), dim, keepdim, dtype=dtype)


def nanmean(a, dim=None, keepdim=False, dtype=None):
    """The mean of the values that are not NaN (NaN where all are)."""
    if a.array.dtype.kind != "f":
        raise RuntimeError(f"nanmean(): expected a floating point input, got {a.dtype}")
    present = Tensor._wrap(np.asarray(~np.isnan(a.array), dtype=a.array.dtype))
    return nansum(a, dim, keepdim, dtype=dtype) / sum(present, dim, keepdim)


def count_nonzero(a, dim=None):
    """The number of non-zero values, over ``dim`` (an int or a tuple) or all; int64, no gradient."""
    axes = None if dim is None else normalize_dims(dim, a.ndim, "count_nonzero")
    return Tensor._wrap(np.asarray(np.count_nonzero(a.array, axis=axes), dtype=np.int64))


def argmax(a, dim=None, keepdim=False):
    """Index of the largest element (of the flattened tensor when ``dim`` is None)."""
    if dim is None:
        return Tensor._wrap(np.asarray(np.argmax(a.array), dtype=np.int64))
    (axis,) = normalize_dims(dim, a.ndim, "argmax")
    return Tensor._wrap(np.argmax(a.array, axis=axis, keepdims=keepdim).astype(np.int64, copy=False))


def argmin(a, dim=None, keepdim=False):
    """Index of the smallest element (of the flattened tensor when ``dim`` is None)."""
    if dim is None:
        return Tensor._wrap(np.asarray(np.argmin(a.array), dtype=np.int64))
    (axis,) = normalize_dims(dim, a.ndim, "argmin")
    return Tensor._wrap(np.argmin(a.array, axis=axis, keepdims=keepdim).astype(np.int64, copy=False))


def any(a, dim=None, keepdim=False):
    return Tensor._wrap(np.asarray(np.any(a.array, axis=normalize_dims(dim, a.ndim, "any"), keepdims=keepdim)))


def all(a, dim=None, keepdim=False):
    return Tensor._wrap(np.asarray(np.all(a.array, axis=normalize_dims(dim, a.ndim, "all"), keepdims=keepdim)))


def softmax(a, dim=None, dtype=None):
    """exp(a) / sum(exp(a)) along ``dim``, shifted by the maximum so it never overflows."""
    a = _float_input(a, dtype)
    if dim is None:
        raise TypeError("softmax: pass dim= (the dimension whose entries sum to 1)")
    (axis,) = normalize_dims(dim, a.ndim, "softmax") or (0,)
    return Softmax.apply(a, axis=axis)


def log_softmax(a, dim=None, dtype=None):
    """a - logsumexp(a) along ``dim``: exact even where softmax underflows to 0."""
    a = _float_input(a, dtype)
    if dim is None:
        raise TypeError("log_softmax: pass dim= (the dimension to normalise over)")
    (axis,) = normalize_dims(dim, a.ndim, "log_softmax") or (0,)
    return LogSoftmax.apply(a, axis=axis)


def sort(a, dim=-1, descending=False):
    """(values, indices) sorted along ``dim``; values carry the gradient."""
    from glassgrad.ops.indexing import gather

    (axis,) = normalize_dims(dim, a.ndim, "sort")
    order = np.argsort(-a.array if descending else a.array, axis=axis, kind="stable")
    index = Tensor._wrap(order.astype(np.int64, copy=False))
    return ValuesIndices(gather(a, axis, index), index)


def median(a, dim=None, keepdim=False):
    """The lower median (the ((n - 1) // 2)-th smallest value); NaN where a NaN is present.

    No ``dim``: a 0-D tensor over all values. With ``dim``: (values, indices) along it.
    The gradient goes to the chosen element.
    """
    from glassgrad.ops.indexing import gather

    if dim is None:
        flat = a.reshape(-1)
        if flat.shape[0] == 0:
            raise RuntimeError("median() of an empty tensor is undefined; give a non-empty input")
        return median(flat, 0).values
    (axis,) = normalize_dims(dim, a.ndim, "median")
    values = a.array
    order = np.argsort(values, axis=axis, kind="stable")
    middle = (values.shape[axis] - 1) // 2
    chosen = np.take(order, [middle], axis=axis)
    if values.dtype.kind == "f":
        nans = np.isnan(values)
        has_nan = nans.any(axis=axis, keepdims=True)
        chosen = np.where(has_nan, np.argmax(nans, axis=axis, keepdims=True), chosen)
    index = Tensor._wrap(chosen.astype(np.int64, copy=False))
    out = gather(a, axis, index)
    if not keepdim:
        out, index = out.squeeze(axis), index.squeeze(axis)
    return ValuesIndices(out, index)


def argsort(a, dim=-1, descending=False):
    return sort(a, dim, descending).indices


def topk(a, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices."""
    from glassgrad.ops.indexing import gather

    (axis,) = normalize_dims(dim, a.ndim, "topk")
    if not 0 <= k <= a.shape[axis]:
        raise RuntimeError(f"topk: k={k} is out of range for dimension {dim} of size {a.shape[axis]}")
    order = np.argsort(-a.array if largest else a.array, axis=axis, kind="stable")
    index = Tensor._wrap(np.take(order, np.arange(k), axis=axis).astype(np.int64, copy=False))
    return ValuesIndices(gather(a, axis, index), index)


# -- the registry (glassgrad/ops/registry.py): names, methods, samples and tests ----------

_M = (3, 4)


def _reduce_samples(dims=True):
    samples = [Sample(_M), Sample(_M, 1), Sample(_M, -1, keepdim=True)]
    return samples + [Sample((2, 3, 2), dim=(0, 2))] if dims else samples


_WITH_NAN = np.array([[1.0, np.nan, -0.5], [np.nan, 2.0, 0.25]])
_SPARSE = np.array([[0.0, 1.5, 0.0], [-2.0, 0.0, 3.0]])

register(
    OpInfo("sum", sum, _reduce_samples() + [Sample(())]),
    OpInfo("mean", mean, _reduce_samples()),
    OpInfo("prod", prod, _reduce_samples(dims=False), domain=(0.5, 2.0)),
    OpInfo("max", max, [Sample(_M), Sample(_M, 1), Sample(_M, 0, keepdim=True), Sample(_M, _M)]),
    OpInfo("min", min, [Sample(_M), Sample(_M, 1), Sample(_M, 0, keepdim=True), Sample(_M, _M)]),
    OpInfo("amax", amax, _reduce_samples()),
    OpInfo("amin", amin, _reduce_samples()),
    OpInfo("var", var, _reduce_samples() + [Sample(_M, 1, correction=0), Sample(_M, 0, False)]),
    OpInfo("std", std, _reduce_samples() + [Sample(_M, 1, correction=0), Sample(_M, 0, False)]),
    OpInfo("var_mean", var_mean, [Sample(_M), Sample(_M, 1), Sample(_M, 0, keepdim=True, correction=0)], methods=()),
    OpInfo("std_mean", std_mean, [Sample(_M), Sample(_M, 1, keepdim=True), Sample(_M, 0, False)], methods=()),
    OpInfo("logsumexp", logsumexp, [Sample(_M, 1), Sample(_M, -1, keepdim=True), Sample((2, 3, 2), dim=(0, 2))]),
    OpInfo("norm", norm, [Sample(_M), Sample(_M, 1), Sample(_M, 3, 1), Sample(_M, float("inf"), 0, keepdim=True)]),
    OpInfo("nansum", nansum, _reduce_samples() + [Sample(_WITH_NAN), Sample(_WITH_NAN, 1, keepdim=True)]),
    OpInfo("nanmean", nanmean, _reduce_samples() + [Sample(_WITH_NAN), Sample(_WITH_NAN, 0)]),
    OpInfo(
        "count_nonzero",
        count_nonzero,
        [Sample(_SPARSE), Sample(_SPARSE, 1), Sample(_SPARSE, dim=(0, 1))],
        gradcheck=False,
    ),
    OpInfo("argmax", argmax, _reduce_samples(dims=False), gradcheck=False),
    OpInfo("argmin", argmin, _reduce_samples(dims=False), gradcheck=False),
    OpInfo(
        "any",
        any,
        [Sample(np.array([[True, False], [False, False]])), Sample(np.array([[1, 0], [0, 0]]), 1)],
        gradcheck=False,
    ),
    OpInfo(
        "all",
        all,
        [Sample(np.array([[True, False], [True, True]])), Sample(np.array([[1, 0], [2, 3]]), 0)],
        gradcheck=False,
    ),
    OpInfo("softmax", softmax, [Sample(_M, 1), Sample(_M, 0), Sample((2, 3, 2), dim=-1)]),
    OpInfo("log_softmax", log_softmax, [Sample(_M, 1), Sample(_M, 0), Sample((2, 3, 2), dim=-1)]),
    OpInfo("sort", sort, [Sample(_M), Sample(_M, 0), Sample(_M, 1, descending=True)]),
    OpInfo(
        "median",
        median,
        [
            Sample(_M),
            Sample((3, 5), 1),
            Sample(_M, 0, keepdim=True),
            Sample(np.array([[1.0, np.nan, 0.5], [2.0, 3.0, 1.0]]), 1),
        ],
    ),
    OpInfo("argsort", argsort, [Sample(_M), Sample(_M, 0, descending=True)], gradcheck=False),
    OpInfo("topk", topk, [Sample(_M, 2), Sample(_M, 2, 0, largest=False), Sample(_M, 3, sorted=True)]),
)
