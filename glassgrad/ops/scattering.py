"""Writing into a copy of a tensor at given positions: scatter, scatter_add, scatter_reduce,
index_add, index_copy, masked_scatter (each with its in-place form, ``x.scatter_(...)``)."""

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.ops.registry import OpInfo, Sample, register
from glassgrad.ops.utils import normalize_dims
from glassgrad.tensor import Tensor


def _coordinates(index, axis):
    """Full coordinates of the elements ``index`` names along ``axis`` (the others are their own)."""
    coords = list(np.indices(index.shape, sparse=True))
    coords[axis] = index
    return tuple(coords)


def _front(src, shape):
    """The leading block of ``src`` of ``shape`` (PyTorch reads only that much of a larger src)."""
    return src[tuple(slice(0, n) for n in shape)]


def _gather(grad, coords, src_shape, index_shape):
    """The gradient of src: grad at the scattered positions, zeros where src was not read."""
    out = np.zeros(src_shape, dtype=grad.dtype)
    out[tuple(slice(0, n) for n in index_shape)] = grad[coords]
    return out


class Scatter(Function):
    def forward(self, a, src, index=None, axis=0):
        self.coords, self.src_shape, self.index_shape = _coordinates(index, axis), np.shape(src), index.shape
        out = a.copy()
        out[self.coords] = _front(src, index.shape) if np.ndim(src) else src
        return out

    def backward(self, grad):
        grad_a = grad.copy()
        grad_a[self.coords] = 0  # overwritten elements no longer reach the output
        grad_src = _gather(grad, self.coords, self.src_shape, self.index_shape) if self.needs_input_grad[1] else None
        return grad_a, grad_src


class ScatterReduce(Function):
    """Combine src into a copy of ``a`` with sum, prod, mean, amax or amin at the indexed positions."""

    def forward(self, a, src, index=None, axis=0, reduce="sum", include_self=True):
        coords = _coordinates(index, axis)
        self.coords, self.src_shape, self.reduce = coords, src.shape, reduce
        src = _front(src, index.shape)
        ufunc = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce]
        hit = np.zeros(a.shape, dtype=bool)
        hit[coords] = True
        out = a.copy()
        if not include_self:
            identity = {"sum": 0, "mean": 0, "prod": 1, "amax": -np.inf, "amin": np.inf}[reduce]
            out[hit] = identity
        ufunc.at(out, coords, src)
        counts = np.zeros(a.shape, dtype=np.int64)
        np.add.at(counts, coords, 1)
        counts += 1 if include_self else 0
        if reduce == "mean":
            out = np.where(hit, out / np.maximum(counts, 1), out).astype(a.dtype, copy=False)
            if a.dtype.kind in "iu":
                out = np.floor_divide(out, 1).astype(a.dtype)
        self.include_self, self.counts, self.hit = include_self, counts, hit
        self.save_for_backward(a, src, out)
        return out

    def backward(self, grad):
        a, src, out = self.saved_tensors
        coords, reduce = self.coords, self.reduce
        kept = np.where(self.hit, 1.0 if self.include_self else 0.0, 1.0)  # does a's element reach out?
        if reduce in ("sum", "mean"):
            scale = grad / np.where(self.hit, np.maximum(self.counts, 1), 1) if reduce == "mean" else grad
            grad_a, grad_src = scale * kept, scale[coords]
        elif reduce == "prod":
            # Products without zeros: d out / d x = out / x for every factor x.
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_a = np.where(self.hit, grad * out / a, grad) * kept
                grad_src = (grad * out)[coords] / src
        else:
            # The extreme's gradient is shared evenly by every element equal to it, as in PyTorch.
            ties = np.where(self.hit & (kept > 0), (a == out).astype(grad.dtype), 0.0)
            np.add.at(ties, coords, (src == out[coords]).astype(grad.dtype))
            share = grad / np.where(ties > 0, ties, 1)
            grad_a = np.where(self.hit, share * (a == out) * kept, grad)
            grad_src = share[coords] * (src == out[coords])
        return grad_a, _gather_block(grad_src, self.src_shape)


def _gather_block(block, src_shape):
    out = np.zeros(src_shape, dtype=block.dtype)
    out[tuple(slice(0, n) for n in block.shape)] = block
    return out


