"""``glassgrad.compile``: record a call once per input signature, then replay its kernels.

The first call with given input shapes, dtypes and requires_grad flags (and grad mode, and each
submodule's training flag) runs eagerly while every op is logged (record.py); later calls with the
same signature run the log as straight-line code (graph.py), with chains of elementwise ops fused
(fusion.py). The backward of a replayed call is the recorded backward, joined to the autograd
graph by one node, so ``loss.backward()`` fills ``.grad`` as in eager mode.

A call runs eagerly instead when its recording could not be replayed faithfully (a value read
with ``.item()``/``bool()``, a hook on a tensor, random numbers other than dropout's, a buffer
changed outside the ops), when a module of the model has hooks, or when an argument is neither a
Tensor nor a hashable value. A changed module structure or replaced parameter records again.
"""

import collections
import itertools
import operator
from typing import Any

from glassgrad.autograd import grad_mode
from glassgrad.autograd.function import Function
from glassgrad.compiler.graph import Graph, GraphError
from glassgrad.compiler.record import Recorder, recording, recording_active
from glassgrad.nn.module import Module
from glassgrad.tensor import Tensor

_PLAIN_APPLY = Function.__dict__["_apply"]  # swapped only while ops are observed (observe_ops, recording)
CACHE_SIZE = 8  # graphs kept per compiled callable (one per input signature), least recently used dropped


class GraphBreak(RuntimeError):
    """Raised under ``fullgraph=True`` where the call would otherwise fall back to eager mode."""


class _Broken:
    """A cached signature whose recording cannot be replayed: such calls run eagerly."""

    def __init__(self, reason):
        self.reason = reason


class _Structure:
    """What a recording of a module relies on: each submodule's children, parameters and buffers
    (by identity), training flags and hooks; checked on every call with C-level loops only."""

    def __init__(self, module):
        self.module = module
        self.modules = list(module.modules())
        self.tables = [d for m in self.modules for d in (m._modules, m._parameters, m._buffers)]
        self.hooks = [
            d
            for m in self.modules
            for d in (m._forward_pre_hooks, m._forward_hooks, m._backward_hooks, m._backward_pre_hooks)
        ]
        self.sizes = list(map(len, self.tables))
        self.full = [d for d in self.tables if d]
        self.values = self._values()

    def _values(self):
        return list(itertools.chain.from_iterable(map(dict.values, self.full)))

    def unchanged(self):
        # The sizes catch an entry added to an empty table; the identities, any entry replaced.
        if list(map(len, self.tables)) != self.sizes:
            return False
        return all(map(operator.is_, self._values(), self.values))

    def hooked(self):
        return any(self.hooks)

    def flags(self):
        return tuple(map(_training, self.modules))


_training = operator.attrgetter("training")


