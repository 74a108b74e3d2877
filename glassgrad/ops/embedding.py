"""Embedding lookup: rows of a weight matrix picked by integer indices."""

import numpy as np

from glassgrad.autograd.function import Function


class Embedding(Function):
    """weight: (num_embeddings, embedding_dim); indices: int64 (*). Output: (*, embedding_dim).

    The gradient of each weight row is the sum of the output gradients of the positions
    that picked it (zero for ``padding_idx``), divided by how often the row was picked in
    this batch when ``scale_grad_by_freq``.
    """

    def forward(self, weight, indices, padding_idx=None, scale_grad_by_freq=False):
        if indices.dtype.kind not in "iu":
            raise TypeError(f"embedding: indices must be integers (int64, .long()), got {indices.dtype}")
        n = weight.shape[0]
        if indices.size and (indices.min() < -n or indices.max() >= n):
            raise IndexError(
                f"embedding: index {int(indices.max() if indices.max() >= n else indices.min())} is out of range "
                f"for {n} embeddings; indices must lie in [0, {n - 1}]"
            )
        self.indices = indices.reshape(-1) % n
        self.weight_shape = weight.shape
        self.padding_idx, self.scale = padding_idx, scale_grad_by_freq
        return weight[indices]

    def backward(self, grad):
        rows = grad.reshape(-1, self.weight_shape[1])
        if self.scale:
            counts = np.bincount(self.indices, minlength=self.weight_shape[0])
            rows = rows / counts[self.indices][:, None].astype(rows.dtype)
        grad_w = np.zeros(self.weight_shape, dtype=grad.dtype)
        np.add.at(grad_w, self.indices, rows)
        if self.padding_idx is not None:
            grad_w[self.padding_idx] = 0
        return grad_w, None
