"""A recorded tape as straight-line Python: one generated function for the forward, one for the backward.

The forward calls each op's NumPy kernel (``Function.forward``) on local variables, one line per
op: no Tensor is made, no argument is checked, no node is linked. The op objects themselves are
made once per frame and reused, each keeping what its backward needs. The backward calls the
kernels' ``backward`` in reverse order, summing and fitting gradients as the engine does
(engine.py), and hands the gradients of the outside tensors to the engine through one node,
``CompiledBackward``, so that ``.grad`` is accumulated (and leaf hooks run) exactly as in eager mode.
"""

import re
import weakref

import numpy as np

from glassgrad.autograd.function import Function, sum_to_shape
from glassgrad.backend import memory
from glassgrad.compiler import fusion
from glassgrad.compiler.record import CONSTANT, EXTERNAL, INPUT, OUTPUT, Bump, Entry, Increment, InPlace, Mask
from glassgrad.ops import dropout as _dropout
from glassgrad.tensor import Tensor


class GraphError(Exception):
    """The recording cannot become a graph (the call then stays eager); the message says why."""


def _fit(grad, meta):
    """The engine's shaping of a gradient for an input: an array, summed to its shape, in its dtype."""
    if type(grad) is not np.ndarray:
        grad = np.asarray(grad)
    shape, dt = meta
    if grad.shape != shape:
        grad = sum_to_shape(grad, shape)
    if grad.dtype is not dt and grad.dtype != dt:
        grad = grad.astype(dt)
    return grad


def _accumulate(total, grad):
    # A new array, as the engine's: a gradient may be shared by two inputs (Add hands the same one to both).
    return np.add(total, grad, out=memory.empty(total.shape, total.dtype))


def _replace_saved(fn, array):
    saved = fn.__dict__.get("_saved")
    if saved and any(a is array for a in saved):
        fn._saved = tuple(a.copy() if a is array else a for a in saved)


class Frame:
    """The op objects of one forward, kept until its backward has run (or its output is gone)."""

    __slots__ = ("fns", "owner")

    def __init__(self, fns):
        self.fns = fns
        self.owner = None

    def free(self):
        return self.owner is None or self.owner() is None

    def release(self):
        for fn in self.fns:
            if fn is not None:
                fn._saved = None
        self.owner = None


class CompiledBackward(Function):
    """The graph node of a compiled call's output: its backward is the recorded backward."""

    def __init__(self, graph, frame):
        self.graph, self.frame = graph, frame
        frame.owner = weakref.ref(self)

    @property
    def name(self):
        return "Compiled"

    def __repr__(self):
        return "<CompiledBackward>"

    # The engine sets ``_saved = None`` after backward unless retain_graph: that frees the frame.
    @property
    def _saved(self):
        return self.frame

    @_saved.setter
    def _saved(self, value):
        if value is None and self.frame is not None:
            self.frame.release()
            self.frame = None

    def backward(self, grad):
        if self.frame is None:
            raise RuntimeError(
                "compiled graph: trying to backward through it a second time (its saved arrays were freed); "
                "call .backward(retain_graph=True) the first time if you need to go back twice"
            )
        grads = self.received
        if grads is None:  # one output: the gradient is the engine's
            return self.graph.backward_code(self.frame.fns, grad)
        self.received = [None] * len(grads)
        return self.graph.backward_code(self.frame.fns, *grads)

    received = None  # with several outputs: the gradient each one's OutputGrad handed over


class OutputGrad(Function):
    """The node of one of several outputs needing gradients: it hands its gradient to the call's
    CompiledBackward (stored there) and sends the engine only a 0-d placeholder, so that the
    recorded backward runs once, with every output's gradient, after all of them have arrived."""

    def __init__(self, main, index, dtype):
        if main.received is None:
            main.received = []
        while len(main.received) <= index:
            main.received.append(None)
        self.main, self.index = main, index
        self.placeholder = np.zeros((), dtype)
        self.next_functions = (main,)
        self.input_meta = (((), self.placeholder.dtype),)
        self.needs_input_grad = (True,)

    @property
    def name(self):
        return "CompiledOutput"

    def backward(self, grad):
        self.main.received[self.index] = grad
        return self.placeholder


