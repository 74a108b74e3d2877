"""The computational graph behind a tensor: walk it, describe it, draw it.

``graph(tensor)`` follows ``grad_fn`` and ``next_functions`` from a tensor back to
its leaves and returns a :class:`Graph`: one node per operation and per input
that requires a gradient, in topological order (inputs first). Leaves carry
their value and, after backward, their ``.grad``. Operation nodes carry their
forward value and gradient when they are known: from the tensors passed in
``names`` (use ``retain_grad()`` on them for gradients), or from a :func:`trace`
recorded while the graph was built.

Outputs: Graphviz DOT text always (``Graph.to_dot``), SVG/PNG through the ``dot``
program when it is installed (``Graph.render``), and the step-by-step animation of
``glassgrad.viz.animate`` which needs no external program.
"""

import contextlib
import shutil
import subprocess
from dataclasses import dataclass, field

import numpy as np

from glassgrad.autograd.function import AccumulateGrad, Function
from glassgrad.tensor import Tensor

# Arrays up to this size are copied by a trace; larger ones keep only statistics.
_TRACE_COPY_LIMIT = 65536


@dataclass
class GraphNode:
    """One vertex: an input (a leaf tensor) or an operation (a Function node).

    ``inputs`` are the ids of the nodes feeding this one, in the op's argument
    order (arguments that need no gradient, such as plain numbers, are left out);
    ``positions[input_id]`` lists the argument positions that input fills.
    """

    id: str
    kind: str  # "input" or "op"
    op: str
    name: str | None = None
    value: np.ndarray | None = None
    grad: np.ndarray | None = None
    inputs: list = field(default_factory=list)
    positions: dict = field(default_factory=dict)
    fn: object = field(default=None, repr=False)

    @property
    def label(self):
        return self.name or self.op


