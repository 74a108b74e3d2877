"""Activation checkpointing: trade compute for memory by recomputing a segment's forward in backward.

``checkpoint(fn, *args)`` returns what ``fn(*args)`` returns, but keeps none of the activations
inside ``fn``: only its inputs (and the random-number state, so that dropout draws the same mask
again). Backward runs ``fn`` a second time with gradients enabled and sends the incoming
gradients back through that fresh graph.

Both of PyTorch's variants are here, with their differences:

- ``use_reentrant=True`` (PyTorch's default, with a warning when not given): the forward runs
  under ``no_grad``; the output requires grad only if an input does, and backward accumulates the
  parameters' ``.grad`` by a backward pass of its own, so ``autograd.grad`` cannot reach them
  (PyTorch raises there; here the parameters' ``.grad`` receive those gradients instead);
  keyword arguments are refused.
- ``use_reentrant=False`` (recommended): keyword arguments pass to ``fn``; the parameters ``fn``
  uses are found during the forward, so the output requires grad even when no input does and
  ``autograd.grad`` reaches parameters as well. To find them, the forward runs with gradients
  enabled and drops that segment's graph as soon as it returns, so one segment's activations
  exist while it runs (PyTorch's variant drops them as they are made).
"""

import contextlib
import warnings

import numpy as np

from glassgrad import autograd, random
from glassgrad.autograd.function import AccumulateGrad, Function
from glassgrad.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad
from glassgrad.tensor import Tensor

__all__ = ["CheckpointError", "checkpoint", "checkpoint_sequential"]


class CheckpointError(RuntimeError):
    """The recomputed forward differs from the first one (another shape or dtype)."""


def noop_context_fn():
    return contextlib.nullcontext(), contextlib.nullcontext()


