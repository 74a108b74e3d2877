"""Fusion: a chain of elementwise ops on same-shaped arrays becomes one loop.

A chain is a run of consecutive tape entries, each an elementwise op from ``OPS`` whose array
operands all have the output's shape and dtype, where each entry after the first takes the one
before it, and no intermediate result is used anywhere else. With numba the chain is one compiled
loop over the elements (one read of each operand, one write); without it, or on arrays that are
not C-contiguous, it runs as NumPy ufuncs writing in place into one buffer. Only graphs that
record no gradients are fused: an op's backward needs the intermediates the loop never stores.

Each fused op is exact in IEEE arithmetic (add, subtract, multiply, divide, negate, compare), so
the loop gives the same bits as the op-by-op kernels.
"""

import numpy as np

from glassgrad import backend
from glassgrad.backend import memory
from glassgrad.compiler.record import Bump, Entry, Increment, InPlace
from glassgrad.ops import activation, elementwise

# op class -> (numba expression over x (and y), NumPy in-place form); c0, c1 are typed constants.
OPS = {
    elementwise.Add: ("{x} + {y}", np.add),
    elementwise.Sub: ("{x} - {y}", np.subtract),
    elementwise.Mul: ("{x} * {y}", np.multiply),
    elementwise.Div: ("{x} / {y}", np.divide),
    elementwise.Neg: ("-{x}", np.negative),
    elementwise.ReLU: ("{z} if {x} <= {z} else {x}", None),
    activation.Hardtanh: ("{lo} if {x} < {lo} else ({hi} if {x} > {hi} else {x})", None),
}

_kernels: dict[tuple[str, str], object] = {}  # generated source -> compiled loop (shared by all graphs)


def _operands(graph, e):
    """The operands of ``e`` as ('slot', k) / ('const', number), or None if ``e`` cannot be fused."""
    if e.cls not in OPS:
        return None
    shape, dt = graph.recorder.shapes[e.out]
    if dt.kind != "f":
        return None
    options = dict(e.options)
    if e.cls in (elementwise.Add, elementwise.Sub):
        alpha = options.pop("alpha", ("value", 1))
        if alpha[0] != "value" or alpha[1] != 1:
            return None
    if e.cls is activation.Hardtanh:
        for name in ("min_val", "max_val"):
            if options.get(name, ("value", 0.0))[0] != "value":
                return None
        options.pop("min_val", None), options.pop("max_val", None)
    if options:
        return None
    operands = []
    for kind, value in e.args:
        if kind == "slot":
            if graph.recorder.shapes[value] != (shape, dt):
                return None
            operands.append(("slot", value))
        elif type(value) in (int, float):
            operands.append(("const", value))
        else:
            return None
    if not any(kind == "slot" for kind, _ in operands):
        return None
    return operands


def _uses(graph):
    counts = {}

    def use(k):
        counts[k] = counts.get(k, 0) + 1

    for e in graph.tape:
        if type(e) is Entry:
            for kind, k in e.args:
                if kind == "slot":
                    use(k)
            for option in e.options.values():
                if option[0] != "value":
                    for k in _slots(option):
                        use(k)
        elif type(e) is InPlace:
            use(e.target), use(e.result), use(e.result)
        elif type(e) in (Bump, Increment):
            use(e.slot)
    for k in graph.out_slots:
        use(k), use(k)
    return counts


def _slots(option):
    if option[0] == "slot":
        return [option[1]]
    return [k for o in option[2] for k in _slots(o)] if option[0] == "seq" else []


def plan(graph):
    """{tape index of the chain's first entry: Group} for every chain of two or more entries."""
    uses = _uses(graph)
    groups = {}
    chain = []  # [(index, operands)]

    def close():
        if len(chain) >= 2:
            groups[chain[0][0]] = Group(graph, chain)
        chain.clear()

    for i, e in enumerate(graph.tape):
        operands = _operands(graph, e) if type(e) is Entry else None
        if operands is None:
            close()
            continue
        if chain:
            prev = graph.tape[chain[-1][0]]
            same = graph.recorder.shapes[prev.out] == graph.recorder.shapes[e.out]
            if same and uses.get(prev.out, 0) == 1 and ("slot", prev.out) in operands:
                chain.append((i, operands))
                continue
            close()
        chain.append((i, operands))
    close()
    return groups


