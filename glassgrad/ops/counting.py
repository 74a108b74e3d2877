"""Counting and grids: unique, unique_consecutive, bincount, histc, searchsorted, bucketize,
tril_indices and triu_indices (no gradient), and meshgrid."""

import numpy as np

from glassgrad import _dtype
from glassgrad.ops.registry import OpInfo, Sample, register
from glassgrad.ops.utils import normalize_dims
from glassgrad.tensor import Tensor


def _results(values, inverse, counts, return_inverse, return_counts):
    out = [Tensor._wrap(values)]
    if return_inverse:
        out.append(Tensor._wrap(inverse.astype(np.int64, copy=False)))
    if return_counts:
        out.append(Tensor._wrap(counts.astype(np.int64, copy=False)))
    return out[0] if len(out) == 1 else tuple(out)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct elements (or slices along ``dim``), sorted; optionally where each input element
    went (``inverse``, shaped like the input, or like dimension ``dim``) and how often each occurs."""
    array = input.array
    if dim is None:
        values, inverse, counts = np.unique(array.reshape(-1), return_inverse=True, return_counts=True)
        inverse = inverse.reshape(array.shape)
    else:
        (axis,) = normalize_dims(dim, input.ndim, "unique")
        values, inverse, counts = np.unique(array, return_inverse=True, return_counts=True, axis=axis)
        inverse = inverse.reshape(-1)
    return _results(values, inverse, counts, return_inverse, return_counts)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse each run of equal consecutive elements (or slices along ``dim``) to one."""
    array = input.array
    if dim is None:
        moved, shape = array.reshape(-1, 1), array.shape
    else:
        (axis,) = normalize_dims(dim, input.ndim, "unique_consecutive")
        moved = np.moveaxis(array, axis, 0)
        shape = (array.shape[axis],)
        moved = moved.reshape(moved.shape[0], -1)
    n = moved.shape[0]
    starts = np.ones(n, dtype=bool)
    starts[1:] = np.any(moved[1:] != moved[:-1], axis=1)
    first = np.nonzero(starts)[0]
    counts = np.diff(np.append(first, n))
    inverse = (np.cumsum(starts) - 1).reshape(shape)
    if dim is None:
        values = array.reshape(-1)[first]
    else:
        values = np.take(array, first, axis=axis)
    return _results(values, inverse, counts, return_inverse, return_counts)


