"""Indexing: slicing, integer-array and boolean indices, gather, index_select.

Backward of an index scatters the gradient with ``np.add.at`` wherever an index may
repeat, so repeated indices accumulate, as they must.
"""

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.backend import memory
from glassgrad.ops.registry import OpInfo, Sample, register
from glassgrad.ops.utils import normalize_dims
from glassgrad.tensor import Tensor


def normalize_index(index):
    """Turn Tensors inside an index into NumPy arrays; keep slices, ints, None and Ellipsis."""
    if isinstance(index, tuple):
        return tuple(_index_part(i) for i in index)
    return _index_part(index)


def _index_part(part):
    if isinstance(part, Tensor):
        part = part.array
    if isinstance(part, list):
        part = np.asarray(part)
    if isinstance(part, np.ndarray) and part.dtype.kind not in "biu":
        raise IndexError(f"tensors used as indices must be integer or bool, got {part.dtype}")
    return part


def _is_basic(index):
    """True when NumPy indexing returns a view (no arrays in the index)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(not isinstance(p, np.ndarray) for p in parts)


def _may_repeat(index):
    """True when an integer array in the index could name an element twice."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype != np.bool_ for p in parts)


class GetItem(Function):
    """``a[index]``: basic slicing gives a view; integer arrays and masks give a copy.

    Backward scatters the gradient into zeros of the input's shape, accumulating
    where an integer index repeats."""

    is_view = True

    def forward(self, a, index=None):
        self.shape, self.index = a.shape, index
        self.basic = _is_basic(index)
        try:
            out = a[index]
        except IndexError as e:
            raise IndexError(f"index {describe_index(index)} does not fit a tensor of shape {a.shape}: {e}") from None
        if self.basic and type(out) is not np.ndarray:
            # A full integer index gives a NumPy scalar (a copy); with a trailing ``...``
            # it gives a 0-d view, so in-place changes reach the indexed tensor as in PyTorch.
            parts = index if isinstance(index, tuple) else (index,)
            if not any(p is Ellipsis for p in parts):
                out = a[parts + (Ellipsis,)]
        return out

    def backward(self, grad):
        out = memory.zeros(self.shape, grad.dtype)
        if _may_repeat(self.index):
            np.add.at(out, self.index, grad)
        else:
            out[self.index] = grad
        return out


class IndexPut(Function):
    """``a[index] = value`` as an out-of-place op, for assignments that need gradients."""

    def forward(self, a, value, index=None):
        self.index = index
        self.value_shape = np.shape(value)
        out = a.copy()
        out[index] = value
        return out

    def backward(self, grad):
        grad_a = grad.copy()
        grad_a[self.index] = 0
        grad_value = grad[self.index]
        if grad_value.shape != self.value_shape:
            grad_value = np.broadcast_to(grad_value, np.broadcast_shapes(grad_value.shape, self.value_shape))
        return grad_a, grad_value


class Gather(Function):
    def forward(self, a, index=None, axis=0):
        self.shape, self.index, self.axis = a.shape, index, axis
        _check_range(index, a.shape[axis], "gather", axis)
        try:
            return np.take_along_axis(a, index, axis=axis)
        except (IndexError, ValueError) as e:
            raise RuntimeError(
                f"gather: index of shape {index.shape} does not fit the input of shape {a.shape} "
                f"along dimension {axis}: {e}"
            ) from None

    def backward(self, grad):
        out = np.zeros(self.shape, dtype=grad.dtype)
        # Build full coordinate arrays so np.add.at accumulates repeated indices.
        coords = list(np.indices(self.index.shape, sparse=True))
        coords[self.axis] = self.index
        np.add.at(out, tuple(coords), grad)
        return out


class IndexSelect(Function):
    def forward(self, a, index=None, axis=0):
        self.shape, self.index, self.axis = a.shape, index, axis
        _check_range(index, a.shape[axis], "index_select", axis)
        return np.take(a, index, axis=axis)

    def backward(self, grad):
        out = np.zeros(self.shape, dtype=grad.dtype)
        moved = np.moveaxis(out, self.axis, 0)
        np.add.at(moved, self.index, np.moveaxis(grad, self.axis, 0))
        return out


def _check_range(index, size, op, axis):
    if index.size and (index.min() < -size or index.max() >= size):
        bad = index[(index < -size) | (index >= size)].flat[0]
        raise IndexError(f"{op}: index {bad} is out of range for dimension {axis} of size {size}")


def describe_index(index):
    parts = index if isinstance(index, tuple) else (index,)
    return "[" + ", ".join(_describe_part(p) for p in parts) + "]"


def _describe_part(part):
    if isinstance(part, np.ndarray):
        kind = "bool mask" if part.dtype == np.bool_ else "index tensor"
        return f"<{kind} of shape {part.shape}>"
    if isinstance(part, slice):
        return ":".join("" if v is None else str(v) for v in (part.start, part.stop, part.step)).rstrip(":") or ":"
    return "..." if part is Ellipsis else repr(part)


def getitem(a, index):
    """``a[index]`` with basic slicing, integer arrays and boolean masks."""
    return GetItem.apply(a, index=normalize_index(index))


def index_put(a, index, value):
    """A copy of ``a`` with ``a[index] = value``, differentiable in both."""
    if not isinstance(value, Tensor):
        value = Tensor._of(value)
    return IndexPut.apply(a, value, index=normalize_index(index))