class Graph:
    """Nodes in topological order (every node after the nodes it uses); ``root`` is the output."""

    def __init__(self, nodes, root):
        self.nodes = nodes
        self.root = root
        self.by_id = {node.id: node for node in nodes}

    def __iter__(self):
        return iter(self.nodes)

    def __len__(self):
        return len(self.nodes)

    def __getitem__(self, key):
        """A node by id or by name."""
        if key in self.by_id:
            return self.by_id[key]
        for node in self.nodes:
            if node.name == key:
                return node
        raise KeyError(f"graph has no node with id or name {key!r}; names: {[n.name for n in self.nodes if n.name]}")

    def edges(self):
        """(from_id, to_id) pairs: the value of ``from`` flows into ``to``."""
        return [(child, node.id) for node in self.nodes for child in node.inputs]

    def consumers(self, node_id):
        return [node for node in self.nodes if node_id in node.inputs]

    def _repr_svg_(self):
        """Jupyter's view: the graph drawn as SVG with every value and gradient known."""
        from glassgrad.viz.animate import svg_text

        return svg_text(self)

    def to_dot(self):
        """Graphviz DOT text, left to right: inputs on the left, the output on the right."""
        lines = ["digraph glassgrad {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=11];']
        for node in self.nodes:
            text = [node.label if node.kind == "input" or not node.name else f"{node.name} ({node.op})"]
            if node.value is not None:
                text.append(f"value {describe(node.value)}")
            if node.grad is not None:
                text.append(f"grad {describe(node.grad)}")
            shape = "ellipse" if node.kind == "input" else "box"
            style = ', style="rounded,filled", fillcolor="#e8f0fe"' if node.kind == "op" else ""
            label = "\\n".join(_dot_escape(t) for t in text)
            lines.append(f'  {node.id} [label="{label}", shape={shape}{style}];')
        for src, dst in self.edges():
            lines.append(f"  {src} -> {dst};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def render(self, path, format=None):
        """Write the graph as SVG or PNG (from the file suffix) with Graphviz's ``dot``."""
        path = str(path)
        format = format or path.rsplit(".", 1)[-1].lower()
        if format not in ("svg", "png", "pdf"):
            raise ValueError(f"Graph.render: unknown format {format!r}; use a path ending in .svg, .png or .pdf")
        dot = shutil.which("dot")
        if dot is None:
            raise RuntimeError(
                "Graph.render: the Graphviz program `dot` is not installed; install Graphviz "
                "(apt-get install graphviz), or use Graph.to_dot() or glassgrad.viz.animate "
                "which need no external program"
            )
        subprocess.run([dot, f"-T{format}", "-o", path], input=self.to_dot().encode(), check=True)
        return path


def describe(array):
    """A short text for a value: scalars in full, arrays as shape and a few statistics."""
    if isinstance(array, dict):  # statistics kept by a trace for a large array
        return _stats_text(array)
    array = np.asarray(array)
    if array.size == 1:
        return format_number(array.reshape(()).item())
    return _stats_text(_stats(array))


def format_number(x, digits=6):
    """Up to ``digits`` significant digits, no trailing zeros: 2, -12, 0.552308, 1e-08."""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    x = float(x)
    if x == 0:
        return "0"
    if not np.isfinite(x):
        return str(x)
    text = f"{x:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{int(exponent)}"
    return text


def _stats(array):
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
    stats = {"shape": tuple(array.shape)}
    if finite.size:
        stats.update(
            mean=float(finite.mean()), std=float(finite.std()), min=float(finite.min()), max=float(finite.max())
        )
    stats["nonfinite"] = int(array.size - finite.size)
    return stats


def _stats_text(stats):
    shape = "x".join(map(str, stats["shape"])) or "scalar"
    if "mean" not in stats:
        return f"[{shape}] all non-finite"
    text = (
        f"[{shape}] mean {format_number(stats['mean'], 3)} std {format_number(stats['std'], 3)} "
        f"min {format_number(stats['min'], 3)} max {format_number(stats['max'], 3)}"
    )
    if stats["nonfinite"]:
        text += f" ({stats['nonfinite']} non-finite)"
    return text


def _dot_escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')


class Trace:
    """Forward values and gradients of the operation nodes created inside ``with trace()``."""

    def __init__(self):
        self.values = {}
        self.grads = {}

    def _record(self, fn, result):
        array = result.array
        self.values[fn] = array.copy() if array.size <= _TRACE_COPY_LIMIT else _stats(array)
        grads = self.grads

        def keep(grad):
            if fn in grads:
                grads[fn] = grads[fn] + grad
            else:
                grads[fn] = np.array(grad, copy=True) if grad.size <= _TRACE_COPY_LIMIT else _stats(grad)

        _node_pre_hooks(fn).append(keep)


def _node_pre_hooks(fn):
    """The node's own list of gradient pre-hooks (the class may only hold an empty default)."""
    hooks = fn.__dict__.get("_pre_hooks")
    if not isinstance(hooks, list):
        hooks = fn._pre_hooks = list(getattr(fn, "_pre_hooks", ()))
    return hooks


@contextlib.contextmanager
def trace():
    """Record every operation's output (and, after backward, its gradient) made in the block.

    >>> with glassgrad.viz.trace() as t:
    ...     loss = model(x).sum()
    >>> loss.backward()
    >>> glassgrad.viz.graph(loss, trace=t).to_dot()
    """
    recorder = Trace()
    original = Function.__dict__["_apply"]

    def _apply(cls, inputs, options, into=None):
        result, fn = original.__func__(cls, inputs, options, into)
        if result.grad_fn is fn:
            recorder._record(fn, result)
        return result, fn

    Function._apply = classmethod(_apply)
    try:
        yield recorder
    finally:
        Function._apply = original


def graph(tensor, names=None, trace=None):
    """The graph that produced ``tensor``, as a :class:`Graph`.

    ``names`` maps a name to a tensor of the graph (leaf or intermediate) so that
    its node is labelled, and its value and ``.grad`` shown. ``trace`` (from
    :func:`trace`) supplies the values and gradients of the other operations.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"viz.graph: expected a Tensor, got {type(tensor).__name__}")
    root = tensor.grad_fn
    if root is None:
        if not tensor.requires_grad:
            raise ValueError(
                "viz.graph: this tensor has no graph (no grad_fn and requires_grad=False); build it "
                "from tensors created with requires_grad=True, outside no_grad()"
            )
        root = tensor._grad_accumulator()
    named = {}
    for name, t in (names or {}).items():
        if isinstance(t, Tensor) and (t.grad_fn is not None or t.requires_grad):
            named[t.grad_fn or t._grad_accumulator()] = (name, t)
    named.setdefault(root, (None, tensor))

    order = _topological_order(root)
    ids = {fn: f"n{i}" for i, fn in enumerate(order)}
    nodes = []
    for fn in order:
        name, t = named.get(fn, (None, None))
        if isinstance(fn, AccumulateGrad):
            leaf = fn.variable
            nodes.append(
                GraphNode(
                    ids[fn], "input", "input", name, leaf.array, None if leaf.grad is None else leaf.grad.array, fn=fn
                )
            )
            continue
        value = t.array if t is not None else (trace.values.get(fn) if trace else None)
        grad = t.grad.array if t is not None and t.grad is not None else (trace.grads.get(fn) if trace else None)
        # A child used twice (a * a) is one edge whose local derivative sums both positions.
        positions = {}
        for position, child in enumerate(fn.next_functions):
            if child is not None:
                positions.setdefault(ids[child], []).append(position)
        inputs = list(positions)
        nodes.append(GraphNode(ids[fn], "op", fn.name, name, value, grad, inputs, positions, fn=fn))
    return Graph(nodes, ids[root])


def _topological_order(root):
    """Nodes reachable from ``root``, each after all nodes it uses (iterative DFS post-order)."""
    order, done = [], set()
    stack = [(root, iter(root.next_functions))]
    seen = {root}
    while stack:
        fn, children = stack[-1]
        for child in children:
            if child is not None and child not in seen:
                seen.add(child)
                stack.append((child, iter(child.next_functions)))
                break
        else:
            stack.pop()
            if fn not in done:
                done.add(fn)
                order.append(fn)
    return order


def local_derivatives(graph):
    """The local derivative d(node)/d(input) on every edge whose node holds a single number.

    Each op's own ``backward`` is called with a gradient of 1, so the numbers are
    the ones autograd multiplies along the chain. Call it before ``backward()``
    (or after ``backward(retain_graph=True)``): backward frees what ops saved.
    Returns ``{(input_id, node_id): float}``.
    """
    result = {}
    for node in graph.nodes:
        value = node.value
        if node.kind != "op" or value is None or isinstance(value, dict) or np.size(value) != 1:
            continue
        try:
            grads = node.fn.backward(np.ones_like(np.asarray(value)))
        except RuntimeError as error:
            raise RuntimeError(
                f"viz.local_derivatives: {node.op} has already freed what it saved ({error}); "
                "call local_derivatives before backward(), or use backward(retain_graph=True)"
            ) from None
        if type(grads) is not tuple:
            grads = (grads,)
        for child, positions in node.positions.items():
            parts = [np.asarray(grads[p], dtype=np.float64).sum() for p in positions if grads[p] is not None]
            result[(child, node.id)] = float(sum(parts))
    return result
