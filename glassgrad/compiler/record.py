"""Recording: run a call eagerly once and log every op it applies into a tape.

Each array the call touches becomes a numbered slot: the call's input tensors, the tensors it
reads from outside (a module's parameters and buffers, tensors a function closes over), the
constants it makes (``zeros`` in a forward), the dropout masks it draws, and each op's output.
A tape entry says which Function ran on which slots with which options. ``Graph`` (graph.py)
turns the tape into straight-line code.

What the tape cannot hold marks the recording broken (the call then runs eagerly): a value read
into Python (``.item()``, ``bool()``, ``.tolist()``, ``.numpy()``), a hook registered on a tensor,
random numbers drawn other than by dropout, a backward inside the call, a tensor's array replaced
outside an op, a buffer changed by code the tape does not see.
"""

import contextlib
import threading

import numpy as np

from glassgrad import random
from glassgrad.autograd import grad_mode
from glassgrad.autograd.function import Function
from glassgrad.ops import dropout as _dropout
from glassgrad.tensor import Tensor

# Slot kinds: where a slot's array comes from when the tape is replayed.
INPUT = "input"  # the call's k-th input tensor
EXTERNAL = "external"  # a tensor that outlives the call (parameter, buffer, closed-over tensor): its .array
CONSTANT = "constant"  # an array made during the recording that does not depend on the inputs
OUTPUT = "output"  # the output of a tape entry


class Entry:
    """One op of the tape: ``cls`` applied to ``args`` (('slot', k) or ('value', v)) with ``options``
    (where an array option is a slot, ('slot', k)); its output goes to slot ``out``."""

    __slots__ = ("cls", "args", "options", "out", "needs", "meta", "records")

    def __init__(self, cls, args, options, out, needs, meta, records):
        self.cls, self.args, self.options, self.out = cls, args, options, out
        self.needs = needs  # needs_input_grad as the recording set it
        self.meta = meta  # input_meta: (shape, dtype) of each input needing a gradient (some backwards read it)
        self.records = records  # whether the op joined the autograd graph


class InPlace:
    """``tensor[...] = result`` as Tensor._inplace does: slot ``target`` takes the values of ``result``,
    whose slot then names the target's array; ``saver`` is the entry whose saved copy of the
    target must be replaced first (PyTorch's "original self"), or None."""

    __slots__ = ("target", "result", "saver")

    def __init__(self, target, result, saver):
        self.target, self.result, self.saver = target, result, saver


class Mask:
    """A dropout mask drawn into slot ``out`` (the draw is repeated at replay, in the same order)."""

    __slots__ = ("out", "shape", "p", "generator")

    def __init__(self, out, shape, p, generator):
        self.out, self.shape, self.p, self.generator = out, shape, p, generator


class Bump:
    """A version-counter increment of an outside tensor (an in-place change PyTorch would count)."""

    __slots__ = ("slot", "op")

    def __init__(self, slot, op):
        self.slot, self.op = slot, op


class Increment:
    """An integer buffer incremented by code outside the ops (``num_batches_tracked``)."""

    __slots__ = ("slot", "delta")

    def __init__(self, slot, delta):
        self.slot, self.delta = slot, delta