class IndexAdd(Function):
    def forward(self, a, source, index=None, axis=0, alpha=1, copy=False):
        self.index, self.axis, self.alpha, self.copy = index, axis, alpha, copy
        out = a.copy()
        moved = np.moveaxis(out, axis, 0)
        values = np.moveaxis(source, axis, 0) if np.ndim(source) else source
        if copy:
            moved[index] = values
        else:
            np.add.at(moved, index, values * alpha if alpha != 1 else values)
        return out

    def backward(self, grad):
        grad_a = grad
        if self.copy:
            grad_a = grad.copy()
            np.moveaxis(grad_a, self.axis, 0)[self.index] = 0
        grad_source = np.take(grad, self.index, axis=self.axis)
        return grad_a, grad_source * self.alpha if self.alpha != 1 else grad_source


class MaskedScatter(Function):
    def forward(self, a, source, mask=None):
        self.mask, self.source_shape = np.broadcast_to(mask, a.shape), source.shape
        count = int(self.mask.sum())
        if count > source.size:
            raise RuntimeError(
                f"masked_scatter: the mask selects {count} elements but source has only {source.size}; "
                "give a source with at least as many elements as the mask has True values"
            )
        out = a.copy()
        out[self.mask] = source.reshape(-1)[:count]
        return out

    def backward(self, grad):
        grad_source = np.zeros(int(np.prod(self.source_shape)), dtype=grad.dtype)
        picked = grad[self.mask]
        grad_source[: picked.size] = picked
        return np.where(self.mask, 0, grad), grad_source.reshape(self.source_shape)


def _index(index, op, ndim=None):
    if not isinstance(index, Tensor) or index.array.dtype != np.int64:
        got = index.dtype if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, got {got}")
    if ndim is not None and index.ndim != ndim and index.array.size:
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as self tensor")
    return index.array


def _check_scatter(input, dim, index, src, op):
    (axis,) = normalize_dims(dim, input.ndim, op) or (0,)
    array = _index(index, op, max(input.ndim, 1))
    size = input.shape[axis] if input.ndim else 1
    if array.size and (array.min() < -size or array.max() >= size):
        raise RuntimeError(f"{op}(): index {int(array.max())} is out of bounds for dimension {dim} with size {size}")
    array = array % max(size, 1)
    for k, n in enumerate(array.shape):
        if (k != axis and n > input.shape[k]) or (isinstance(src, Tensor) and n > src.shape[k]):
            raise RuntimeError(
                f"{op}(): Expected index {tuple(array.shape)} to be smaller than self {tuple(input.shape)} apart "
                f"from dimension {dim}"
                + (f" and to be smaller size than src {tuple(src.shape)}" if src is not None else "")
            )
    return axis, array


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """A copy of ``input`` with ``src[i][j]`` written at ``[index[i][j]][j]`` (for dim 0), or ``value`` there.

    ``index`` has input's number of dimensions; src may be larger than index (only its leading block
    is read). Where an index repeats, which write wins is unspecified (as in PyTorch)."""
    if reduce is not None:
        reduce = {"add": "sum", "multiply": "prod"}.get(reduce)
        if reduce is None:
            raise RuntimeError("reduce argument must be either add or multiply.")
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() needs src (a tensor) or value (a number)")
    axis, array = _check_scatter(input, dim, index, src if isinstance(src, Tensor) else None, "scatter")
    if reduce is not None:
        src = src if isinstance(src, Tensor) else Tensor._wrap(np.full(array.shape, src, dtype=input.array.dtype))
        return ScatterReduce.apply(input, src, index=array, axis=axis, reduce=reduce)
    if not isinstance(src, Tensor):
        src = np.asarray(src, dtype=input.array.dtype)
    return Scatter.apply(input, src, index=array, axis=axis)


