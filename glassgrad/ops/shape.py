"""Shape operations: reshape, permute, squeeze, expand, repeat, cat, stack, split, pad.

Where NumPy can, these return views, so they cost no copy forward.
"""

import builtins

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.backend import memory
from glassgrad.ops.registry import Arg, OpInfo, Sample, register
from glassgrad.ops.utils import normalize_dims
from glassgrad.tensor import Tensor


def _resolve_shape(shape, numel, op, source):
    shape = tuple(int(s) for s in shape)
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise RuntimeError(f"{op}: only one dimension can be -1, got shape {shape}")
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if unknown:
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: shape {shape} is invalid for a tensor of shape {source} ({numel} elements)")
        shape = shape[: unknown[0]] + (numel // known,) + shape[unknown[0] + 1 :]
    elif known != numel:
        raise RuntimeError(f"{op}: shape {shape} is invalid for a tensor of shape {source} ({numel} elements)")
    return shape


class Reshape(Function):
    is_view = True

    def forward(self, a, shape=()):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.shape)


class Permute(Function):
    is_view = True

    def forward(self, a, dims=()):
        self.dims = dims
        return a.transpose(dims)

    def backward(self, grad):
        return grad.transpose(np.argsort(self.dims))


class Expand(Function):
    is_view = True

    def forward(self, a, shape=()):
        return np.broadcast_to(a, shape)

    def backward(self, grad):
        return grad  # the engine sums it back to the input's shape


class UnfoldDim(Function):
    """Windows of ``size`` every ``step`` along ``dim``, as a new last dimension (a copy, not a view)."""

    def forward(self, a, dim=0, size=1, step=1):
        self.shape, self.dim, self.size, self.step = a.shape, dim, size, step
        windows = np.lib.stride_tricks.sliding_window_view(a, size, axis=dim)
        picked = [slice(None)] * a.ndim
        picked[dim] = slice(None, None, step)
        return np.ascontiguousarray(windows[tuple(picked)])

    def backward(self, grad):
        out = np.zeros(self.shape, dtype=grad.dtype)
        count = grad.shape[self.dim]
        for j in range(self.size):  # position j of every window: distinct targets, so += is exact
            target = [slice(None)] * len(self.shape)
            target[self.dim] = slice(j, j + self.step * (count - 1) + 1, self.step)
            out[tuple(target)] += grad[..., j]
        return out


class Repeat(Function):
    def forward(self, a, repeats=()):
        self.shape = a.shape
        self.repeats = repeats
        return np.tile(a, repeats)

    def backward(self, grad):
        # Split each axis into (repeat, size) and sum the repeats away.
        lead = len(self.repeats) - len(self.shape)
        shape = (1,) * lead + tuple(self.shape)
        split = []
        for r, s in zip(self.repeats, shape):
            split += [r, s]
        summed = grad.reshape(split).sum(axis=tuple(range(0, 2 * len(shape), 2)))
        return summed.reshape(self.shape)


class Concatenate(Function):
    def forward(self, *arrays, axis=0):
        self.axis = axis
        self.bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        if len(arrays) < 2 or any(a.ndim != arrays[0].ndim for a in arrays):
            return np.concatenate(arrays, axis=axis)  # NumPy's own errors for a bad call
        # The output from the array cache: DenseNet concatenates megabytes per layer, and fresh
        # memory's page faults took 5x the copy's time (benchmarks/README.md, "Concatenation").
        shape = list(arrays[0].shape)
        shape[axis] = sum(a.shape[axis] for a in arrays)
        out = memory.empty(shape, np.result_type(*arrays))
        return np.concatenate(arrays, axis=axis, out=out)

    def backward(self, grad):
        return tuple(np.split(grad, self.bounds, axis=self.axis))


class Stack(Function):
    def forward(self, *arrays, axis=0):
        self.axis = axis
        return np.stack(arrays, axis=axis)

    def backward(self, grad):
        return tuple(np.moveaxis(grad, self.axis, 0))


class Pad(Function):
    """Constant padding: ``widths`` ((before, after) per dimension, none negative) of ``value``."""

    def forward(self, a, widths=(), value=0.0):
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
        out = np.empty(tuple(lo + n + hi for (lo, hi), n in zip(widths, a.shape)), dtype=a.dtype)
        # The border slabs, then the inside: faster than np.pad (benchmarks/README.md, "Backend").
        for axis, ((lo, _), n) in enumerate(zip(widths, a.shape)):
            before = (slice(None),) * axis
            out[before + (slice(0, lo),)] = value
            out[before + (slice(lo + n, None),)] = value
        out[self.slices] = a
        return out

    def backward(self, grad):
        return grad[self.slices]