def bincount(input, weights=None, minlength=0):
    """How often each value 0, 1, 2, ... occurs in a 1-D non-negative integer tensor (or the sum of
    its ``weights``); at least ``minlength`` bins."""
    array = input.array
    if array.dtype.kind not in "iub":
        raise NotImplementedError(f'"bincount_cpu" not implemented for {input.dtype}; give an integer tensor')
    if array.ndim != 1 or (array.size and array.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return Tensor._wrap(np.bincount(array, minlength=minlength).astype(np.int64))
    w = weights.array if isinstance(weights, Tensor) else np.asarray(weights)
    dtype = np.float32 if w.dtype == np.float32 else np.float64  # as PyTorch: float stays, others double
    return Tensor._wrap(np.bincount(array, weights=w, minlength=minlength).astype(dtype))


def histc(input, bins=100, min=0, max=0):
    """Counts of ``input``'s elements in ``bins`` equal bins over [min, max] (the data's range when
    min == max); elements outside are ignored, the maximum counts in the last bin."""
    array = input.array
    if array.dtype.kind != "f":
        raise NotImplementedError(f'"histogram_cpu" not implemented for {input.dtype}; convert with .float()')
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    low, high = float(min), float(max)
    if low > high:
        raise RuntimeError("torch.histc: max must be larger than min")
    if low == high and array.size:
        low, high = float(array.min()), float(array.max())
    if low == high:
        low, high = low - 1, high + 1
    flat = array.reshape(-1)
    inside = flat[(flat >= low) & (flat <= high)]
    # PyTorch's rule: bin = floor((x - min) * bins / (max - min)), the maximum into the last bin.
    position = ((inside.astype(np.float64) - low) * bins / (high - low)).astype(np.int64)
    counts = np.bincount(np.minimum(position, bins - 1), minlength=bins)
    return Tensor._wrap(counts.astype(array.dtype))


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors: with ``indexing="ij"`` (the default) output k varies along
    dimension k; with "xy" the first two dimensions are swapped (as NumPy's default)."""
    from glassgrad.ops.shape import expand, reshape

    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    indexing = indexing or "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t.ndim}D")
    sizes = [t.numel() for t in tensors]
    order = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        order[0], order[1] = 1, 0
    shape = tuple(sizes[k] for k in order)
    grids = []
    for k, t in enumerate(tensors):
        view = [1] * len(tensors)
        view[order.index(k)] = sizes[k]
        grids.append(expand(reshape(t, tuple(view)), shape))
    return tuple(grids)


_INTS = np.array([[3, 1, 3], [1, 2, 2]])
_ROWS = np.array([[1, 2], [1, 2], [0, 5], [1, 2]])


def _side(right, side, op):
    if side is not None:
        if side not in ("left", "right"):
            raise ValueError(f"{op}: side={side!r} is not 'left' or 'right'")
        if right and side == "left":
            raise ValueError(f"{op}: right=True and side='left' contradict each other; give one")
        return side
    return "right" if right else "left"


def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None, sorter=None):
    """Where each of ``values`` would be inserted into the sorted last dimension of ``sorted_sequence``
    to keep it sorted (the first such place, or the last with ``right``); int64 (int32 with out_int32)."""
    how = _side(right, side, "searchsorted")
    seq = sorted_sequence.array
    if sorter is not None:
        seq = np.take_along_axis(seq, sorter.array if isinstance(sorter, Tensor) else np.asarray(sorter), axis=-1)
    vals = values.array if isinstance(values, Tensor) else np.asarray(values)
    if seq.ndim == 1:
        found = np.searchsorted(seq, vals, side=how)
    else:
        if vals.shape[:-1] != seq.shape[:-1]:
            raise RuntimeError(
                f"searchsorted: the leading dimensions of the sequence {seq.shape} and the values {vals.shape} "
                "must match (or give a 1-D sequence)"
            )
        rows = seq.reshape(-1, seq.shape[-1])
        wanted = vals.reshape(rows.shape[0], -1)
        found = np.stack([np.searchsorted(r, v, side=how) for r, v in zip(rows, wanted)]).reshape(vals.shape)
    return Tensor._wrap(np.asarray(found, dtype=np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each input value among the sorted 1-D ``boundaries``: i with
    boundaries[i-1] < x <= boundaries[i] (``right``: boundaries[i-1] <= x < boundaries[i])."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries must be 1-D, got shape {tuple(boundaries.shape)}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def _triangle_indices(rows, cols, offset, dtype, lower):
    r, c = np.indices((rows, cols)).reshape(2, -1)
    keep = (c - r <= offset) if lower else (c - r >= offset)
    return Tensor._wrap(np.stack([r[keep], c[keep]]).astype(_dtype.to_dtype(dtype).numpy if dtype else np.int64))


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, N) row and column indices of the lower triangle of a row x col matrix (diagonal ``offset``)."""
    return _triangle_indices(row, col, offset, dtype, lower=True)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, N) row and column indices of the upper triangle of a row x col matrix (diagonal ``offset``)."""
    return _triangle_indices(row, col, offset, dtype, lower=False)


_SORTED = np.array([1.0, 3.0, 3.0, 5.0, 9.0])
_PROBES = np.array([[0.0, 3.0, 4.0], [9.0, 10.0, 5.0]])

register(
    OpInfo(
        "searchsorted",
        searchsorted,
        [
            Sample(_SORTED, _PROBES),
            Sample(_SORTED, _PROBES, right=True),
            Sample(np.array([[1.0, 2.0, 4.0], [0.0, 5.0, 6.0]]), np.array([[2.0, 5.0], [5.0, -1.0]]), side="right"),
            Sample(_SORTED, 3.0, out_int32=True),
        ],
        methods=(),
        gradcheck=False,
    ),
    OpInfo(
        "bucketize",
        bucketize,
        [Sample(_PROBES, _SORTED), Sample(_PROBES, _SORTED, right=True)],
        methods=(),
        gradcheck=False,
    ),
    OpInfo(
        "tril_indices", tril_indices, [Sample(3, 4), Sample(4, 3, -1), Sample(3, 3, 1)], methods=(), gradcheck=False
    ),
    OpInfo(
        "triu_indices", triu_indices, [Sample(3, 4), Sample(4, 3, 1), Sample(3, 5, -2)], methods=(), gradcheck=False
    ),
    OpInfo(
        "unique",
        unique,
        [
            Sample(_INTS),
            Sample(_INTS, return_inverse=True, return_counts=True),
            Sample(_ROWS, dim=0, return_inverse=True),
        ],
        gradcheck=False,
    ),
    OpInfo(
        "unique_consecutive",
        unique_consecutive,
        [
            Sample(_INTS),
            Sample(_INTS, return_inverse=True, return_counts=True),
            Sample(_ROWS, dim=0, return_counts=True),
        ],
        gradcheck=False,
    ),
    OpInfo(
        "bincount",
        bincount,
        [Sample(np.array([1, 3, 3, 0])), Sample(np.array([1, 3, 3, 0]), minlength=6), Sample(np.array([2, 0]), (2,))],
        gradcheck=False,
    ),
    OpInfo("histc", histc, [Sample((20,)), Sample((4, 5), bins=4, min=-1, max=1), Sample(np.ones(3))], gradcheck=False),
    OpInfo(
        "meshgrid",
        meshgrid,
        [Sample((3,), (4,), indexing="ij"), Sample((3,), (4,), (2,), indexing="xy"), Sample((2,), (3,), indexing="xy")],
        methods=(),
    ),
)