def gather(a, dim, index):
    """out[i][j] = a[index[i][j]][j] for dim=0 (and likewise for other dims)."""
    (axis,) = normalize_dims(dim, a.ndim, "gather")
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    if idx.ndim != a.ndim:
        raise RuntimeError(f"gather: index has {idx.ndim} dimensions but the input has {a.ndim}; they must match")
    return Gather.apply(a, index=idx.astype(np.int64, copy=False), axis=axis)


def index_select(a, dim, index):
    """The entries of ``a`` at the 1-D ``index`` along ``dim``."""
    (axis,) = normalize_dims(dim, a.ndim, "index_select")
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    if idx.ndim != 1:
        raise RuntimeError(f"index_select: index must be 1-D, got shape {idx.shape}")
    return IndexSelect.apply(a, index=idx.astype(np.int64, copy=False), axis=axis)


def index_fill(input, dim, index, value):
    """input with ``value`` at the positions ``index`` (1-D or 0-D int) along ``dim``; no gradient there."""
    (axis,) = normalize_dims(dim, input.ndim, "index_fill") if input.ndim else (0,)
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise RuntimeError(
            f"index_fill: index must be a 0-D or 1-D integer tensor, got {idx.dtype} of shape {idx.shape}"
        )
    size = input.shape[axis] if input.ndim else 1
    if idx.size and (idx.min() < -size or idx.max() >= size):
        raise IndexError(f"index_fill: index {idx.tolist()} is out of range for dimension {dim} of size {size}")
    chosen = np.zeros(size, dtype=bool)
    chosen[idx] = True
    shape = [1] * input.ndim
    if input.ndim:
        shape[axis] = size
    return input.masked_fill(Tensor._wrap(chosen.reshape(shape)), value)


def masked_select(a, mask):
    """The 1-D tensor of a's values where the bool ``mask`` is True, both broadcast together."""
    from glassgrad.ops.shape import expand

    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_select: expected a bool mask, but got {m.dtype}; compare first (x > 0)")
    shape = np.broadcast_shapes(a.shape, m.shape)
    return getitem(expand(a, shape), Tensor._wrap(np.broadcast_to(m, shape)))


def take_along_dim(a, indices, dim=None):
    """out = a's values at ``indices`` along ``dim``, the other dimensions broadcast (``gather`` that
    broadcasts); with no ``dim``, over the flattened input."""
    from glassgrad.ops.shape import expand, reshape

    idx = indices.array if isinstance(indices, Tensor) else np.asarray(indices)
    if dim is None:
        return gather(reshape(a, (-1,)), 0, idx.reshape(-1))
    (axis,) = normalize_dims(dim, a.ndim, "take_along_dim")
    if idx.ndim != a.ndim:
        raise RuntimeError(
            f"take_along_dim: indices have {idx.ndim} dimensions but the input has {a.ndim}; they must match"
        )
    others = list(
        np.broadcast_shapes(
            a.shape[:axis] + (1,) + a.shape[axis + 1 :], idx.shape[:axis] + (1,) + idx.shape[axis + 1 :]
        )
    )
    a_shape, idx_shape = list(others), list(others)
    a_shape[axis], idx_shape[axis] = a.shape[axis], idx.shape[axis]
    return gather(expand(a, tuple(a_shape)), axis, np.broadcast_to(idx, tuple(idx_shape)))


# -- the registry (glassgrad/ops/registry.py): names, methods, samples and tests ----------


def masked_fill(input, mask, value):
    """input with ``value`` where the bool ``mask`` (broadcast to input's shape) is True."""
    return input.masked_fill(mask, value)


_FILL_MASK = np.array([[True, False, False, True], [False, False, True, False], [True, True, False, False]])

register(
    OpInfo(
        "masked_fill",
        masked_fill,
        [Sample((3, 4), _FILL_MASK, -1.5), Sample((3, 4), _FILL_MASK[0], 0.25)],
        methods=(),
        inplace=("masked_fill_",),
    ),
    OpInfo(
        "gather",
        gather,
        [Sample((3, 4), 1, np.array([[0, 1], [2, 3], [1, 1]])), Sample((3, 4), 0, np.zeros((1, 4), np.int64))],
    ),
    OpInfo(
        "index_fill",
        index_fill,
        [
            Sample((3, 4), 1, np.array([0, 2]), -1.5),
            Sample((3, 4), 0, np.array([2, -3]), 0.5),
            Sample((3, 4), -1, np.array(1), 2.0),
        ],
        inplace=("index_fill_",),
    ),
    OpInfo(
        "masked_select",
        masked_select,
        [Sample((3, 4), _FILL_MASK), Sample((4,), _FILL_MASK), Sample((3, 4), _FILL_MASK[0])],
    ),
    OpInfo(
        "take_along_dim",
        take_along_dim,
        [
            Sample((3, 4), np.array([[0, 3], [1, 1], [2, 0]]), 1),
            Sample((3, 4), np.array([[2, 0, 1, 1]]), 0),
            Sample((3, 4), np.array([5, 0, 11])),
        ],
    ),
    OpInfo("index_select", index_select, [Sample((3, 4), 1, np.array([0, 2, 2])), Sample((3, 4), 0, np.array([1]))]),
)
