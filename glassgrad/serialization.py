"""``torch.serialization``: ``save``/``load`` and the allowlist of classes a checkpoint may rebuild."""

from glassgrad.io import load, save
from glassgrad.io.safe_globals import add_safe_globals, clear_safe_globals, get_safe_globals, safe_globals

__all__ = ["add_safe_globals", "clear_safe_globals", "get_safe_globals", "load", "safe_globals", "save"]
