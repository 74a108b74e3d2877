"""Ops that pick, move or repeat elements: narrow, select, movedim, roll, flip, rot90,
repeat_interleave, tile."""

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.ops.registry import Arg, OpInfo, Sample, register
from glassgrad.ops.utils import normalize_dims
from glassgrad.tensor import Tensor


def _int(value):
    return int(value.item()) if isinstance(value, Tensor) else int(value)


def _dims(dims, more=()):
    """PyTorch's tuple-of-ints argument, also given as separate ints (the method form ``x.flip(0, 1)``)."""
    if more:
        return (int(dims), *(int(d) for d in more))
    if isinstance(dims, (int, np.integer)):
        return (int(dims),)
    return tuple(int(d) for d in dims)


class Roll(Function):
    def forward(self, a, shifts=(), axes=()):
        self.shifts, self.axes = shifts, axes
        return np.roll(a, shifts, axes)

    def backward(self, grad):
        return np.roll(grad, tuple(-s for s in self.shifts), self.axes)


class Flip(Function):
    def forward(self, a, axes=()):
        self.axes = axes
        return np.flip(a, axes).copy()

    def backward(self, grad):
        return np.flip(grad, self.axes)


class Rot90(Function):
    def forward(self, a, k=1, axes=(0, 1)):
        self.k, self.axes = k, axes
        return np.rot90(a, k, axes).copy()

    def backward(self, grad):
        return np.rot90(grad, -self.k, self.axes)


class RepeatInterleave(Function):
    """Each slice along ``axis`` repeated ``repeats[i]`` times; the gradient sums each run back."""

    def forward(self, a, repeats=None, axis=0):
        self.repeats, self.axis, self.length = repeats, axis, a.shape[axis]
        return np.repeat(a, repeats, axis)

    def backward(self, grad):
        repeats = np.broadcast_to(self.repeats, (self.length,))
        shape = list(grad.shape)
        shape[self.axis] = self.length
        out = np.zeros(shape, dtype=grad.dtype)
        kept = np.nonzero(repeats)[0]
        if kept.size:
            starts = np.concatenate([[0], np.cumsum(repeats)[:-1]])[kept]
            index = [slice(None)] * grad.ndim
            index[self.axis] = kept
            out[tuple(index)] = np.add.reduceat(grad, starts, axis=self.axis)
        return out


def narrow(input, dim, start, length):
    """The ``length`` elements of dimension ``dim`` from ``start`` on (negative ``start`` counts from
    the end); a view, as in PyTorch."""
    from glassgrad.ops.indexing import getitem

    (axis,) = normalize_dims(dim, input.ndim, "narrow")
    size, start, length = input.shape[axis], _int(start), _int(length)
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    if start < 0:
        start += size
    if length < 0 or start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return getitem(input, (slice(None),) * axis + (slice(start, start + length),))


def select(input, dim, index):
    """The slice at ``index`` of dimension ``dim``, with that dimension removed (``x.select(0, i)`` is ``x[i]``)."""
    from glassgrad.ops.indexing import getitem

    (axis,) = normalize_dims(dim, input.ndim, "select")
    size, index = input.shape[axis], _int(index)
    if not -size <= index < size:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {list(input.shape)} at dimension {dim}"
        )
    return getitem(input, (slice(None),) * axis + (index % size,))


def movedim(input, source, destination):
    """Move dimensions ``source`` (an int or a sequence) to the positions ``destination``; the others
    keep their order."""
    from glassgrad.ops.shape import permute

    source, destination = _dims(source), _dims(destination)
    if len(source) != len(destination):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(source)} dims) should contain the same "
            f"number of dims as destination ({list(destination)} dims)"
        )
    src = normalize_dims(source, input.ndim, "movedim") if source else ()
    dst = normalize_dims(destination, input.ndim, "movedim") if destination else ()
    for name, dims, given in (("source", src, source), ("destination", dst, destination)):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(given)})")
    order = [None] * input.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(k for k in range(input.ndim) if k not in src)
    order = [next(rest) if o is None else o for o in order]
    return permute(input, order)


