"""Autograd's view of tensors changed behind its back, as in ``torch.autograd.graph``."""

from glassgrad.tensor import Tensor


def increment_version(tensor, op="an in-place update"):
    """Record that ``tensor``'s memory was changed outside the recorded ops.

    Code that writes a tensor's NumPy array directly (optimizers, ``nn.init``, running
    statistics) calls this afterwards, so that a graph that saved the old values raises
    instead of computing a wrong gradient. ``op`` names the change in that error.
    Accepts one tensor or an iterable of tensors.
    """
    for t in (tensor,) if isinstance(tensor, Tensor) else tensor:
        t._bump_version(op)
