"""Padding layers: ConstantPad, ZeroPad, ReflectionPad, ReplicationPad and CircularPad (1d/2d/3d).

``padding`` is an int (the same on every side) or a tuple (left, right, top, bottom,
front, back), last dimension first, as in ``F.pad``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from glassgrad.nn import functional as F
from glassgrad.nn.module import Module

if TYPE_CHECKING:
    from glassgrad.tensor import Tensor


def _padding(padding, dims, name):
    if isinstance(padding, int):
        return (padding,) * (2 * dims)
    padding = tuple(int(p) for p in padding)
    if len(padding) != 2 * dims:
        raise ValueError(f"{name}: padding must be an int or a tuple of {2 * dims} ints, got {padding}")
    return padding


class _ConstantPadNd(Module):
    _dims = 0

    def __init__(self, padding: int | tuple[int, ...], value: float) -> None:
        super().__init__()
        self.padding = _padding(padding, self._dims, type(self).__name__)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Input: (C, W) or (N, C, W). Output: (..., W + left + right)."""

    _dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Input: (C, H, W) or (N, C, H, W). Output: (..., H + top + bottom, W + left + right)."""

    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Input: (C, D, H, W) or (N, C, D, H, W)."""

    _dims = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding: int | tuple[int, ...]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    _dims = 1


class ZeroPad2d(_ZeroPadNd):
    _dims = 2


class ZeroPad3d(_ZeroPadNd):
    _dims = 3


class _ModePadNd(Module):
    _dims = 0
    _mode = ""

    def __init__(self, padding: int | tuple[int, ...]) -> None:
        super().__init__()
        self.padding = _padding(padding, self._dims, type(self).__name__)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad1d(_ModePadNd):
    """Mirror padding of (C, W) or (N, C, W); the edge itself is not repeated."""

    _dims, _mode = 1, "reflect"


class ReflectionPad2d(_ModePadNd):
    """Mirror padding of (C, H, W) or (N, C, H, W)."""

    _dims, _mode = 2, "reflect"


class ReflectionPad3d(_ModePadNd):
    _dims, _mode = 3, "reflect"


class ReplicationPad1d(_ModePadNd):
    """Edge-repeating padding of (C, W) or (N, C, W)."""

    _dims, _mode = 1, "replicate"


class ReplicationPad2d(_ModePadNd):
    _dims, _mode = 2, "replicate"


class ReplicationPad3d(_ModePadNd):
    _dims, _mode = 3, "replicate"


class CircularPad1d(_ModePadNd):
    """Wrap-around padding of (C, W) or (N, C, W)."""

    _dims, _mode = 1, "circular"


class CircularPad2d(_ModePadNd):
    _dims, _mode = 2, "circular"


class CircularPad3d(_ModePadNd):
    _dims, _mode = 3, "circular"