class Compiled:
    """The compiled form of ``fn`` (a callable; ``module`` when it is a Module's ``__call__``)."""

    def __init__(self, fn, module=None, fullgraph=False, fuse=True):
        self.fn, self.module, self.fullgraph, self.fuse = fn, module, fullgraph, fuse
        self.cache = collections.OrderedDict()
        self.structure = _Structure(module) if module is not None else None
        self.stats = collections.Counter()  # "recorded", "replayed", "eager": how calls ran

    def _eager(self, reason, args, kwargs):
        if self.fullgraph:
            raise GraphBreak(f"glassgrad.compile(fullgraph=True): {reason}")
        self.stats["eager"] += 1
        return self.fn(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        if recording_active() or Function.__dict__["_apply"] is not _PLAIN_APPLY:
            # Inside another compiled call's recording (part of its tape), or a tracer (ONNX export)
            # is watching the ops: they must run.
            return self.fn(*args, **kwargs)
        tensors = []
        try:
            key = (grad_mode._grad_enabled, _signature(args, tensors), _signature(tuple(kwargs.items()), tensors))
            hash(key)
        except TypeError:
            return self._eager("an argument is neither a Tensor nor a hashable value", args, kwargs)
        ids = [id(t) for t in tensors]
        if len(set(ids)) != len(ids):  # the same tensor twice (self-attention's q, k, v): part of the signature
            key = key + (tuple(map(ids.index, ids)),)
        if self.structure is not None:
            if not self.structure.unchanged():  # a child or parameter was replaced: every recording is stale
                self.cache.clear()
                self.structure = _Structure(self.module)
            if self.structure.hooked():
                return self._eager("a module has hooks", args, kwargs)
            key = key + (self.structure.flags(),)
        graph = self.cache.get(key)
        if graph is not None:
            self.cache.move_to_end(key)
            if type(graph) is _Broken:
                return self._eager(graph.reason, args, kwargs)
            if graph.guard():
                self.stats["replayed"] += 1
                return graph.run(tensors)
        return self._record(key, tensors, args, kwargs)

    def _record(self, key, tensors, args, kwargs):
        state = []
        if self.module is not None:
            state = [t for t in self.module.parameters()] + [b for b in self.module.buffers()]
        recorder = Recorder(tensors, state)
        with recording(recorder):
            outputs = self.fn(*args, **kwargs)
            recorder.finish()
        self.stats["recorded"] += 1
        reason = recorder.broken
        graph = None
        if reason is None:
            try:
                graph = Graph(recorder, outputs, fuse=self.fuse)
            except GraphError as error:
                reason = str(error)
        self.cache[key] = graph if reason is None else _Broken(reason)
        while len(self.cache) > CACHE_SIZE:
            self.cache.popitem(last=False)
        if reason is not None and self.fullgraph:
            raise GraphBreak(f"glassgrad.compile(fullgraph=True): {reason}")
        return outputs


def _signature(values, tensors):
    """A hashable description of ``values``; their tensors are appended to ``tensors``."""
    out = []
    for v in values:
        if isinstance(v, Tensor):
            tensors.append(v)
            a = v.array
            out.append((Tensor, a.shape, a.dtype, v.requires_grad, a.flags.c_contiguous))
        elif type(v) is tuple and len(v) == 2 and type(v[0]) is str:  # a keyword argument
            out.append((v[0], _signature((v[1],), tensors)))
        elif type(v) in (tuple, list):
            out.append((type(v), _signature(v, tensors)))
        else:
            out.append((type(v), v))
    return tuple(out)


class OptimizedModule(Module):
    """A compiled module: the original is ``_orig_mod`` (its parameters and buffers, shared, and its
    state_dict under that prefix, as PyTorch's), and calling it replays the recorded graph."""

    def __init__(self, module, fullgraph=False, fuse=True):
        super().__init__()
        self._orig_mod = module
        self.__dict__["_compiled"] = Compiled(module, module=module, fullgraph=fullgraph, fuse=fuse)

    def forward(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    @property
    def compile_stats(self):
        """How the calls ran: a Counter of "recorded", "replayed" and "eager"."""
        return self._compiled.stats

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            original = self.__dict__.get("_modules", {}).get("_orig_mod")
            if original is None:
                raise
            return getattr(original, name)


class CompiledFunction:
    """A compiled function: same call, replayed from its recording."""

    def __init__(self, fn, fullgraph=False, fuse=True):
        self._compiled = Compiled(fn, fullgraph=fullgraph, fuse=fuse)
        self.__wrapped__ = fn
        self.__name__ = getattr(fn, "__name__", "compiled")
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    @property
    def compile_stats(self):
        """How the calls ran: a Counter of "recorded", "replayed" and "eager"."""
        return self._compiled.stats


def compile(
    model: Any = None,
    *,
    fullgraph: bool = False,
    dynamic: bool | None = None,
    backend: Any = None,
    mode: str | None = None,
    options: dict | None = None,
    disable: bool = False,
    **kwargs: Any,
) -> Any:
    """``torch.compile``: a module or function whose calls replay a recording of their ops.

    Returns an ``OptimizedModule`` for a Module, a ``CompiledFunction`` otherwise; used as a decorator
    with or without arguments. ``disable=True`` returns ``model`` unchanged. ``fullgraph=True`` raises
    ``GraphBreak`` where a call would fall back to eager mode. ``dynamic``, ``backend``, ``mode`` and
    ``options`` are accepted for PyTorch programs; glassgrad has one backend and records one graph
    per input signature. ``options={"fuse": False}`` turns off elementwise fusion.
    """
    if model is None:
        return lambda fn: compile(
            fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode, options=options, disable=disable
        )
    if disable:
        return model
    fuse = bool((options or {}).get("fuse", True))
    if isinstance(model, Module):
        return OptimizedModule(model, fullgraph=fullgraph, fuse=fuse)
    if not callable(model):
        raise TypeError(f"glassgrad.compile: expected a Module or a callable, got {type(model).__name__}")
    return CompiledFunction(model, fullgraph=fullgraph, fuse=fuse)


__all__ = ["compile", "OptimizedModule", "CompiledFunction", "GraphBreak"]
