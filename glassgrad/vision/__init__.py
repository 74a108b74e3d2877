"""torchvision for glassgrad: ``import glassgrad.vision as torchvision``.

``datasets`` and ``transforms`` load at once; ``models`` loads on first use.
"""

import importlib

from glassgrad.vision import datasets, transforms


def __getattr__(name):
    if name == "models":
        return importlib.import_module("glassgrad.vision.models")
    raise AttributeError(f"module 'glassgrad.vision' has no attribute {name!r}")
