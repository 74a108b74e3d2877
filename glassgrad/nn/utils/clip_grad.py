"""Gradient clipping, in place on ``.grad``, as PyTorch's ``torch.nn.utils``."""

import math

import numpy as np

from glassgrad.autograd.graph import increment_version
from glassgrad.tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so that their joint ``norm_type`` norm is at most ``max_norm``.

    The norm is that of all gradients concatenated into one vector; returns it (before
    clipping) as a tensor. Gradients are multiplied by min(1, max_norm / (norm + 1e-6)).
    """
    grads = _grads(parameters)
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return Tensor(0.0)
    dtype = grads[0].array.dtype
    if norm_type == math.inf:
        norms = [np.max(np.abs(g.array)) if g.array.size else dtype.type(0) for g in grads]
        total = np.max(np.asarray(norms))
    else:
        # The norm of the per-tensor norms equals the norm of everything concatenated.
        norms = [np.linalg.norm(g.array.reshape(-1), ord=norm_type) for g in grads]
        total = np.linalg.norm(np.asarray(norms, dtype=dtype), ord=norm_type)
    total = np.asarray(total, dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot "
            "be clipped. To disable this error and scale the gradients by the non-finite norm anyway, "
            "set `error_if_nonfinite=False`"
        )
    coef = dtype.type(max_norm) / (total + dtype.type(1e-6))
    # Multiplying by min(coef, 1) always (no branch) is what PyTorch does, NaN included.
    coef = np.minimum(coef, dtype.type(1.0))
    for g in grads:
        g.array[...] = g.array * coef.astype(g.array.dtype)
        increment_version(g, "clip_grad")
    return Tensor._wrap(total)


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated PyTorch name of ``clip_grad_norm_``."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(g.array, -clip_value, clip_value, out=g.array)
        increment_version(g, "clip_grad")
