"""``glassgrad.linalg``: inverse, determinant, solve, Cholesky, eigh, svd, qr and the norms.

Matrices are the last two dimensions; leading dimensions are a batch. Gradients follow the
standard matrix-calculus results (for eigh and Cholesky of a symmetric input, the gradient is
symmetrised, as PyTorch's). svd and qr give values, but their U/V/Q/R carry no gradient yet.
"""

import collections

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.ops.registry import Arg, OpInfo, Sample, register

EighResult = collections.namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
SVDResult = collections.namedtuple("SVDResult", ["U", "S", "Vh"])
QRResult = collections.namedtuple("QRResult", ["Q", "R"])


def _t(x):
    return np.swapaxes(x, -1, -2)


def _square(a, op):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError(
            f"linalg.{op}: A must be batches of square matrices, but they are {a.shape[-2] if a.ndim > 1 else 1} "
            f"by {a.shape[-1] if a.ndim else 1} matrices"
        )


def _at_least_matrix(a, op):
    if a.ndim < 2:
        raise RuntimeError(f"linalg.{op}: The input tensor A must have at least 2 dimensions.")


def _lapack(fn, *arrays, op):
    try:
        return fn(*arrays)
    except np.linalg.LinAlgError as e:
        raise RuntimeError(f"linalg.{op}: {e} (the matrix is singular or not positive-definite)") from None


class Inv(Function):
    def forward(self, a):
        out = _lapack(np.linalg.inv, a, op="inv")
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved_tensors
        return -_t(out) @ grad @ _t(out)


class Det(Function):
    def forward(self, a):
        out = np.linalg.det(a)
        self.save_for_backward(a, out)
        return out

    def backward(self, grad):
        a, out = self.saved_tensors
        # d det(A) / dA = det(A) * A^-T (A is invertible where the gradient is asked for).
        return (grad * out)[..., None, None] * _t(_lapack(np.linalg.inv, a, op="det"))


class Solve(Function):
    """X with A X = B, for B of shape (..., n, k)."""

    def forward(self, a, b):
        out = _lapack(np.linalg.solve, a, b, op="solve")
        self.save_for_backward(a, out)
        return out

    def backward(self, grad):
        a, out = self.saved_tensors
        grad_b = np.linalg.solve(_t(a), grad)
        return -grad_b @ _t(out), grad_b


class Cholesky(Function):
    def forward(self, a, upper=False):
        lower = _lapack(np.linalg.cholesky, a, op="cholesky")
        self.upper = upper
        self.save_for_backward(lower)
        return _t(lower) if upper else lower

    def backward(self, grad):
        (lower,) = self.saved_tensors
        if self.upper:
            grad = _t(grad)
        # A = L L^T: grad_A = L^-T Phi(L^T grad) L^-1 (Phi: lower triangle, halved diagonal), symmetrised.
        phi = np.tril(_t(lower) @ grad)
        phi[..., np.arange(phi.shape[-1]), np.arange(phi.shape[-1])] *= 0.5
        inverse = np.linalg.inv(lower)
        g = _t(inverse) @ phi @ inverse
        return 0.5 * (g + _t(g))


class EighValues(Function):
    def forward(self, a, uplo="L"):
        values, vectors = np.linalg.eigh(a, UPLO=uplo)
        self.save_for_backward(vectors)
        return values

    def backward(self, grad):
        (vectors,) = self.saved_tensors
        return (vectors * grad[..., None, :]) @ _t(vectors)


class EighVectors(Function):
    def forward(self, a, uplo="L"):
        values, vectors = np.linalg.eigh(a, UPLO=uplo)
        self.save_for_backward(values, vectors)
        return vectors

    def backward(self, grad):
        values, vectors = self.saved_tensors
        gap = values[..., None, :] - values[..., :, None]  # lambda_j - lambda_i
        n = values.shape[-1]
        gap[..., np.arange(n), np.arange(n)] = np.inf  # no contribution from i == j
        inner = (_t(vectors) @ grad) / gap
        g = vectors @ inner @ _t(vectors)
        return 0.5 * (g + _t(g))


class SingularValues(Function):
    def forward(self, a):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        self.save_for_backward(u, vh)
        return s

    def backward(self, grad):
        u, vh = self.saved_tensors
        return (u * grad[..., None, :]) @ vh


class _NoGradient(Function):
    """A factor of a decomposition whose gradient is not implemented: using it in a loss raises."""

    def forward(self, a, value=None, what=""):
        self.what = what
        return value

    def backward(self, grad):
        raise RuntimeError(
            f"linalg: the gradient through {self.what} is not implemented in glassgrad; "
            "losses of singular values (linalg.svdvals) and of eigh are differentiable"
        )


def inv(A):
    """The inverse of each square matrix (..., n, n)."""
    _square(A, "inv")
    return Inv.apply(A)


def det(A):
    """The determinant of each square matrix: (..., n, n) -> (...)."""
    _square(A, "det")
    return Det.apply(A)


