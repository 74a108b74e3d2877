"""Dropout: zero elements at random and scale the survivors by 1 / (1 - p) (inverted dropout)."""

import numpy as np

from glassgrad import random
from glassgrad.autograd.function import Function


class MaskScale(Function):
    """out = x * mask * scale, with a fixed 0/1 mask broadcast against x (per element, or per
    channel for dropout2d). The gradient goes through the same mask and scale."""

    def forward(self, x, mask=None, scale=1.0):
        scaled = (mask * x.dtype.type(scale)).astype(x.dtype, copy=False)
        self.save_for_backward(scaled)
        return x * scaled

    def backward(self, grad):
        (scaled,) = self.saved_tensors
        return grad * scaled


def dropout_mask(shape, p, generator=None):
    """A boolean array, True with probability 1 - p, from glassgrad's generator (so manual_seed governs it)."""
    return random.random(shape, generator) >= np.float32(p)


def dropout(x, p, mask_shape, generator=None):
    """Inverted dropout of tensor ``x`` with a mask of ``mask_shape`` (broadcast against x)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 1:
        return MaskScale.apply(x, mask=np.zeros(mask_shape, dtype=bool), scale=0.0)
    return MaskScale.apply(x, mask=dropout_mask(mask_shape, p, generator), scale=1.0 / (1.0 - p))
