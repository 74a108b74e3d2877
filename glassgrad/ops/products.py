"""``mm``, ``bmm``, ``mv``, ``dot`` and ``outer``: ``matmul`` restricted to one rank, with PyTorch's checks and
messages; ``addmm``, ``addmv`` and ``baddbmm``: ``beta * input + alpha * product``.

``matmul`` broadcasts and accepts any rank; these do not, and code ported from PyTorch relies on
them failing loudly (``bmm`` on matrices is a bug in the caller, not a batch of one).
"""

from glassgrad.ops.elementwise import add, mul, sub
from glassgrad.ops.linalg import matmul
from glassgrad.ops.reduction import norm
from glassgrad.ops.registry import OpInfo, Sample, register


def mm(input, mat2):
    """(n, m) @ (m, p) -> (n, p); both must be matrices."""
    if input.ndim != 2:
        raise RuntimeError(f"self must be a matrix (mm got a {input.ndim}-D tensor of shape {tuple(input.shape)})")
    if mat2.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix (mm got a {mat2.ndim}-D tensor of shape {tuple(mat2.shape)})")
    if input.shape[1] != mat2.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({input.shape[0]}x{input.shape[1]} and "
            f"{mat2.shape[0]}x{mat2.shape[1]})"
        )
    return matmul(input, mat2)


def bmm(input, mat2):
    """(b, n, m) @ (b, m, p) -> (b, n, p); no broadcasting of the batch."""
    if input.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor (bmm got shape {tuple(input.shape)})")
    if mat2.ndim != 3:
        raise RuntimeError(f"batch2 must be a 3D tensor (bmm got shape {tuple(mat2.shape)})")
    want = [input.shape[0], input.shape[2]]
    if list(mat2.shape[:2]) != want:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: {want} but got: {list(mat2.shape[:2])}."
        )
    return matmul(input, mat2)


def dot(input, other):
    """The inner product of two 1-D tensors of the same length -> a 0-D tensor."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors "
            f"(shapes {tuple(input.shape)} and {tuple(other.shape)})"
        )
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src [{other.shape[0]}] to have the same number of elements, "
            f"but got {input.shape[0]} and {other.shape[0]} elements respectively"
        )
    return matmul(input, other)


def mv(input, vec):
    """(n, m) @ (m,) -> (n,)."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(
            f"mv expects a matrix and a vector, but got shapes {tuple(input.shape)} and {tuple(vec.shape)}"
        )
    return matmul(input, vec)


def outer(input, vec2):
    """The outer product of two 1-D tensors: (n,), (m,) -> (n, m)."""
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(
            f"outer expects two 1-D tensors, but got shapes {tuple(input.shape)} and {tuple(vec2.shape)}"
        )
    return mul(input.reshape(-1, 1), vec2.reshape(1, -1))


def _scaled_sum(input, product, beta, alpha):
    # beta == 0 ignores input entirely (its NaN and inf do not reach the result), as PyTorch documents.
    if alpha != 1:
        product = mul(product, alpha)
    if beta == 0:
        return product
    return add(input if beta == 1 else mul(input, beta), product)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2); input broadcasts to (n, p)."""
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec); input broadcasts to (n,)."""
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * bmm(batch1, batch2); input broadcasts to (b, n, p)."""
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def cdist(x1, x2, p=2.0, compute_mode=None):
    """The p-norm distance of every row of x1 to every row of x2: (*, P, M), (*, R, M) -> (*, P, R)."""
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"cdist: x1 and x2 must be (*, P, M) and (*, R, M) with the same M, but got shapes "
            f"{tuple(x1.shape)} and {tuple(x2.shape)}"
        )
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, but got p={p}")
    pairs = sub(x1.unsqueeze(-2), x2.unsqueeze(-3))  # (*, P, R, M)
    return norm(pairs, p, -1)


register(
    OpInfo(
        "cdist",
        cdist,
        [Sample((4, 3), (5, 3)), Sample((2, 3, 2), (2, 4, 2), 1.0), Sample((3, 2), (2, 2), 3.0)],
        methods=(),
    ),
    OpInfo("mv", mv, [Sample((3, 4), (4,))]),
    OpInfo("outer", outer, [Sample((3,), (4,))], aliases=("outer", "ger"), methods=("outer", "ger")),
    OpInfo("addmm", addmm, [Sample((3, 2), (3, 4), (4, 2)), Sample((2,), (3, 4), (4, 2), beta=0.5, alpha=2.0)]),
    OpInfo("addmv", addmv, [Sample((3,), (3, 4), (4,)), Sample((1,), (3, 4), (4,), beta=-1.0, alpha=0.5)]),
    OpInfo(
        "baddbmm",
        baddbmm,
        [Sample((2, 3, 5), (2, 3, 4), (2, 4, 5)), Sample((3, 5), (2, 3, 4), (2, 4, 5), beta=0.0, alpha=3.0)],
    ),
    OpInfo("mm", mm, [Sample((3, 4), (4, 2))]),
    OpInfo("bmm", bmm, [Sample((2, 3, 4), (2, 4, 5))]),
    OpInfo("dot", dot, [Sample((4,), (4,))]),
)