class Graph:
    """A tape made runnable. ``run(tensors)`` replays it on the call's input tensors and returns the
    outputs (Tensors, in the structure the eager call returned)."""

    def __init__(self, recorder, outputs, fuse=True):
        self.recorder = recorder
        self.tape = recorder.tape
        kinds = recorder.kinds
        self.records = any(type(e) is Entry and e.records for e in self.tape)
        self.output_spec, out_slots = self._flatten(outputs)
        self.out_slots = out_slots
        # The slots that carry a gradient back, and which outside ones get one.
        grad_slots = set()
        for e in self.tape:
            if type(e) is Entry and e.records:
                for (_kind, k), need in zip(e.args, e.needs):
                    if need:
                        grad_slots.add(k)
        self.grad_inputs = [k for k in sorted(grad_slots) if kinds[k] in (INPUT, EXTERNAL)]
        for k in grad_slots:
            if kinds[k] == CONSTANT:
                raise GraphError("a tensor made inside the call requires grad")
        producing = self._grad_producing() if self.records else set()
        self.grad_outputs = list(dict.fromkeys(k for k in out_slots if k in producing))
        self.grad_output = self.grad_outputs[0] if self.grad_outputs else None
        # The guard: outside tensors whose requires_grad the graph depends on.
        self.externals = [(recorder.sources[k], recorder.sources[k].requires_grad) for k in self._used_externals()]
        self.groups = fusion.plan(self) if fuse and not self.records else {}
        self.namespace = {"ndarray": np.ndarray, "asarray": np.asarray, "replace_saved": _replace_saved}
        self.forward_code = self._compile(self._forward_source(), "forward")
        self.backward_code = (
            self._compile(self._backward_source(), "backward") if self.grad_output is not None else None
        )
        self.frames = []
        recorder.release()

    # -- structure ----------------------------------------------------------------

    def _flatten(self, value):
        slots = []

        def spec(v):
            if isinstance(v, Tensor):
                slot = self.recorder.slot(v)
                slots.append(slot)
                return ("tensor", slot, v)
            if type(v) in (tuple, list):
                return ("seq", type(v), tuple(spec(x) for x in v))
            if type(v) is dict:
                return ("dict", tuple(v), tuple(spec(x) for x in v.values()))
            return ("value", v)

        return spec(value), slots

    def _grad_producing(self):
        return {e.out for e in self.tape if type(e) is Entry and e.records} | {
            e.result for e in self.tape if type(e) is InPlace and e.saver is not None
        }

    def _used_externals(self):
        used = set()
        for e in self.tape:
            if type(e) is Entry:
                for kind, k in e.args:
                    if kind == "slot":
                        used.add(k)
                for option in e.options.values():
                    used.update(_option_slots(option))
            elif type(e) is InPlace:
                used.update((e.target, e.result))
            elif type(e) in (Bump, Increment):
                used.add(e.slot)
        used.update(self.out_slots)
        self.used = used
        return sorted(k for k in used if self.recorder.kinds[k] == EXTERNAL)

    # -- code generation ----------------------------------------------------------

    def _const(self, name, value):
        self.namespace[name] = value
        return name

    def _option_source(self, option, name):
        kind = option[0]
        if kind == "slot":
            return f"s{option[1]}"
        if kind == "seq":
            items = ", ".join(self._option_source(o, f"{name}_{j}") for j, o in enumerate(option[2]))
            return f"[{items}]" if option[1] is list else f"({items},)"
        return self._const(name, option[1])

    def _forward_source(self):
        rec = self.recorder
        lines = ["def forward(T, F):"]
        written = {e.target for e in self.tape if type(e) is InPlace}
        for e in self.tape:
            if type(e) is Entry:
                for option in e.options.values():
                    written.update(_option_slots(option))
        for k in sorted(self.used):
            kind = rec.kinds[k]
            if kind == INPUT:
                lines.append(f"    s{k} = T[{rec.sources[k]}].array")
            elif kind == EXTERNAL:
                lines.append(f"    s{k} = {self._const(f'E{k}', rec.sources[k])}.array")
            elif kind == CONSTANT:
                # A constant some op writes into is copied each call, so that every call starts from its value.
                copy = ".copy()" if k in written else ""
                lines.append(f"    s{k} = {self._const(f'K{k}', rec.sources[k])}{copy}")
        skip = set()
        for group in self.groups.values():
            skip.update(group.members[1:])
        for i, e in enumerate(self.tape):
            if i in skip:
                continue
            kind = type(e)
            if i in self.groups:
                group = self.groups[i]
                args = ", ".join(f"s{k}" for k in group.inputs)
                lines.append(f"    s{group.out} = {self._const(f'G{i}', group)}({args})")
            elif kind is Entry:
                args = [f"s{k}" if a == "slot" else self._const(f"V{i}_{j}", k) for j, (a, k) in enumerate(e.args)]
                args += [f"{name}={self._option_source(o, f'O{i}_{name}')}" for name, o in e.options.items()]
                lines.append(f"    s{e.out} = F[{i}].forward({', '.join(args)})")
                lines.append(f"    if type(s{e.out}) is not ndarray: s{e.out} = asarray(s{e.out})")
            elif kind is InPlace:
                if e.saver is not None:
                    lines.append(f"    replace_saved(F[{e.saver}], s{e.target})")
                lines.append(f"    s{e.target}[...] = s{e.result}")
                lines.append(f"    s{e.result} = s{e.target}")
            elif kind is Mask:
                mask = self._const("dropout_mask", _dropout.dropout_mask)
                lines.append(
                    f"    s{e.out} = {mask}({self._const(f'V{i}', e.shape)}, {e.p!r}, {self._const(f'R{i}', e.generator)})"
                )
            elif kind is Bump:
                lines.append(f"    {self._tensor(e.slot)}._bump_version({e.op!r})")
            elif kind is Increment:
                lines.append(f"    {self._tensor(e.slot)}.array[...] += {self._const(f'D{i}', e.delta)}")
        outs = "".join(f"s{k}, " for k in self.out_slots)
        lines.append(f"    return ({outs})")
        return "\n".join(_free_dead(lines))

    def _tensor(self, slot):
        rec = self.recorder
        if rec.kinds[slot] == INPUT:
            return f"T[{rec.sources[slot]}]"
        return self._const(f"E{slot}", rec.sources[slot])

    def _backward_source(self):
        meta = self.recorder.shapes
        lines = [f"def backward(F, {', '.join(f'g{k}' for k in self.grad_outputs)}):"]
        carried = set()
        for e in self.tape:
            if type(e) is Entry and e.records:
                carried.update(k for (a, k), need in zip(e.args, e.needs) if need)
        carried.difference_update(self.grad_outputs)
        for k in sorted(carried):
            lines.append(f"    g{k} = None")
        for i in range(len(self.tape) - 1, -1, -1):
            e = self.tape[i]
            if type(e) is not Entry or not e.records:
                continue
            wanted = [(j, k) for j, ((a, k), need) in enumerate(zip(e.args, e.needs)) if need]
            if not wanted:
                continue
            lines.append(f"    if g{e.out} is not None:")
            lines.append(f"        r = F[{i}].backward(g{e.out})")
            lines.append("        if type(r) is not tuple: r = (r,)")
            for j, k in wanted:
                m = self._const(f"M{k}", meta[k])
                lines.append(f"        x = r[{j}]")
                lines.append("        if x is not None:")
                lines.append(f"            x = fit(x, {m})")
                lines.append(f"            g{k} = x if g{k} is None else accumulate(g{k}, x)")
            lines.append(f"    g{e.out} = None")  # consumed: free it, as the engine drops a node's buffer
        grads = "".join(f"g{k}, " for k in self.grad_inputs)
        lines.append(f"    return ({grads})")
        self.namespace.update(fit=_fit, accumulate=_accumulate)
        return "\n".join(lines)

    def _compile(self, source, name):
        code = compile(source, f"<glassgrad.compile {name}>", "exec")
        exec(code, self.namespace)
        return self.namespace[name]

    # -- running --------------------------------------------------------------------

    def guard(self):
        """Whether the outside tensors still need gradients as they did when recorded."""
        for t, wanted in self.externals:
            if t.requires_grad is not wanted:
                return False
        return True

    def _frame(self):
        for frame in self.frames:
            if frame.free():
                return frame
        fns = []
        for i, e in enumerate(self.tape):
            fn = None
            if type(e) is Entry and not any(i in g.members for g in self.groups.values()):
                fn = e.cls()
                fn.needs_input_grad = e.needs
                fn.input_meta = e.meta
            fns.append(fn)
        frame = Frame(fns)
        self.frames.append(frame)
        return frame

    def run(self, tensors):
        """Replay the tape on ``tensors`` (the call's inputs, in recording order)."""
        frame = self._frame()
        arrays = self.forward_code(tensors, frame.fns)
        by_slot = dict(zip(self.out_slots, arrays))
        node = None
        if self.grad_output is not None:
            node = CompiledBackward(self, frame)
            rec = self.recorder
            nexts, metas = [], []
            for k in self.grad_inputs:
                t = tensors[rec.sources[k]] if rec.kinds[k] == INPUT else rec.sources[k]
                nexts.append(t.grad_fn or t._accumulator or t._grad_accumulator())
                metas.append(rec.shapes[k])
            node.next_functions = tuple(nexts)
            node.input_meta = tuple(metas)
            node.needs_input_grad = (True,) * len(nexts)
            if len(self.grad_outputs) > 1:
                node = {k: OutputGrad(node, n, rec.shapes[k][1]) for n, k in enumerate(self.grad_outputs)}
        else:
            frame.release()
        return self._build(self.output_spec, by_slot, tensors, node)

    def _build(self, spec, by_slot, tensors, node):
        kind = spec[0]
        if kind == "tensor":
            slot = spec[1]
            source_kind = self.recorder.kinds[slot]
            if source_kind == INPUT:
                return tensors[self.recorder.sources[slot]]
            if source_kind == EXTERNAL:
                return self.recorder.sources[slot]
            t = Tensor._wrap(by_slot[slot])
            if node is not None and slot in self.grad_outputs:
                t.requires_grad = True
                t.grad_fn = node[slot] if type(node) is dict else node
            return t
        if kind == "seq":
            return spec[1](self._build(s, by_slot, tensors, node) for s in spec[2])
        if kind == "dict":
            return {key: self._build(s, by_slot, tensors, node) for key, s in zip(spec[1], spec[2])}
        return spec[1]


_SLOT = re.compile(r"\bs(\d+)\b")


def _free_dead(lines):
    """``del`` each slot's variable after its last line: eager mode frees an intermediate once no
    Tensor holds it, and so must the replay, or every activation would live until the end."""
    last = {}
    for n, line in enumerate(lines):
        for k in _SLOT.findall(line):
            last[k] = n
    dead = {}
    for k, n in last.items():
        dead.setdefault(n, []).append(k)
    out = []
    for n, line in enumerate(lines):
        out.append(line)
        if n in dead and n + 1 < len(lines):
            out.append("    del " + ", ".join(f"s{k}" for k in sorted(dead[n], key=int)))
    return out


def _option_slots(option):
    if option[0] == "slot":
        return [option[1]]
    if option[0] == "seq":
        return [k for o in option[2] for k in _option_slots(o)]
    return []


__all__ = ["Graph", "GraphError", "OUTPUT"]
