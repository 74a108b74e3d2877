"""Distances as layers: CosineSimilarity and PairwiseDistance."""

from __future__ import annotations

from typing import TYPE_CHECKING

from glassgrad.nn import functional as F
from glassgrad.nn.module import Module

if TYPE_CHECKING:
    from glassgrad.tensor import Tensor


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p over the last dim: (N, D), (N, D) -> (N) ((N, 1) with keepdim)."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """Cosine of the angle between x1 and x2 along ``dim``: (*, D, *) twice -> (*, *)."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)