def scatter_add(input, dim, index, src):
    """A copy of ``input`` with every ``src[i][j]`` added at ``[index[i][j]][j]`` (for dim 0); repeats add up."""
    axis, array = _check_scatter(input, dim, index, src, "scatter_add")
    return ScatterReduce.apply(input, src, index=array, axis=axis, reduce="sum")


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Like ``scatter_add`` with ``reduce`` one of "sum", "prod", "mean", "amax", "amin"; with
    ``include_self=False`` the indexed elements of ``input`` take no part."""
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    axis, array = _check_scatter(input, dim, index, src, "scatter_reduce")
    return ScatterReduce.apply(input, src, index=array, axis=axis, reduce=reduce, include_self=include_self)


def _check_index_op(input, dim, index, source, op):
    (axis,) = normalize_dims(dim, input.ndim, op) or (0,)
    array = _index(index, op)
    if array.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    size = input.shape[axis] if input.ndim else 1
    if array.size and (array.min() < -size or array.max() >= size):
        raise IndexError(f"{op}(): index out of range in self: an index is outside [-{size}, {size - 1}]")
    expected = input.shape[:axis] + (array.size,) + input.shape[axis + 1 :] if input.ndim else (array.size,)
    if tuple(source.shape) != tuple(expected) and source.ndim:
        raise RuntimeError(
            f"{op}(): source of shape {tuple(source.shape)} does not match the {array.size} indexed slices of "
            f"self {tuple(input.shape)} along dimension {dim}: expected {tuple(expected)}"
        )
    return axis, array.reshape(-1) % max(size, 1)


def index_add(input, dim, index, source, *, alpha=1):
    """A copy of ``input`` with ``alpha * source[i]`` added to slice ``index[i]`` of dimension ``dim``."""
    axis, array = _check_index_op(input, dim, index, source, "index_add")
    return IndexAdd.apply(input, source, index=array, axis=axis, alpha=alpha)


def index_copy(input, dim, index, source):
    """A copy of ``input`` with slice ``index[i]`` of dimension ``dim`` replaced by ``source[i]``."""
    axis, array = _check_index_op(input, dim, index, source, "index_copy")
    return IndexAdd.apply(input, source, index=array, axis=axis, copy=True)


def masked_scatter(input, mask, source):
    """A copy of ``input`` whose elements where ``mask`` (broadcast) holds are, in order, those of ``source``."""
    mask = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if mask.dtype != np.bool_:
        raise RuntimeError(f"masked_scatter_: expected BoolTensor for mask, got {mask.dtype}")
    return MaskedScatter.apply(input, source, mask=mask)


_M = (3, 4)
_ROWS = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])  # no repeats down a column: scatter's result is defined
_REPEATS = np.array([[0, 1, 2, 0], [0, 0, 1, 0], [2, 1, 1, 0]])
_MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])

register(
    OpInfo(
        "scatter",
        scatter,
        [
            Sample(_M, 0, _ROWS, (2, 4)),
            Sample(_M, 0, _ROWS, (3, 5)).skip_torch_backward("torch's backward fails for a src larger than index"),
            Sample(_M, 1, _ROWS[:, :3] + 1, (2, 3)),
            Sample(_M, 0, _ROWS, value=1.5),
            Sample(_M, 0, _ROWS, (2, 4), reduce="add").skip_torch_backward("torch: scatter(reduce=) has no derivative"),
        ],
        inplace=("scatter_",),
    ),
    OpInfo(
        "scatter_add",
        scatter_add,
        [
            Sample(_M, 0, _REPEATS, (3, 4)),
            Sample(_M, 1, _ROWS, (2, 5)).skip_torch_backward("torch's backward fails for a src larger than index"),
        ],
        inplace=("scatter_add_",),
    ),
    OpInfo(
        "scatter_reduce",
        scatter_reduce,
        [Sample(_M, 0, _REPEATS, (3, 4), reduce) for reduce in ("sum", "prod", "mean", "amax", "amin")]
        + [Sample(_M, 0, _REPEATS, (3, 4), reduce, include_self=False) for reduce in ("sum", "mean", "amax", "prod")],
        inplace=("scatter_reduce_",),
        domain=(0.5, 2.0),
    ),
    OpInfo(
        "index_add",
        index_add,
        [Sample(_M, 0, np.array([0, 2, 0]), (3, 4)), Sample(_M, 1, np.array([3, 1]), (3, 2), alpha=-2.0)],
        inplace=("index_add_",),
    ),
    OpInfo(
        "index_copy",
        index_copy,
        [Sample(_M, 0, np.array([2, 0]), (2, 4)), Sample(_M, 1, np.array([3, 1]), (3, 2))],
        inplace=("index_copy_",),
    ),
    OpInfo(
        "masked_scatter",
        masked_scatter,
        [Sample(_M, _MASK, (3, 4)), Sample(_M, _MASK[0], (9,))],
        inplace=("masked_scatter_",),
    ),
)