def solve(A, B, *, left=True):
    """X with A X = B (or X A = B when left=False); B is (..., n, k) or a vector (..., n)."""
    from glassgrad.ops.shape import squeeze, unsqueeze

    _square(A, "solve")
    if not left:
        return solve(A.mT, B.mT).mT
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vector:
        B = unsqueeze(B, -1)
    if B.shape[-2] != A.shape[-1]:
        raise RuntimeError(
            f"linalg.solve: Incompatible shapes of A and B for the equation AX = B ({A.shape[-2]}x{A.shape[-1]} "
            f"and {B.shape[-2]}x{B.shape[-1]})"
        )
    out = Solve.apply(A, B)
    return squeeze(out, -1) if vector else out


def cholesky(A, *, upper=False):
    """L lower-triangular with A = L L^T, for symmetric positive-definite A (..., n, n)."""
    _square(A, "cholesky")
    return Cholesky.apply(A, upper=upper)


def eigh(A, UPLO="L"):
    """(eigenvalues ascending, eigenvectors as columns) of symmetric matrices (..., n, n); reads the
    lower triangle (or the upper with UPLO="U")."""
    _square(A, "eigh")
    return EighResult(EighValues.apply(A, uplo=UPLO), EighVectors.apply(A, uplo=UPLO))


def eigvalsh(A, UPLO="L"):
    """The eigenvalues, ascending, of symmetric matrices (..., n, n)."""
    _square(A, "eigvalsh")
    return EighValues.apply(A, uplo=UPLO)


def svdvals(A):
    """The singular values, descending: (..., m, n) -> (..., min(m, n))."""
    _at_least_matrix(A, "svdvals")
    return SingularValues.apply(A)


def svd(A, full_matrices=True):
    """U, S, Vh with A = U diag(S) Vh; S is differentiable (as svdvals), U and Vh are not yet."""
    _at_least_matrix(A, "svd")
    u, _, vh = np.linalg.svd(A.array, full_matrices=full_matrices)
    return SVDResult(
        _NoGradient.apply(A, value=u, what="svd's U"),
        SingularValues.apply(A),
        _NoGradient.apply(A, value=vh, what="svd's Vh"),
    )


def qr(A, mode="reduced"):
    """Q, R with A = Q R (Q orthonormal columns, R upper-triangular); no gradient yet."""
    _at_least_matrix(A, "qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', or 'complete'"
        )
    q, r = np.linalg.qr(A.array, mode="complete" if mode == "complete" else "reduced")
    q = np.zeros((*A.shape[:-2], 0, 0), dtype=r.dtype) if mode == "r" else q
    return QRResult(_NoGradient.apply(A, value=q, what="qr's Q"), _NoGradient.apply(A, value=r, what="qr's R"))