def reshape(a, shape):
    """The same elements in a new shape (one dimension may be -1); a view when possible."""
    shape = _resolve_shape(shape, a.array.size, "reshape", tuple(a.shape))
    if shape == a.array.shape:
        return a
    return Reshape.apply(a, shape=shape)


def view(a, shape):
    """Like reshape, but only where no copy is needed (as PyTorch's view requires)."""
    shape = _resolve_shape(shape, a.array.size, "view", tuple(a.shape))
    try:
        probe = a.array.view()
        probe.shape = shape
    except AttributeError:
        raise RuntimeError(
            f"view: a tensor of shape {tuple(a.shape)} with these strides cannot be viewed as {shape} "
            "without a copy; use .reshape(...) or call .contiguous() first"
        ) from None
    if shape == a.array.shape:
        return a
    return Reshape.apply(a, shape=shape)


def flatten(a, start_dim=0, end_dim=-1):
    """Merge dimensions start_dim..end_dim into one."""
    if a.ndim == 0:
        return reshape(a, (1,))
    start, end = normalize_dims((start_dim, end_dim), a.ndim, "flatten")
    if start > end:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    # The merged size explicitly, not -1, which cannot be inferred when another dimension is 0.
    merged = 1
    for size in a.shape[start : end + 1]:
        merged *= size
    return reshape(a, a.shape[:start] + (merged,) + a.shape[end + 1 :])


def unflatten(a, dim, sizes):
    (axis,) = normalize_dims(dim, a.ndim, "unflatten")
    return reshape(a, a.shape[:axis] + tuple(sizes) + a.shape[axis + 1 :])


def permute(a, dims):
    """Reorder the dimensions: ``dims`` is a permutation of range(ndim)."""
    axes = normalize_dims(tuple(dims), a.ndim, "permute")
    if sorted(axes) != list(range(a.ndim)):
        raise RuntimeError(f"permute: {tuple(dims)} is not a permutation of the {a.ndim} dimensions")
    return Permute.apply(a, dims=axes)


def transpose(a, dim0, dim1):
    """Swap two dimensions."""
    if a.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return a
    d0, d1 = normalize_dims((dim0, dim1), a.ndim, "transpose")
    dims = list(range(a.ndim))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(a, dims=tuple(dims))


def t(a):
    """The transpose of a matrix; a 0-D or 1-D tensor is returned as it is."""
    return a.t()


def broadcast_to(a, shape):
    """``expand`` by PyTorch's other name: (.., 1, ..) -> shape, without copying."""
    return expand(a, shape)


def unfold(a, dimension, size, step):
    """Tensor.unfold: (.., n, ..) -> (.., (n - size) // step + 1, .., size), the windows along ``dimension``."""
    if a.ndim == 0:  # PyTorch: the one window of a scalar is (1,)
        if size != 1 or dimension not in (0, -1):
            raise RuntimeError(
                f"unfold: a 0-D tensor has one window of size 1 at dimension 0, not {size} at {dimension}"
            )
        return reshape(a, (1,))
    (axis,) = normalize_dims(dimension, a.ndim, "unfold")
    if size > a.shape[axis]:
        raise RuntimeError(
            f"unfold: the window size {size} is larger than dimension {dimension} of shape {tuple(a.shape)}"
        )
    if step <= 0:
        raise RuntimeError(f"unfold: step must be positive, but got {step}")
    return UnfoldDim.apply(a, dim=axis, size=size, step=step)


def _at_least(tensors, ndim, op):
    tensors = _tensors(tensors, op)
    if ndim == 1:
        return [reshape(t, (1,)) if t.ndim == 0 else t for t in tensors]
    return [reshape(t, (1, -1)) if t.ndim < 2 else t for t in tensors]


def _atleast(tensors, ndim, op):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    tensors = _tensors(tensors, op)
    # PyTorch's (and NumPy's) placements: a vector is a row in 2-D and (1, n, 1) in 3-D.
    grow = {
        (1, 0): lambda t: (1,),
        (2, 0): lambda t: (1, 1),
        (2, 1): lambda t: (1, t.shape[0]),
        (3, 0): lambda t: (1, 1, 1),
        (3, 1): lambda t: (1, t.shape[0], 1),
        (3, 2): lambda t: (*t.shape, 1),
    }
    out = [reshape(t, grow[ndim, t.ndim](t)) if t.ndim < ndim else t for t in tensors]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*tensors):
    """Each tensor with at least 1 dimension (a 0-D one becomes (1,)); one tensor in, one out."""
    return _atleast(tensors, 1, "atleast_1d")