class Recorder:
    """Logs ops into ``tape`` while ``recording()`` is active; ``inputs`` are the call's tensors,
    ``state`` the outside tensors known beforehand (a module's parameters and buffers)."""

    def __init__(self, inputs, state):
        self.tape = []
        self.kinds = []  # per slot: INPUT, EXTERNAL, CONSTANT or OUTPUT
        self.sources = []  # per slot: input index, Tensor, array, or entry index
        self.shapes = []  # per slot: (shape, dtype) as recorded
        self.arrays = []  # per slot: its array while recording
        self.slot_of = {}  # id(Tensor) -> slot
        self.slot_of_array = {}  # id(ndarray) -> slot
        self.keep = []  # every tensor and array seen, so that no id is reused while recording
        self.created = set()  # ids of tensors made during the recording
        self.masks = {}  # id(mask array) -> slot
        self.producer = {}  # slot -> tape index of the entry that made it
        self.inplace_targets = set()
        self.explained = set()  # outside slots an op writes through its options
        self.depth = 0
        self.in_mask = 0
        self.broken = None
        for k, t in enumerate(inputs):
            self._new(INPUT, k, t)
        self.state = list(state)
        for t in self.state:
            if id(t) not in self.slot_of:
                self._new(EXTERNAL, t, t)
        self._before = [(t, t.array.copy()) for t in self.state if not t.requires_grad]

    # -- slots --------------------------------------------------------------------

    def _new(self, kind, source, tensor=None, array=None):
        slot = len(self.kinds)
        self.kinds.append(kind)
        self.sources.append(source)
        if tensor is not None:
            array = tensor.array
            self.slot_of[id(tensor)] = slot
            self.keep.append(tensor)
        self.slot_of_array[id(array)] = slot
        self.arrays.append(array)
        self.shapes.append((array.shape, array.dtype))
        return slot

    def slot(self, t):
        """The slot of tensor ``t``, giving it one (outside tensor or constant) on first sight."""
        slot = self.slot_of.get(id(t))
        if slot is not None:
            if self.kinds[slot] == OUTPUT and self.arrays[slot] is not t.array:
                self.fail(f"a tensor's array was replaced outside an op ({t.array.shape})")
            return slot
        slot = self.slot_of_array.get(id(t.array))
        if slot is not None:  # t.detach(), or a Tensor made over an op's output: the same memory
            self.slot_of[id(t)] = slot
            self.keep.append(t)
            return slot
        if id(t) not in self.created:
            return self._new(EXTERNAL, t, t)
        base = t.array.base
        while base is not None:
            if id(base) in self.slot_of_array:
                self.fail(f"a tensor of shape {tuple(t.shape)} views an op's output without an op")
            base = base.base
        # Its value now, before the call may write into it: each replay starts from that.
        return self._new(CONSTANT, t.array.copy(), t)

    def _option(self, value):
        if type(value) is np.ndarray:
            slot = self.slot_of_array.get(id(value))
            if slot is None:
                slot = self.masks.get(id(value))
            if slot is not None:
                if self.kinds[slot] == EXTERNAL:
                    self.explained.add(slot)
                return ("slot", slot)
            return ("value", value)
        if isinstance(value, Tensor):
            return ("slot", self.slot(value))
        if type(value) in (tuple, list) and any(type(v) is np.ndarray or isinstance(v, Tensor) for v in value):
            return ("seq", type(value), tuple(self._option(v) for v in value))
        return ("value", value)

    def fail(self, reason):
        """Mark the recording broken; the call goes on eagerly (it has already changed state, as
        running statistics, so it cannot be restarted)."""
        if self.broken is None:
            self.broken = reason

    # -- the patched entry points -------------------------------------------------

    def apply(self, original, cls, inputs, options):
        if self.depth or self.broken:  # an op inside an op's forward belongs to that op's kernel
            return original(cls, inputs, options)
        args = [("slot", self.slot(x)) if isinstance(x, Tensor) else ("value", x) for x in inputs]
        opts = {name: self._option(value) for name, value in options.items()}
        self.depth += 1
        try:
            result, fn = original(cls, inputs, options)
        finally:
            self.depth -= 1
        index = len(self.tape)
        out = self._new(OUTPUT, index, result)
        self.producer[out] = index
        records = result.grad_fn is fn
        self.tape.append(Entry(cls, tuple(args), opts, out, tuple(fn.needs_input_grad), fn.input_meta, records))
        return result, fn

    def inplace(self, original, tensor, op, result):
        if self.broken:
            return original(tensor, op, result)
        target = self.slot(tensor)
        source = self.slot(result)
        saver = None
        if result.grad_fn is not None and grad_mode._grad_enabled and source in self.producer:
            saver = self.producer[source]
        out = original(tensor, op, result)
        self.tape.append(InPlace(target, source, saver))
        self.inplace_targets.add(target)
        if self.kinds[target] == EXTERNAL:
            self.explained.add(target)
        # From here on the tensor is the result (its values, and its place in the graph).
        self.slot_of[id(tensor)] = source
        self.slot_of_array[id(tensor.array)] = source
        self.arrays[source] = tensor.array
        return out

    def bump(self, original, tensor, op):
        slot = self.slot_of.get(id(tensor))
        if slot is not None and self.kinds[slot] in (INPUT, EXTERNAL) and not self.broken:
            self.tape.append(Bump(slot, op))
        return original(tensor, op)

    def mask(self, original, shape, p, generator=None):
        self.in_mask += 1
        try:
            array = original(shape, p, generator)
        finally:
            self.in_mask -= 1
        if not self.depth and not self.broken:
            slot = self._new(OUTPUT, None, array=array)
            self.masks[id(array)] = slot
            self.tape.append(Mask(slot, tuple(shape), p, generator))
        return array

    def rng(self, original, generator):
        if not self.in_mask:
            self.fail("random numbers were drawn outside dropout (they would repeat at every replay)")
        return original(generator)

    def release(self):
        """Drop what only the recording needed (its tensors and arrays: the first call's activations)."""
        self.keep = self.arrays = self._before = None
        self.slot_of, self.slot_of_array, self.created, self.masks = {}, {}, set(), {}

    def finish(self):
        """Check the buffers the ops did not write: an integer counter that moved is replayed as an
        increment; any other change made behind the ops' back breaks the recording."""
        for t, before in self._before:
            slot = self.slot_of.get(id(t))
            if slot in self.explained or np.array_equal(before, t.array):
                continue
            if before.dtype.kind in "iu" and before.shape == t.array.shape and slot is not None:
                self.tape.append(Increment(slot, t.array - before))
                continue
            self.fail(f"a buffer of shape {tuple(t.shape)} was changed outside the ops")


