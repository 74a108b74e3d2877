"""The backward pass: an iterative walk of the graph in reverse topological order."""

import numpy as np

from glassgrad.autograd.function import AccumulateGrad, sum_to_shape
from glassgrad.backend import memory


def _dependencies(roots):
    """Count, for every node reachable from ``roots``, how many edges lead into it.

    An explicit stack instead of recursion, so a chain of 100,000 ops works.
    """
    counts = {}
    stack = list(roots)
    seen = set(roots)
    while stack:
        for child in stack.pop().next_functions:
            if child is None:
                continue
            if child in counts:
                counts[child] += 1
            else:
                counts[child] = 1
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
    return counts


def _fit(grad, shape, node):
    """Sum a broadcast gradient back to its input's shape, or say which op got it wrong."""
    try:
        return sum_to_shape(grad, shape)
    except ValueError:
        raise RuntimeError(
            f"{node.name}.backward returned a gradient of shape {grad.shape} for an input of shape "
            f"{shape}; it must have the input's shape or broadcast to the output's"
        ) from None


# One list per running backward pass (a hook may start another): callbacks to run when it ends.
_callbacks: list = []


def queue_callback(callback):
    """Run ``callback()`` once the current backward pass has finished (call it from a hook).

    Distributed data parallel waits here for the gradient all-reduces it started from hooks.
    """
    if not _callbacks:
        raise RuntimeError("queue_callback: no backward pass is running; call it from a hook during backward")
    _callbacks[-1].append(callback)


def run_backward(roots, grads, retain_graph=False, accumulate=None, capture=None):
    """Send ``grads`` (NumPy arrays) back from the ``roots`` nodes to every leaf; then run queued callbacks."""
    queued = []
    _callbacks.append(queued)
    try:
        _run(roots, grads, retain_graph, accumulate, capture)
        # A callback may queue another (as PyTorch's engine allows): run until none is left.
        while queued:
            queued.pop(0)()
    finally:
        _callbacks.pop()


def _run(roots, grads, retain_graph, accumulate, capture):
    """Send ``grads`` (NumPy arrays) back from the ``roots`` nodes to every leaf.

    A node runs once all nodes that feed it a gradient have run (Kahn's algorithm),
    so each node's backward sees the full sum of its incoming gradients.
    ``accumulate``: if given, the only AccumulateGrad nodes that write ``.grad``.
    ``capture``: if given, a dict {node: None} whose values receive the gradient
    arriving at each node (for ``autograd.grad``); leaves' ``.grad`` are then left alone.
    """
    counts = _dependencies(roots)
    buffers = {}
    for node, grad in zip(roots, grads):
        buffers[node] = buffers[node] + grad if node in buffers else grad
    ready = [node for node in dict.fromkeys(roots) if counts.get(node, 0) == 0]
    while ready:
        node = ready.pop()
        grad = buffers.pop(node, None)
        if type(node) is AccumulateGrad:
            if grad is not None:
                if capture is not None:
                    if node in capture:
                        capture[node] = node.hooked(grad)
                elif accumulate is None or node in accumulate:
                    node.accumulate(grad)
            continue
        if grad is not None:
            for hook in node._pre_hooks:
                replaced = hook(grad)
                if replaced is not None:
                    grad = replaced
            if capture is not None and node in capture:
                capture[node] = grad
            input_grads = node.backward(grad)
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            if len(input_grads) < len(node.next_functions):  # extra trailing gradients are ignored
                raise RuntimeError(
                    f"{node.name}.backward returned {len(input_grads)} gradients for "
                    f"{len(node.next_functions)} inputs; return one per positional input of forward "
                    "(None where an input needs none)"
                )
            if not retain_graph:
                node._saved = None  # node.release(), inlined: this loop runs once per node
                node._saved_versions = ()
        else:
            input_grads = (None,) * len(node.next_functions)
        for child, child_grad, meta in zip(node.next_functions, input_grads, node.input_meta):
            if child is None:
                continue
            if child_grad is not None:
                if type(child_grad) is not np.ndarray:
                    child_grad = np.asarray(child_grad)
                shape, dt = meta
                if child_grad.shape != shape:
                    child_grad = _fit(child_grad, shape, node)
                if child_grad.dtype is not dt and child_grad.dtype != dt:
                    child_grad = child_grad.astype(dt)
                if child in buffers:
                    # A new array, never an in-place sum: a gradient may be shared (Add hands the same
                    # one to both inputs). Its memory comes from the cache, as the ops' outputs do.
                    total = buffers[child]
                    buffers[child] = np.add(total, child_grad, out=memory.empty(shape, total.dtype))
                else:
                    buffers[child] = child_grad
            remaining = counts[child] - 1
            counts[child] = remaining
            if remaining == 0:
                ready.append(child)