def atleast_2d(*tensors):
    """Each tensor with at least 2 dimensions: () -> (1, 1), (n,) -> (1, n)."""
    return _atleast(tensors, 2, "atleast_2d")


def atleast_3d(*tensors):
    """Each tensor with at least 3 dimensions: () -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    return _atleast(tensors, 3, "atleast_3d")


def column_stack(tensors):
    """Stack as columns: 0-D and 1-D tensors become (n, 1) columns, then concatenate along dimension 1."""
    tensors = _tensors(tensors, "column_stack")
    return cat([reshape(t, (-1, 1)) if t.ndim < 2 else t for t in tensors], 1)


def dstack(tensors):
    """Stack along the third dimension, after atleast_3d."""
    tensors = _tensors(tensors, "dstack")
    return cat([atleast_3d(t) for t in tensors], 2)


def hstack(tensors):
    """Concatenate along the columns: 1-D tensors end to end, others along dimension 1."""
    tensors = _at_least(tensors, 1, "hstack")
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Stack rows: 1-D tensors of n become (1, n), then concatenate along dimension 0."""
    return cat(_at_least(tensors, 2, "vstack"), 0)


def broadcast_shapes(*shapes):
    """The shape that ``shapes`` broadcast to, as a Size; an error names them if they do not."""
    from glassgrad.tensor import Size

    try:
        return Size(np.broadcast_shapes(*(tuple(s) if isinstance(s, (tuple, list)) else (s,) for s in shapes)))
    except ValueError:
        raise RuntimeError(f"broadcast_shapes: the shapes {list(shapes)} cannot be broadcast together") from None


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape (views, as expand)."""
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


def diff(a, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along ``dim``: out[i] = a[i + 1] - a[i], applied n times;
    ``prepend``/``append`` are joined to a along dim first."""
    (axis,) = normalize_dims(dim, a.ndim, "diff")
    parts = [x for x in (prepend, a, append) if x is not None]
    if len(parts) > 1:
        a = cat([x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x, a.array.dtype)) for x in parts], axis)
    for _ in range(n):
        length = a.shape[axis]
        if length == 0:
            break
        later = [slice(None)] * a.ndim
        earlier = [slice(None)] * a.ndim
        later[axis], earlier[axis] = slice(1, None), slice(None, length - 1)
        if a.array.dtype == np.bool_:
            a = a[tuple(later)].logical_xor(a[tuple(earlier)])
        else:
            a = a[tuple(later)] - a[tuple(earlier)]
    return a


def squeeze(a, dim=None):
    """Remove dimensions of size 1 (all of them, or ``dim`` if it has size 1)."""
    if dim is None:
        shape = tuple(s for s in a.shape if s != 1)
    else:
        axes = normalize_dims(dim, a.ndim, "squeeze")
        shape = tuple(s for i, s in enumerate(a.shape) if not (i in axes and s == 1))
    return reshape(a, shape)


def unsqueeze(a, dim):
    """Insert a dimension of size 1 at ``dim`` (negative counts from the end of the result)."""
    (axis,) = normalize_dims(dim, a.ndim + 1, "unsqueeze")
    return Reshape.apply(a, shape=a.shape[:axis] + (1,) + a.shape[axis:])


