"""Flatten and Unflatten: reshape layers for moving between conv feature maps and vectors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from glassgrad import ops
from glassgrad.nn.module import Module

if TYPE_CHECKING:
    from collections.abc import Sequence

    from glassgrad.tensor import Tensor


class Flatten(Module):
    """Flattens dimensions ``start_dim..end_dim`` into one.

    Input: (N, *dims). Output: (N, prod(dims)) with the defaults start_dim=1, end_dim=-1.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return ops.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dimension ``dim`` into ``unflattened_size``: (N, 12) -> (N, 3, 4) with dim=1, size (3, 4)."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        return ops.unflatten(input, self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
