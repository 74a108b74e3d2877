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


def _roots_and_grads(tensors, grad_tensors, op):
    """The graph nodes of ``tensors`` and the NumPy gradients to start them with."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, (Tensor, np.ndarray, float, int)):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    grad_tensors = list(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"{op}: got {len(tensors)} tensors but {len(grad_tensors)} gradients; give one per tensor")
    roots, grads = [], []
    for i, (tensor, grad) in enumerate(zip(tensors, grad_tensors)):
        if not tensor.requires_grad:
            raise RuntimeError(
                f"{op}: element {i} of tensors does not require grad and does not have a grad_fn: "
                "nothing to differentiate; create the inputs with requires_grad=True "
                "(and compute outside no_grad)"
            )
        if grad is None:
            if tensor.array.size != 1:
                raise RuntimeError(
                    f"{op}: grad can be implicitly created only for a single-element output, "
                    f"this one has shape {tuple(tensor.shape)}; pass gradient= a tensor of that "
                    "shape (or reduce the output first, e.g. loss.sum().backward())"
                )
            grad = np.ones_like(tensor.array)
        else:
            grad = grad.array if isinstance(grad, Tensor) else np.asarray(grad)
            if grad.shape != tensor.array.shape:
                raise RuntimeError(
                    f"{op}: gradient has shape {tuple(grad.shape)} but the output has shape "
                    f"{tuple(tensor.shape)}; they must match"
                )
            grad = grad.astype(tensor.array.dtype, copy=False)
        roots.append(tensor.grad_fn or tensor._grad_accumulator())
        grads.append(grad)
    return roots, grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate into the leaves' ``.grad`` the gradients of ``tensors``.

    ``grad_tensors`` gives d(something)/d(tensor) for each tensor; it may be left
    out only for tensors of a single element (the gradient is then 1).
    ``inputs``: if given, only these leaves accumulate a gradient.
    """
    if create_graph:
        raise RuntimeError(
            "backward(create_graph=True): glassgrad computes first-order gradients only "
            "(backward formulas run on NumPy arrays, so gradients have no graph of their own)"
        )
    roots, grads = _roots_and_grads(tensors, grad_tensors, "backward()")
    accumulate = None
    if inputs is not None:
        accumulate = set()
        for i, t in enumerate([inputs] if isinstance(inputs, Tensor) else inputs):
            if not t.is_leaf or not t.requires_grad:
                raise RuntimeError(
                    f"backward(inputs=...): input {i} must be a leaf tensor that requires grad; "
                    "call .retain_grad() on a non-leaf tensor to see its gradient instead"
                )
            accumulate.add(t._grad_accumulator())
    run_backward(roots, grads, retain_graph=bool(retain_graph), accumulate=accumulate)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned instead of stored in ``.grad``.

    Returns a tuple with one tensor per input (None for an unused input when ``allow_unused``).
    """
    if create_graph:
        raise RuntimeError(
            "autograd.grad(create_graph=True): glassgrad computes first-order gradients only "
            "(backward formulas run on NumPy arrays, so gradients have no graph of their own)"
        )
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    roots, grads = _roots_and_grads(outputs, grad_outputs, "autograd.grad()")
    nodes = []
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"autograd.grad(): input {i} does not require grad; nothing to differentiate against")
        nodes.append(t.grad_fn or t._grad_accumulator())
    capture = dict.fromkeys(nodes)
    run_backward(roots, grads, retain_graph=bool(retain_graph), capture=capture)
    result = []
    for i, (t, node) in enumerate(zip(inputs, nodes)):
        g = capture[node]
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"autograd.grad(): input {i} was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            result.append(None)
        else:
            result.append(Tensor._wrap(np.array(g, dtype=t.array.dtype, copy=True).reshape(t.array.shape)))
    return tuple(result)


from glassgrad.autograd import graph  # noqa: E402
from glassgrad.autograd.gradcheck import gradcheck  # noqa: E402

__all__ = [
    "AccumulateGrad",
    "Function",
    "backward",
    "grad",
    "enable_grad",
    "gradcheck",
    "graph",
    "inference_mode",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]


from glassgrad._legacy import Variable  # noqa: E402  (a Tensor since PyTorch 0.4)