_active: list[Recorder] = []


def recording_active() -> bool:
    """Whether a recording is running (a compiled callable inside it then runs eagerly)."""
    return bool(_active)


def _refuse(what, original, thread):
    def method(self, *args, **kwargs):
        if threading.get_ident() == thread:
            _active[-1].fail(f"{what} in the call: the compiled graph cannot depend on values")
        return original(self, *args, **kwargs)

    return method


@contextlib.contextmanager
def recording(recorder):
    """Swap the entry points the tape needs for the duration of the block (the hot path pays nothing outside)."""
    saved = {
        (Function, "_apply"): Function.__dict__["_apply"],
        (Tensor, "_inplace"): Tensor.__dict__["_inplace"],
        (Tensor, "_bump_version"): Tensor.__dict__["_bump_version"],
        (Tensor, "_wrap"): Tensor.__dict__["_wrap"],
        (Tensor, "__init__"): Tensor.__dict__["__init__"],
    }
    for name in ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__", "__array__"):
        saved[(Tensor, name)] = Tensor.__dict__[name]
    for name in ("register_hook", "retain_grad", "register_post_accumulate_grad_hook", "backward"):
        saved[(Tensor, name)] = Tensor.__dict__[name]
    saved[(_dropout, "dropout_mask")] = _dropout.dropout_mask
    saved[(random, "_rng")] = random._rng

    original_apply = saved[(Function, "_apply")].__func__
    original_inplace = saved[(Tensor, "_inplace")]
    original_bump = saved[(Tensor, "_bump_version")]
    original_wrap = saved[(Tensor, "_wrap")].__func__
    original_init = saved[(Tensor, "__init__")]
    original_mask = saved[(_dropout, "dropout_mask")]
    original_rng = saved[(random, "_rng")]
    created = recorder.created
    # Only the recording thread's ops are the call's (a DataLoader thread may run ops meanwhile).
    thread = threading.get_ident()
    here = threading.get_ident

    def _apply(cls, inputs, options, into=None):
        if here() != thread:
            return original_apply(cls, inputs, options, into)
        # Without ``into``: the tape keeps the op and its in-place write apart (Function.apply_into),
        # as the compiled graph plans its own memory.
        return recorder.apply(original_apply, cls, inputs, options)

    def _wrap(cls, array):
        t = original_wrap(cls, array)
        created.add(id(t))
        recorder.keep.append(t)
        return t

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        created.add(id(self))
        recorder.keep.append(self)

    def _inplace(self, op, result):
        if here() != thread:
            return original_inplace(self, op, result)
        return recorder.inplace(original_inplace, self, op, result)

    def _bump_version(self, op):
        if here() != thread:
            return original_bump(self, op)
        return recorder.bump(original_bump, self, op)

    def dropout_mask(shape, p, generator=None):
        if here() != thread:
            return original_mask(shape, p, generator)
        return recorder.mask(original_mask, shape, p, generator)

    def _rng(generator):
        if here() != thread:
            return original_rng(generator)
        return recorder.rng(original_rng, generator)

    Function._apply = classmethod(_apply)
    Tensor._inplace = _inplace
    Tensor._bump_version = _bump_version
    Tensor._wrap = classmethod(_wrap)
    Tensor.__init__ = __init__
    for name, what in (
        ("item", ".item()"),
        ("tolist", ".tolist()"),
        ("numpy", ".numpy()"),
        ("__bool__", "bool() of a tensor"),
        ("__float__", "float() of a tensor"),
        ("__int__", "int() of a tensor"),
        ("__index__", "a tensor used as an index"),
        ("__array__", "a tensor read as a NumPy array"),
        ("register_hook", "a hook registered on a tensor"),
        ("retain_grad", "retain_grad()"),
        ("register_post_accumulate_grad_hook", "a hook registered on a tensor"),
        ("backward", "backward()"),
    ):
        setattr(Tensor, name, _refuse(what, saved[(Tensor, name)], thread))
    _dropout.dropout_mask = dropout_mask
    random._rng = _rng
    _active.append(recorder)
    try:
        yield recorder
    finally:
        _active.pop()
        for (owner, name), value in saved.items():
            setattr(owner, name, value)
