"""``glassgrad.linalg``, as ``torch.linalg``: the ops registered as ``linalg.X`` (glassgrad/ops/decompositions.py)."""

from glassgrad.ops import registry as _registry

_registry.export(globals(), prefix="linalg.")