def _leaves_reached(outputs, inputs):
    """The leaf tensors requiring grad that the graph of ``outputs`` reaches (the parameters ``fn``
    used), in a fixed order; ``inputs`` (the detached arguments) are left out."""
    skip = {id(t) for t in inputs}
    seen, leaves = set(), []
    stack = [t.grad_fn for t in reversed(outputs) if t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if type(node) is AccumulateGrad:
            if id(node.variable) not in skip:
                leaves.append(node.variable)
            continue
        stack.extend(reversed(node.next_functions))
    return leaves


def _floating(value):
    return isinstance(value, Tensor) and value.array.dtype.kind == "f"


class _Checkpoint(Function):
    """The node standing for the whole segment: its inputs are the segment's tensor arguments (and,
    without reentrance, the parameters it used); its one output is every floating-point output of
    the segment, flattened and joined, so that one backward call receives all their gradients."""

    def forward(self, *arrays, run, packed):
        self.run = run
        return packed

    def backward(self, grad):
        run = self.run
        outputs, detached = run.recompute()
        grads, pairs = [], []
        start = 0
        for out, (shape, dtype) in zip(outputs, run.layout):
            size = int(np.prod(shape, dtype=np.int64))
            if out.requires_grad:
                pairs.append(out)
                grads.append(Tensor._wrap(grad[start : start + size].reshape(shape).astype(dtype, copy=False)))
            start += size
        wanted = [t for t in detached if t.requires_grad]
        if run.reentrant:
            if pairs:
                autograd.backward(pairs, grads)
            return tuple(d.grad.array if d.grad is not None else None for d in detached)
        targets = wanted + run.parameters
        if not pairs or not targets:
            return (None,) * len(self.next_functions)
        # retain_graph: a tensor fn reads from outside its arguments brings its own graph into this
        # pass; it must stay for the outer backward, which reaches that graph by its other paths.
        found = autograd.grad(pairs, targets, grads, retain_graph=True, allow_unused=True)
        by_id = {id(t): g for t, g in zip(targets, found)}
        mine = [by_id.get(id(t)) for t in detached]
        theirs = [by_id.get(id(p)) for p in run.parameters]
        return tuple(g.array if g is not None else None for g in mine + theirs)


class _Run:
    """What one checkpointed call keeps for its backward: the function, its arguments (arrays, not
    graphs), the random-number state it started from, and the layout of its outputs."""

    def __init__(self, function, args, kwargs, reentrant, preserve_rng_state, context_fn, determinism_check):
        self.function, self.kwargs, self.reentrant = function, kwargs, reentrant
        self.args = args
        self.tensor_args = [a for a in args if isinstance(a, Tensor)]
        self.rng_state = random.get_rng_state() if preserve_rng_state else None
        self.context_fn, self.determinism_check = context_fn, determinism_check
        self.parameters = []
        self.layout = []

    def _detached(self):
        detached, call_args = [], []
        for a in self.args:
            if isinstance(a, Tensor):
                d = Tensor._wrap(a.array)
                if a.requires_grad and a.array.dtype.kind == "f":
                    d.requires_grad_(True)
                detached.append(d)
                call_args.append(d)
            else:
                call_args.append(a)
        return detached, call_args

    def first(self):
        detached, call_args = self._detached()
        forward_context, _ = self.context_fn()
        grad_mode = no_grad() if self.reentrant else enable_grad()
        with forward_context, grad_mode:
            result = self.function(*call_args, **self.kwargs)
        outputs = _tensors_of(result)
        if not self.reentrant:
            self.parameters = _leaves_reached([o for o in outputs if o.requires_grad], detached)
        self.layout = [(o.array.shape, o.array.dtype) for o in outputs if _floating(o)]
        return result, outputs

    def recompute(self):
        detached, call_args = self._detached()
        _, recompute_context = self.context_fn()
        now = random.get_rng_state() if self.rng_state is not None else None
        try:
            if self.rng_state is not None:
                random.set_rng_state(self.rng_state)
            with recompute_context, enable_grad():
                result = self.function(*call_args, **self.kwargs)
        finally:
            if now is not None:
                random.set_rng_state(now)
        outputs = [o for o in _tensors_of(result) if _floating(o)]
        layout = [(o.array.shape, o.array.dtype) for o in outputs]
        if self.determinism_check != "none" and layout != self.layout:
            raise CheckpointError(
                "torch.utils.checkpoint: the recomputed forward gave outputs of shapes/dtypes "
                f"{layout}, the first forward {self.layout}; the checkpointed function must compute the "
                "same thing both times (pass determinism_check='none' to skip this check)"
            )
        return outputs, detached


def _tensors_of(result):
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        return [r for r in result if isinstance(r, Tensor)]
    raise TypeError(f"checkpoint: the function returned {type(result).__name__}; return a tensor or a tuple of tensors")


def checkpoint(
    function,
    *args,
    use_reentrant=None,
    context_fn=noop_context_fn,
    determinism_check="default",
    debug=False,
    early_stop=True,
    **kwargs,
):
    """``function(*args, **kwargs)``, keeping only the inputs for backward, which recomputes the rest.

    ``preserve_rng_state=True`` (a keyword, as in PyTorch) replays the random-number state in the
    recomputation, so dropout masks match. ``context_fn`` returns two context managers, entered
    around the first forward and around the recomputation. ``debug`` and ``early_stop`` are
    accepted for PyTorch's sake and change nothing. See the module docstring for the two variants.
    """
    preserve_rng_state = kwargs.pop("preserve_rng_state", True)
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly; "
            "use_reentrant=False is recommended (glassgrad, like PyTorch, defaults to True)",
            UserWarning,
            stacklevel=2,
        )
        use_reentrant = True
    if determinism_check not in ("default", "none"):
        raise ValueError(f"checkpoint: determinism_check must be 'default' or 'none', got {determinism_check!r}")
    if use_reentrant:
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        if context_fn is not noop_context_fn:
            raise ValueError("Passing `context_fn` is only supported when use_reentrant=False.")
    if not is_grad_enabled():
        return function(*args, **kwargs)  # nothing will go back: no reason to keep anything

    run = _Run(function, args, kwargs, use_reentrant, preserve_rng_state, context_fn, determinism_check)
    result, outputs = run.first()
    floating = [o for o in outputs if _floating(o)]
    if use_reentrant and not any(t.requires_grad for t in run.tensor_args):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", UserWarning, stacklevel=2)
    if not floating or (use_reentrant and not any(t.requires_grad for t in run.tensor_args)):
        return result
    if not use_reentrant and not any(o.requires_grad for o in floating):
        return result
    packed = np.concatenate([o.array.ravel() for o in floating]) if len(floating) > 1 else floating[0].array.ravel()
    joined = _Checkpoint.apply(*run.tensor_args, *run.parameters, run=run, packed=packed)
    pieces, start = [], 0
    for shape, dtype in run.layout:
        size = int(np.prod(shape, dtype=np.int64))
        piece = joined[start : start + size] if len(floating) > 1 else joined
        pieces.append(piece.reshape(shape).to(dtype) if piece.dtype != dtype else piece.reshape(shape))
        start += size
    if isinstance(result, Tensor):
        return pieces[0]
    made = iter(pieces)
    out = [next(made) if _floating(r) else (r.detach() if isinstance(r, Tensor) else r) for r in result]
    return type(result)(out) if isinstance(result, tuple) else out


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (an ``nn.Sequential`` or a list of modules/functions) in ``segments`` chunks,
    checkpointing every chunk but the last, whose activations backward needs right away anyway."""
    preserve_rng_state = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
            "explicitly; use_reentrant=False is recommended (glassgrad, like PyTorch, defaults to True)",
            UserWarning,
            stacklevel=2,
        )
        use_reentrant = True
    functions = list(functions.children()) if hasattr(functions, "children") else list(functions)
    if not 1 <= int(segments) <= max(len(functions), 1):
        raise ValueError(f"checkpoint_sequential: segments must be between 1 and {len(functions)}, got {segments}")
    size = len(functions) // segments

    def run_chunk(start, end):
        def forward(x):
            for f in functions[start : end + 1]:
                x = f(x)
            return x

        return forward

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(
            run_chunk(start, end), input, use_reentrant=use_reentrant, preserve_rng_state=preserve_rng_state
        )
    return run_chunk(end + 1, len(functions) - 1)(input)
