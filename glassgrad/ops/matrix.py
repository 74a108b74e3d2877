"""Triangles and diagonals of matrices: tril, triu, diagonal, diag_embed, diag, trace."""

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.ops.registry import OpInfo, Sample, register
from glassgrad.ops.utils import normalize_dims


def _diagonal_index(shape, offset, dim1, dim2):
    """An index that picks the ``offset`` diagonal of dimensions (dim1, dim2) out of ``shape``;
    what it picks has the other dimensions in order, then the diagonal (NumPy's and PyTorch's layout)."""
    rows, cols = shape[dim1], shape[dim2]
    length = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
    others = [k for k in range(len(shape)) if k not in (dim1, dim2)]
    out_ndim = len(others) + 1

    def placed(values, position):
        return values.reshape((1,) * position + (-1,) + (1,) * (out_ndim - position - 1))

    diagonal = np.arange(length)
    index = []
    for k in range(len(shape)):
        if k == dim1:
            index.append(placed(diagonal + max(-offset, 0), out_ndim - 1))
        elif k == dim2:
            index.append(placed(diagonal + max(offset, 0), out_ndim - 1))
        else:
            index.append(placed(np.arange(shape[k]), others.index(k)))
    return tuple(index)


class Triangle(Function):
    """The lower (or upper) triangle of the last two dimensions; the gradient keeps the same triangle."""

    def forward(self, a, diagonal=0, upper=False):
        self.cut = (np.triu if upper else np.tril), diagonal
        return self.cut[0](a, diagonal)

    def backward(self, grad):
        cut, diagonal = self.cut
        return cut(grad, diagonal)


class Diagonal(Function):
    def forward(self, a, offset=0, dim1=0, dim2=1):
        self.shape = a.shape
        self.index = _diagonal_index(a.shape, offset, dim1, dim2)
        return a[self.index]

    def backward(self, grad):
        out = np.zeros(self.shape, dtype=grad.dtype)
        out[self.index] = grad
        return out


class DiagEmbed(Function):
    """A tensor with the last dimension of ``a`` on the ``offset`` diagonal of (dim1, dim2), zeros elsewhere."""

    def forward(self, a, shape=(), offset=0, dim1=0, dim2=1):
        self.index = _diagonal_index(shape, offset, dim1, dim2)
        out = np.zeros(shape, dtype=a.dtype)
        out[self.index] = a
        return out

    def backward(self, grad):
        return grad[self.index]


def _check_matrix_dims(dim1, dim2, ndim, op):
    d1, d2 = normalize_dims((dim1, dim2), ndim, op)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def tril(input, diagonal=0):
    """The lower triangle of the last two dimensions (..., m, n): elements above ``diagonal`` become 0."""
    if input.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return Triangle.apply(input, diagonal=int(diagonal), upper=False)


def triu(input, diagonal=0):
    """The upper triangle of the last two dimensions (..., m, n): elements below ``diagonal`` become 0."""
    if input.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return Triangle.apply(input, diagonal=int(diagonal), upper=True)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The ``offset`` diagonal of dimensions (dim1, dim2), as the last dimension of the result."""
    d1, d2 = _check_matrix_dims(dim1, dim2, input.ndim, "diagonal")
    return Diagonal.apply(input, offset=int(offset), dim1=d1, dim2=d2)


_diagonal = diagonal  # diag's argument is called diagonal, as in PyTorch


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """(..., n) -> a tensor with ``input``'s last dimension on the diagonal of (dim1, dim2) of the result,
    whose diagonal dimensions have size n + |offset|."""
    ndim = input.ndim + 1
    d1, d2 = _check_matrix_dims(dim1, dim2, ndim, "diag_embed")
    n = input.shape[-1] + abs(int(offset))
    rest = iter(input.shape[:-1])
    shape = tuple(n if k in (d1, d2) else next(rest) for k in range(ndim))
    return DiagEmbed.apply(input, shape=shape, offset=int(offset), dim1=d1, dim2=d2)


def diag(input, diagonal=0):
    """(n,) -> the (n + |diagonal|)-square matrix with ``input`` on that diagonal; (m, n) -> that diagonal."""
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return _diagonal(input, diagonal, 0, 1)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def trace(input):
    """The sum of the main diagonal of a matrix (integers sum to int64, as in PyTorch)."""
    from glassgrad.ops.reduction import sum

    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return sum(diagonal(input))


register(
    OpInfo("tril", tril, [Sample((3, 4)), Sample((3, 4), 1), Sample((2, 3, 3), diagonal=-1)], inplace=("tril_",)),
    OpInfo("triu", triu, [Sample((3, 4)), Sample((3, 4), 1), Sample((2, 3, 3), diagonal=-1)], inplace=("triu_",)),
    OpInfo(
        "diagonal",
        diagonal,
        [
            Sample((3, 4)),
            Sample((3, 4), 1),
            Sample((3, 4), -2),
            Sample((2, 3, 4), 1, 0, 2),
            Sample((2, 3, 4), dim1=-1, dim2=1),
        ],
    ),
    OpInfo(
        "diag_embed",
        diag_embed,
        [Sample((3,)), Sample((2, 3), 1), Sample((2, 3), -1, 0, 2), Sample((2, 3), offset=2, dim1=-1, dim2=0)],
    ),
    OpInfo("diag", diag, [Sample((3,)), Sample((3,), 1), Sample((3, 4)), Sample((3, 4), -1), Sample((4, 3), 2)]),
    OpInfo("trace", trace, [Sample((3, 3)), Sample((3, 4)), Sample(np.arange(6).reshape(2, 3))]),
)
