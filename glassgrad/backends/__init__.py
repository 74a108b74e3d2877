"""Switches that choose among glassgrad's implementations of an operation, as ``torch.backends``."""

from glassgrad.backends import conv

__all__ = ["conv"]
