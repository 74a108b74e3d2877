"""Reverse-mode automatic differentiation: Function, the backward engine, grad modes, gradcheck."""

import numpy as np

from glassgrad.autograd.engine import run_backward
from glassgrad.autograd.function import AccumulateGrad, Function  # noqa: I001  (order matters: Tensor)
from glassgrad.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from glassgrad.tensor import Tensor


def backward(tensors, grad_tensors=None, retain_graph=None):
    """Accumulate into the leaves' ``.grad`` the gradients of ``tensors``.

    ``grad_tensors`` gives d(something)/d(tensor) for each tensor; it may be left
    out only for tensors of a single element (the gradient is then 1).
    """
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    if grad_tensors is None or isinstance(grad_tensors, (Tensor, np.ndarray, float, int)):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    roots, grads = [], []
    for tensor, grad in zip(tensors, grad_tensors):
        if not tensor.requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn: "
                "nothing to differentiate; create the inputs with requires_grad=True"
            )
        if grad is None:
            if tensor.array.size != 1:
                raise RuntimeError(
                    f"backward(): grad can be implicitly created only for a single-element output, "
                    f"this one has shape {tuple(tensor.shape)}; pass gradient= a tensor of that "
                    "shape (or reduce the output first, e.g. loss.sum().backward())"
                )
            grad = np.ones_like(tensor.array)
        else:
            grad = grad.array if isinstance(grad, Tensor) else np.asarray(grad)
            if grad.shape != tensor.array.shape:
                raise RuntimeError(
                    f"backward(): gradient has shape {tuple(grad.shape)} but the output has shape "
                    f"{tuple(tensor.shape)}; they must match"
                )
            grad = grad.astype(tensor.array.dtype, copy=False)
        roots.append(tensor.grad_fn or tensor._grad_accumulator())
        grads.append(grad)
    run_backward(roots, grads, retain_graph=bool(retain_graph))


from glassgrad.autograd.gradcheck import gradcheck  # noqa: E402

__all__ = [
    "AccumulateGrad",
    "Function",
    "backward",
    "enable_grad",
    "gradcheck",
    "inference_mode",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]
