"""Switches that choose among glassgrad's implementations of an operation, as ``torch.backends``.

``conv`` is glassgrad's own (which convolution algorithm runs); ``cudnn``, ``mps`` and ``cuda``
answer as a CPU-only PyTorch does, so programs that set or query them run unchanged.
"""

from glassgrad.backends import conv, cuda, cudnn, mps

__all__ = ["conv", "cuda", "cudnn", "mps"]
