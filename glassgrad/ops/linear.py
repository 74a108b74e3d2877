"""The affine map of a Linear layer, y = x W^T + b, as one op.

One op rather than matmul + transpose + add: the leading dimensions fold into one
batch dimension, so each pass is a single 2-D BLAS product, and ``np.dot`` hands the
transposed weight to BLAS as a flag (NumPy's ``matmul`` on a transposed view can be
several times slower). The bias gradient is one column sum.
"""

from glassgrad import backend
from glassgrad.autograd.function import Function


class Linear(Function):
    """input: (*, in_features); weight: (out_features, in_features); bias: (out_features) or None.
    Output: (*, out_features)."""

    def forward(self, x, weight, bias=None):
        flat = x.reshape(_rows(x.shape), x.shape[-1])  # not -1: Linear(0, n) has x.shape[-1] == 0
        # backend.matmul2d: mid-sized products on one BLAS thread, large ones on OpenBLAS's threads.
        out = backend.matmul2d(flat, weight.T)
        if bias is not None:
            out += bias
        self.x_shape = x.shape
        self.save_for_backward(flat if self.needs_input_grad[1] else None, weight if self.needs_input_grad[0] else None)
        return out.reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, grad):
        flat, weight = self.saved_tensors
        g = grad.reshape(_rows(grad.shape), grad.shape[-1])
        grad_x = backend.matmul2d(g, weight).reshape(self.x_shape) if self.needs_input_grad[0] else None
        grad_w = backend.matmul2d(g.T, flat) if self.needs_input_grad[1] else None
        grad_b = g.sum(axis=0) if len(self.needs_input_grad) > 2 and self.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


def _rows(shape):
    rows = 1
    for size in shape[:-1]:
        rows *= size
    return rows