def expand(a, shape):
    """Broadcast to ``shape`` without copying; -1 keeps a dimension's size."""
    shape = tuple(shape)
    lead = len(shape) - a.ndim
    if lead < 0:
        raise RuntimeError(f"expand: shape {shape} has fewer dimensions than the tensor {tuple(a.shape)}")
    for i in range(lead):
        if shape[i] == -1:
            raise RuntimeError(f"expand: -1 is not allowed for the new leading dimension {i} of {shape}; give its size")
    full = tuple(a.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    for i, s in enumerate(a.shape):
        if s != 1 and s != full[lead + i]:
            raise RuntimeError(
                f"expand: the size {s} of dimension {i} of {tuple(a.shape)} must match {full[lead + i]} "
                f"in {shape}, or be 1"
            )
    if full == a.array.shape:
        return a
    return Expand.apply(a, shape=full)


def repeat(a, repeats):
    """Tile the tensor ``repeats[i]`` times along each dimension (a copy)."""
    if len(repeats) < a.ndim:
        raise RuntimeError(
            f"repeat: {len(repeats)} repeat counts given for a tensor with {a.ndim} dimensions; "
            "give at least one per dimension"
        )
    return Repeat.apply(a, repeats=tuple(repeats))


def contiguous(a):
    """A C-contiguous tensor: itself when already so, else a copy that keeps the graph."""
    if a.array.flags.c_contiguous:
        return a
    from glassgrad.ops.elementwise import Clone

    out = Clone.apply(a)
    out.array = np.ascontiguousarray(out.array)
    return out


def _tensors(tensors, op):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{op}: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: element {i} is a {type(t).__name__}, expected a Tensor")
    return tensors


def cat(tensors, dim=0):
    """Join tensors along an existing dimension; all other sizes must agree."""
    tensors = [t for t in _tensors(tensors, "cat") if not (t.ndim == 1 and t.shape[0] == 0)] or list(tensors)[:1]
    (axis,) = normalize_dims(dim, tensors[0].ndim, "cat")
    first = tensors[0].shape
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != len(first) or any(t.shape[d] != first[d] for d in range(len(first)) if d != axis):
            raise RuntimeError(
                f"cat: tensor {i} has shape {tuple(t.shape)}, but tensor 0 has shape {tuple(first)}; "
                f"all sizes except dimension {dim} must match"
            )
    if len(tensors) == 1:
        return tensors[0]
    return Concatenate.apply(*tensors, axis=axis)


concat = cat
concatenate = cat


def stack(tensors, dim=0):
    """Join same-shaped tensors along a new dimension."""
    tensors = _tensors(tensors, "stack")
    first = tensors[0].shape
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != first:
            raise RuntimeError(f"stack: tensor {i} has shape {tuple(t.shape)}, but tensor 0 has {tuple(first)}")
    (axis,) = normalize_dims(dim, tensors[0].ndim + 1, "stack")
    return Stack.apply(*tensors, axis=axis)


def split(a, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed sizes."""
    from glassgrad.ops.indexing import getitem

    (axis,) = normalize_dims(dim, a.ndim, "split")
    length = a.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise RuntimeError(f"split: split_size must be positive, got {size}")
        sizes = [builtins.min(size, length - start) for start in range(0, length, size)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != length:
            raise RuntimeError(
                f"split: sizes {sizes} add up to {builtins.sum(sizes)}, not to the length {length} of dimension {dim}"
            )
    pieces, start = [], 0
    for size in sizes:
        index = (slice(None),) * axis + (slice(start, start + size),)
        pieces.append(getitem(a, index))
        start += size
    return tuple(pieces)


def chunk(a, chunks, dim=0):
    """Split into ``chunks`` pieces of equal size (the last may be smaller)."""
    (axis,) = normalize_dims(dim, a.ndim, "chunk")
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be positive, got {chunks}")
    size = -(-a.shape[axis] // chunks)
    return split(a, builtins.max(size, 1), dim)


def unbind(a, dim=0):
    """The slices along ``dim``, with that dimension removed."""
    (axis,) = normalize_dims(dim, a.ndim, "unbind")
    return tuple(squeeze(p, axis) for p in split(a, 1, axis))


def pad(a, pad, mode="constant", value=0.0):
    """Pad the last dimensions: ``pad = (left, right, top, bottom, ...)``, last dimension first.

    Negative amounts crop, as in PyTorch.
    """
    if mode != "constant":
        raise ValueError(f"pad: mode {mode!r} is not supported here; glassgrad.nn.functional.pad has the others")
    if len(pad) % 2 or len(pad) // 2 > a.ndim:
        raise RuntimeError(f"pad: {tuple(pad)} must hold pairs for at most {a.ndim} dimensions")
    widths = [(0, 0)] * a.ndim
    crops = [slice(None)] * a.ndim
    for i in range(len(pad) // 2):
        lo, hi = int(pad[2 * i]), int(pad[2 * i + 1])
        axis = a.ndim - 1 - i
        if a.shape[axis] + lo + hi < 0:
            raise RuntimeError(f"pad: {tuple(pad)} crops dimension {axis} of size {a.shape[axis]} below zero")
        widths[axis] = (builtins.max(lo, 0), builtins.max(hi, 0))
        crops[axis] = slice(-builtins.min(lo, 0), a.shape[axis] + builtins.min(hi, 0))
    if any(c != slice(None) for c in crops):
        from glassgrad.ops.indexing import getitem

        a = getitem(a, tuple(crops))
    return Pad.apply(a, widths=tuple(widths), value=value)


# -- the registry (glassgrad/ops/registry.py): names, methods, samples and tests ----------

_M, _C = (3, 4), (2, 3, 2)

register(
    # Tensor.reshape/permute/expand/repeat take sizes as *args too, so tensor.py keeps those methods.
    OpInfo(
        "reshape", reshape, [Sample(_M, shape=(4, 3)), Sample(_M, shape=(-1,)), Sample(_M, Arg((2, -1, 2)))], methods=()
    ),
    OpInfo("flatten", flatten, [Sample(_C), Sample(_C, 1), Sample(_C, start_dim=0, end_dim=1), Sample(())]),
    OpInfo("unflatten", unflatten, [Sample((2, 6), 1, Arg((2, 3))), Sample((6,), 0, sizes=(3, -1))]),
    OpInfo("permute", permute, [Sample(_C, dims=(2, 0, 1)), Sample(_M, Arg((1, 0)))], methods=()),
    OpInfo(
        "transpose",
        transpose,
        [Sample(_C, 0, 2), Sample(_M, 1, 0), Sample(_M, -1, -2)],
        aliases=("transpose", "swapaxes", "swapdims"),
        methods=("transpose", "swapaxes", "swapdims"),
    ),
    OpInfo("t", t, [Sample(_M), Sample((4,)), Sample(())], methods=()),
    OpInfo(
        "broadcast_to",
        broadcast_to,
        [Sample((4,), Arg((3, 4))), Sample((3, 1), Arg((2, 3, 5))), Sample(_M, Arg((-1, 4)))],
    ),
    OpInfo("squeeze", squeeze, [Sample((3, 1, 4)), Sample((3, 1, 4), 1), Sample((3, 1, 4), 0)]),
    OpInfo("unsqueeze", unsqueeze, [Sample(_M, 0), Sample(_M, -1), Sample((), 0)]),
    OpInfo(
        "expand", expand, [Sample((3, 1), Arg((3, 4))), Sample((4,), Arg((2, -1)))], methods=(), torch="Tensor.expand"
    ),
    OpInfo(
        "repeat", repeat, [Sample(_M, Arg((2, 1))), Sample((2,), Arg((2, 1, 3)))], methods=(), torch="Tensor.repeat"
    ),
    OpInfo(
        "cat",
        cat,
        [Sample([_M, (2, 4)]), Sample([_M, _M, (3, 1)], 1), Sample([_M], dim=-1)],
        methods=(),
        aliases=("cat", "concat", "concatenate"),
    ),
    OpInfo("stack", stack, [Sample([_M, _M]), Sample([_M, _M, _M], dim=2)], methods=()),
    OpInfo("broadcast_tensors", broadcast_tensors, [Sample(_M, (4,)), Sample((3, 1), (1, 5), (5,))], methods=()),
    OpInfo("diff", diff, [Sample((5,)), Sample(_M, 2, 0), Sample(_M, 1, 1, (3, 1), (3, 2))]),
    OpInfo("atleast_1d", atleast_1d, [Sample(()), Sample(_M), Sample((), (2,))], methods=()),
    OpInfo("atleast_2d", atleast_2d, [Sample(()), Sample((4,)), Sample(_C)], methods=()),
    OpInfo("atleast_3d", atleast_3d, [Sample(()), Sample((4,)), Sample(_M), Sample(_C), Sample((2,), _M)], methods=()),
    OpInfo("column_stack", column_stack, [Sample([(3,), _M[:1] + (2,)]), Sample([(4,), (4,)])], methods=()),
    OpInfo("dstack", dstack, [Sample([_M, _M]), Sample([(4,), (4,)])], methods=()),
    OpInfo("hstack", hstack, [Sample([_M, (3, 2)]), Sample([(4,), (2,)])], methods=()),
    OpInfo("vstack", vstack, [Sample([_M, (2, 4)]), Sample([(4,), (4,)]), Sample([(4,), _M])], methods=()),
    OpInfo(
        "unfold",
        unfold,
        [Sample((7,), 0, 3, 2), Sample(_C, 1, 2, 1), Sample((2, 8), -1, 4, 4), Sample((), 0, 1, 1)],
        aliases=(),
        torch="Tensor.unfold",
    ),
    OpInfo("split", split, [Sample((5, 4), 2), Sample((5, 4), Arg([2, 3])), Sample((5, 4), 3, 1)]),
    OpInfo("chunk", chunk, [Sample((5, 4), 2), Sample((5, 4), 3, 1)]),
    OpInfo("unbind", unbind, [Sample(_M), Sample(_M, 1)]),
)