class Group:
    """A fused chain: called on the arrays of its outside operands, returns the last entry's output."""

    def __init__(self, graph, chain):
        self.members = [i for i, _ in chain]
        shape, self.dtype = graph.recorder.shapes[graph.tape[chain[-1][0]].out]
        self.shape = shape
        self.out = graph.tape[chain[-1][0]].out
        self.inputs = []  # outside slots, in the order the call passes them
        self.steps = []  # (class, operands as ('in', n) / ('prev',) / ('const', value), options)
        prev = None
        for i, operands in chain:
            e = graph.tape[i]
            step = []
            for kind, value in operands:
                if kind == "slot" and value == prev:
                    step.append(("prev",))
                elif kind == "slot":
                    if value not in self.inputs:
                        self.inputs.append(value)
                    step.append(("in", self.inputs.index(value)))
                else:
                    step.append(("const", self.dtype.type(value)))
            options = {name: o[1] for name, o in e.options.items()}
            self.steps.append((e.cls, step, options))
            prev = e.out
        self.kernel = None
        self.compiled = backend.BACKEND == "numba"

    def __call__(self, *arrays):
        if self.compiled and all(a.flags.c_contiguous for a in arrays):
            if self.kernel is None:
                self.kernel, self.constants = self._build()
            out = memory.empty(self.shape, self.dtype)
            self.kernel(*(a.reshape(-1) for a in arrays), *self.constants, out.reshape(-1))
            return out
        return self._numpy(arrays)

    def _numpy(self, arrays):
        buf = None
        for cls, step, options in self.steps:
            values = [arrays[s[1]] if s[0] == "in" else buf if s[0] == "prev" else s[1] for s in step]
            out = memory.empty(self.shape, self.dtype) if buf is None else buf
            if cls is elementwise.ReLU:
                np.maximum(values[0], 0, out=out, dtype=self.dtype)
            elif cls is activation.Hardtanh:
                t = self.dtype.type
                np.clip(values[0], t(options.get("min_val", -1.0)), t(options.get("max_val", 1.0)), out=out)
            else:
                OPS[cls][1](*values, out=out)
            buf = out
        return buf

    def _build(self):
        """The numba loop for this chain (compiled once per distinct chain and dtype)."""
        constants = []
        names = [f"a{n}" for n in range(len(self.inputs))]
        body = []
        prev = None
        t = self.dtype.type

        def constant(value):
            constants.append(t(value))
            return f"c{len(constants) - 1}"

        for j, (cls, step, options) in enumerate(self.steps):
            terms = []
            for s in step:
                if s[0] == "in":
                    terms.append(f"a{s[1]}[i]")
                elif s[0] == "prev":
                    terms.append(prev)
                else:
                    terms.append(constant(s[1]))
            x, y = terms[0], terms[1] if len(terms) > 1 else None
            fields = {"x": x, "y": y}
            if cls is elementwise.ReLU:
                fields["z"] = constant(0)
            if cls is activation.Hardtanh:
                fields["lo"] = constant(options.get("min_val", -1.0))
                fields["hi"] = constant(options.get("max_val", 1.0))
            body.append(f"        v{j} = {OPS[cls][0].format(**fields)}")
            prev = f"v{j}"
        args = ", ".join(names + [f"c{n}" for n in range(len(constants))] + ["out"])
        source = "\n".join([f"def chain({args}):", "    for i in range(out.size):", *body, f"        out[i] = {prev}"])
        key = (source, self.dtype.str)
        kernel = _kernels.get(key)
        if kernel is None:
            import numba

            namespace = {}
            exec(compile(source, "<glassgrad.compile fusion>", "exec"), namespace)
            kernel = _kernels[key] = numba.njit(nogil=True, error_model="numpy")(namespace["chain"])
        return kernel, tuple(constants)