def _dims(dim):
    return None if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """(sum |x|^ord)^(1/ord) over ``dim`` (all elements by default); ord may be inf, -inf or 0."""
    from glassgrad.ops.elementwise import abs as abs_
    from glassgrad.ops.elementwise import cast, ne, pow, sqrt
    from glassgrad.ops.reduction import amax, amin, sum

    if dtype is not None:
        from glassgrad import _dtype

        x = cast(x, _dtype.to_dtype(dtype).numpy)
    if x.array.dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point tensor as input. Got {x.dtype}")
    dim = _dims(dim)
    if ord == float("inf"):
        return amax(abs_(x), dim, keepdim)
    if ord == -float("inf"):
        return amin(abs_(x), dim, keepdim)
    if ord == 0:
        return cast(sum(ne(x, 0), dim, keepdim), x.array.dtype)
    if ord == 2:
        return sqrt(sum(x * x, dim, keepdim))
    if ord == 1:
        return sum(abs_(x), dim, keepdim)
    return pow(sum(pow(abs_(x), ord), dim, keepdim), 1.0 / ord)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """The matrix norm of each matrix in dims ``dim``: "fro", "nuc", 1, -1, 2, -2, inf or -inf."""
    from glassgrad.ops.elementwise import abs as abs_
    from glassgrad.ops.rearrange import movedim
    from glassgrad.ops.reduction import amax, amin, sum
    from glassgrad.ops.shape import unsqueeze
    from glassgrad.ops.utils import normalize_dims

    _at_least_matrix(A, "matrix_norm")
    if dtype is not None:
        from glassgrad import _dtype
        from glassgrad.ops.elementwise import cast

        A = cast(A, _dtype.to_dtype(dtype).numpy)
    d0, d1 = normalize_dims(tuple(dim), A.ndim, "matrix_norm")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in (1, -1, float("inf"), -float("inf")):
        rows, cols = (d0, d1) if ord in (1, -1) else (d1, d0)
        extreme = amax if ord > 0 else amin
        total = sum(abs_(A), rows, True)
        out = extreme(total, cols, True)
        return out if keepdim else sum(out, (d0, d1))  # sum over two size-1 dims drops them
    if ord in ("nuc", 2, -2):
        s = svdvals(movedim(A, (d0, d1), (-2, -1)))
        out = sum(s, -1) if ord == "nuc" else (amax(s, -1) if ord == 2 else amin(s, -1))
        if keepdim:
            for d in sorted((d0, d1)):
                out = unsqueeze(out, d)
        return out
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector norm (1-D input, or one ``dim``) or a matrix norm (2-D input, or two ``dim``s);
    with neither ord nor dim, the 2-norm of all elements."""
    dims = _dims(dim)
    if ord is None:
        if dims is not None and len(dims) == 2:
            return matrix_norm(A, "fro", dims, keepdim, dtype=dtype)
        return vector_norm(A, 2, dims, keepdim, dtype=dtype)
    if dims is None:
        if A.ndim not in (1, 2):
            raise RuntimeError(
                f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.ndim}D."
            )
        dims = tuple(range(A.ndim))
    if len(dims) == 2:
        return matrix_norm(A, ord, dims, keepdim, dtype=dtype)
    return vector_norm(A, ord, dims, keepdim, dtype=dtype)


_SPD = Sample((3, 3)).prepared(lambda a: [a @ a.mT + 1.0])  # a a^T plus a rank-one PSD part: positive-definite
_SYM = Sample((3, 3)).prepared(lambda a: [a + a.mT])
_BATCH_SYM = Sample((2, 3, 3)).prepared(lambda a: [a + a.mT])


def _spd(*extra, **kwargs):
    return Sample((2, 3, 3), *extra, **kwargs).prepared(lambda a, *rest: [a @ a.mT + 1.0, *rest])


def _op(name, fn, samples, **options):
    """An entry of torch.linalg: no Tensor method unless named, float32 LAPACK builds differ in their last digits."""
    options.setdefault("methods", ())
    return OpInfo(name, fn, samples, float32_tolerance=(1e-4, 1e-5), **options)


register(
    _op("linalg.inv", inv, [Sample((3, 3)), Sample((2, 3, 3))], aliases=("linalg.inv", "inverse")),
    _op(
        "linalg.det",
        det,
        [Sample((3, 3)), Sample((2, 3, 3)), Sample((1, 1))],
        methods=("det",),
        aliases=("linalg.det", "det"),
    ),
    _op(
        "linalg.solve",
        solve,
        [Sample((3, 3), (3, 2)), Sample((2, 3, 3), (2, 3)), Sample((3, 3), (3,)), Sample((3, 3), (2, 3), left=False)],
        aliases=("linalg.solve",),
    ),
    _op("linalg.cholesky", cholesky, [_SPD, _spd(), _spd(upper=True)], aliases=("linalg.cholesky",)),
    # The signs of eigenvectors are LAPACK's choice: tests/ops/test_decompositions.py compares them with torch.
    _op("linalg.eigh", eigh, [_SYM, _BATCH_SYM], aliases=("linalg.eigh",), torch=None),
    _op("linalg.eigvalsh", eigvalsh, [_SYM, _BATCH_SYM], aliases=("linalg.eigvalsh",)),
    _op("linalg.svdvals", svdvals, [Sample((3, 4)), Sample((2, 4, 3))], aliases=("linalg.svdvals",)),
    _op(
        "linalg.svd",
        svd,
        [Sample((3, 4), full_matrices=False), Sample((2, 4, 3)), Sample((3, 3))],
        aliases=("linalg.svd",),
        gradcheck=False,  # U and Vh have no gradient yet (S has: see svdvals)
        torch=None,  # the signs of singular vectors are LAPACK's choice: tests/ops/test_decompositions.py
    ),
    _op(
        "linalg.qr",
        qr,
        [Sample((4, 3)), Sample((3, 4), mode="complete")],
        aliases=("linalg.qr",),
        gradcheck=False,
        torch=None,
    ),
    _op(
        "linalg.vector_norm",
        vector_norm,
        [
            Sample((3, 4)),
            Sample((3, 4), 1),
            Sample((3, 4), 3, -1, True),
            Sample((3, 4), float("inf"), Arg((0, 1))),
            Sample((3, 4), -float("inf")),
            Sample((3, 4), 0.5, 0),
        ],
        aliases=("linalg.vector_norm",),
    ),
    _op(
        "linalg.matrix_norm",
        matrix_norm,
        [
            Sample((3, 4)),
            Sample((2, 3, 4), "nuc"),
            Sample((3, 4), 1),
            Sample((3, 4), -1, keepdim=True),
            Sample((3, 4), float("inf")),
            Sample((2, 3, 4), 2),
            Sample((3, 4), -2),
            Sample((3, 2, 4), "fro", Arg((0, 2)), True),
        ],
        aliases=("linalg.matrix_norm",),
    ),
    _op(
        "linalg.norm",
        norm,
        [
            Sample((3, 4)),
            Sample((3, 4), dim=1),
            Sample((4,), 3),
            Sample((3, 4), "nuc"),
            Sample((3, 4), None, Arg((0, 1))),
            Sample((2, 3, 4), 1, Arg((1, 2)), True),
        ],
        aliases=("linalg.norm",),
    ),
)
