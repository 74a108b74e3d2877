"""Distances as layers: CosineSimilarity and PairwiseDistance."""

from glassgrad.nn import functional as F
from glassgrad.nn.module import Module


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p over the last dim: (N, D), (N, D) -> (N) ((N, 1) with keepdim)."""

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """Cosine of the angle between x1 and x2 along ``dim``: (*, D, *) twice -> (*, *)."""

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)
