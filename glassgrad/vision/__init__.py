"""torchvision for glassgrad: ``import glassgrad.vision as torchvision``.

``datasets`` and ``transforms`` load at once; ``models`` and ``utils`` load on first use.
"""

import importlib

from glassgrad.vision import datasets, transforms


def __getattr__(name):
    if name in ("models", "utils"):
        return importlib.import_module(f"glassgrad.vision.{name}")
    raise AttributeError(f"module 'glassgrad.vision' has no attribute {name!r}")
