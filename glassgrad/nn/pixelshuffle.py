"""PixelShuffle and PixelUnshuffle: channels to sub-pixels and back (sub-pixel convolution)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from glassgrad.nn import functional as F
from glassgrad.nn.module import Module

if TYPE_CHECKING:
    from glassgrad.tensor import Tensor


class PixelShuffle(Module):
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r), r = upscale_factor."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W), r = downscale_factor."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"
