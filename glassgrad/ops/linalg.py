"""Matrix products."""

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.ops.registry import OpInfo, Sample, register
from glassgrad.ops.utils import as_operand
from glassgrad.tensor import Tensor


class MatMul(Function):
    """``a @ b`` with NumPy's rules: 1-D operands are promoted and the added axis removed;
    leading (batch) dimensions broadcast."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes {a.shape} and {b.shape}")
        k_a = a.shape[-1]
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k_a != k_b:
            raise RuntimeError(f"matmul: {tuple(a.shape)} @ {tuple(b.shape)}: inner dimensions {k_a} and {k_b} differ")
        self.save_for_backward(a if self.needs_input_grad[1] else None, b if self.needs_input_grad[0] else None)
        try:
            return np.matmul(a, b)
        except ValueError:
            raise RuntimeError(
                f"matmul: batch dimensions of {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast"
            ) from None

    def backward(self, grad):
        a, b = self.saved_tensors
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            a_ndim = len(self.input_meta[0][0])  # a itself is not saved when b needs no gradient
            if b.ndim == 1:
                grad_a = np.multiply.outer(grad, b) if a_ndim > 1 else grad * b
            elif a_ndim == 1:
                grad_a = np.matmul(grad[..., None, :], np.swapaxes(b, -1, -2))[..., 0, :]
            else:
                grad_a = np.matmul(grad, np.swapaxes(b, -1, -2))
        if self.needs_input_grad[1]:
            b_ndim = len(self.input_meta[1][0])  # b itself is not saved when a needs no gradient
            if a.ndim == 1:
                grad_b = grad * a if b_ndim == 1 else a[:, None] * grad[..., None, :]
            elif b_ndim == 1:
                # grad has a's batch dims and rows; sum everything except b's axis.
                grad_b = np.tensordot(grad, a, axes=(tuple(range(grad.ndim)), tuple(range(a.ndim - 1))))
            else:
                grad_b = np.matmul(np.swapaxes(a, -1, -2), grad)
        return grad_a, grad_b


def matmul(a, b):
    """Matrix product with batching and 1-D promotion as in NumPy and PyTorch.

    Shapes: (n,) @ (n,) -> (); (m, n) @ (n, p) -> (m, p); (*, m, n) @ (*, n, p) -> (*, m, p).
    """
    a, b = as_operand(a), as_operand(b)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul: both arguments must be tensors")
    return MatMul.apply(a, b)


# -- the registry (glassgrad/ops/registry.py): names, methods, samples and tests ----------

register(
    OpInfo(
        "matmul",
        matmul,
        [Sample((3, 4), (4, 2)), Sample((4,), (4,)), Sample((2, 3, 4), (4, 2)), Sample((3,), (3, 2))],
    ),
)
