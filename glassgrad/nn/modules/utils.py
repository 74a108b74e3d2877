"""The argument helpers of ``torch.nn.modules.utils``: one number becomes a tuple of n copies.

Layers written outside PyTorch (and many research repositories) call ``_pair(kernel_size)`` to
accept either ``3`` or ``(3, 3)``; these give the same tuples.
"""

from __future__ import annotations

import collections.abc
import itertools
from collections.abc import Callable, Sequence
from typing import Any


def _ntuple(n: int, name: str = "parse") -> Callable[[Any], tuple[Any, ...]]:
    """A function turning a scalar into an ``n``-tuple of it and an iterable into a tuple, unchanged."""

    def parse(x: Any) -> tuple[Any, ...]:
        if isinstance(x, collections.abc.Iterable):
            return tuple(x)
        return tuple(itertools.repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t: Sequence[Any], n: int) -> tuple:
    """Each element of ``t`` repeated ``n`` times, in reverse order, as ``F.pad`` wants paddings."""
    return tuple(x for x in reversed(t) for _ in range(n))