def roll(input, shifts, dims=None):
    """Shift elements circularly by ``shifts`` along ``dims`` (of the flattened tensor when dims is None)."""
    shifts = _dims(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        from glassgrad.ops.shape import reshape

        return reshape(Roll.apply(reshape(input, (-1,)), shifts=shifts, axes=(0,)), tuple(input.shape))
    dims = _dims(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    return Roll.apply(input, shifts=shifts, axes=normalize_dims(dims, input.ndim, "roll"))


def flip(input, dims, *more):
    """Reverse the order of elements along ``dims`` (a copy, as in PyTorch)."""
    return Flip.apply(input, axes=normalize_dims(_dims(dims, more), input.ndim, "flip"))


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first towards the second."""
    dims = _dims(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = normalize_dims(dims, input.ndim, "rot90")
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} and dim1 = {dims[1]}")
    return Rot90.apply(input, k=int(k) % 4, axes=(d0, d1))


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (or each slice along ``dim``) ``repeats`` times, an int or one count per slice.

    ``repeat_interleave(counts)`` alone repeats 0, 1, 2, ... by the integer tensor ``counts``."""
    from glassgrad.ops.shape import reshape

    if repeats is None:
        counts = input.array
        return Tensor._wrap(np.repeat(np.arange(counts.shape[0], dtype=np.int64), counts))
    if dim is None:
        input, axis = reshape(input, (-1,)), 0
    else:
        (axis,) = normalize_dims(dim, input.ndim, "repeat_interleave")
    if isinstance(repeats, Tensor):
        counts = repeats.array.astype(np.int64).reshape(-1)
        if counts.size == 1:
            counts = counts[0]
        elif counts.size != input.shape[axis]:
            raise RuntimeError(
                "repeats must have the same size as input along dim, but got "
                f"repeats.size(0) = {counts.size} and input.size({axis}) = {input.shape[axis]}"
            )
    else:
        counts = int(repeats)
    if np.any(np.asarray(counts) < 0):
        raise RuntimeError("Repeats must be non-negative")
    out = RepeatInterleave.apply(input, repeats=counts, axis=axis)
    if output_size is not None and out.shape[axis] != output_size:
        raise RuntimeError(f"repeat_interleave: output_size={output_size} but the repeats give {out.shape[axis]}")
    return out


def tile(input, dims, *more):
    """Repeat the whole tensor ``dims[i]`` times along each dimension; missing leading counts are 1."""
    from glassgrad.ops.shape import repeat

    dims = _dims(dims, more)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


_M = (3, 4)

register(
    OpInfo("narrow", narrow, [Sample(_M, 0, 1, 2), Sample(_M, 1, -3, 2), Sample(_M, -1, 0, 0)]),
    OpInfo("select", select, [Sample(_M, 0, 1), Sample(_M, 1, -1), Sample((2, 3, 2), 2, 0)]),
    OpInfo(
        "movedim",
        movedim,
        [Sample((2, 3, 4), 0, 2), Sample((2, 3, 4), Arg((0, 1)), Arg((2, 0))), Sample((2, 3, 4), -1, 0)],
        methods=("movedim", "moveaxis"),
        aliases=("movedim", "moveaxis"),
    ),
    OpInfo("roll", roll, [Sample(_M, 1), Sample(_M, -1, 1), Sample(_M, Arg((1, 2)), Arg((0, 1)))]),
    OpInfo("flip", flip, [Sample(_M, Arg((0,))), Sample(_M, Arg([0, 1])), Sample((2, 3, 2), dims=(-1, 0))]),
    OpInfo(
        "rot90", rot90, [Sample(_M), Sample(_M, 2), Sample(_M, -1), Sample((2, 3, 4), 3, Arg([2, 1])), Sample(_M, 5)]
    ),
    OpInfo(
        "repeat_interleave",
        repeat_interleave,
        [Sample(_M, 2), Sample(_M, 2, 1), Sample(_M, np.array([1, 0, 2]), 0), Sample(_M, np.array([3]), dim=-1)],
    ),
    OpInfo("tile", tile, [Sample(_M, Arg((2,))), Sample(_M, Arg((2, 1))), Sample((2,), Arg((2, 1, 3)))]),
)
