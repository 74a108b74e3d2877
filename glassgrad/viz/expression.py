"""Arithmetic expressions as glassgrad graphs, read safely with Python's ``ast`` (never ``eval``).

``evaluate("(a*x + b*y) * (c*z)", {"a": 2, "b": 5, ...}, target=15)`` builds one
scalar tensor per variable, one op per operation, names every intermediate
result (p, q, s, r, t for the seed's example, as the seed names them), runs
backward from L = target - output (or from the output when there is no target)
and keeps what an explanation needs: each forward value, each local derivative
with its formula, and the chain-rule paths from L to every variable.
"""

import ast
from dataclasses import dataclass, field

import numpy as np

import glassgrad
from glassgrad.viz.graph import format_number, graph, local_derivatives

# Functions an expression may call: name -> (glassgrad function, local derivative formula in u and out).
FUNCTIONS = {
    "exp": (glassgrad.exp, "{out}"),
    "log": (glassgrad.log, "1/{u}"),
    "sigmoid": (glassgrad.sigmoid, "{out}*(1-{out})"),
    "tanh": (glassgrad.tanh, "1-{out}^2"),
    "relu": (glassgrad.relu, "(1 if {u} > 0 else 0)"),
    "sin": (glassgrad.sin, "cos({u})"),
    "cos": (glassgrad.cos, "-sin({u})"),
    "sqrt": (glassgrad.sqrt, "1/(2*{out})"),
    "abs": (glassgrad.abs, "sign({u})"),
}

_BINARY = {
    ast.Add: ("+", glassgrad.add, ("1", "1")),
    ast.Sub: ("-", glassgrad.sub, ("1", "-1")),
    ast.Mult: ("*", glassgrad.mul, ("{b}", "{a}")),
    ast.Div: ("/", glassgrad.div, ("1/{b}", "-{a}/{b}^2")),
    ast.Pow: ("**", glassgrad.pow, ("{b}*{a}^({b}-1)", "{out}*log({a})")),
}

# Expressions the seeds work through, with the names the seeds give their intermediate
# results, keyed by the shape of the expression (every variable written as V).
SEED_NAMES = {
    # seed 000: f = (ax + by) * cz
    "(V*V+V*V)*(V*V)": ["p", "q", "s", "r", "t"],
    # seed 001: the 2-2-1 sigmoid network and its squared error, L = (y - y_hat)^2
    "(V-(V*sigmoid(V*V+V*V)+V*sigmoid(V*V+V*V)))**2": [
        *("w1x1", "w3x2", "z1", "a1", "w5a1", "w2x1", "w4x2", "z2", "a2", "w6a2", "y_hat", "e", "L"),
    ],
}

_NAME_POOL = "pqrstuvwhkmn"

# Bounds on what an explanation can hold: past a few hundred operations the walk-through is
# unreadable, and the graph's recursive pieces (Python's own parser among them) would hit the
# interpreter's recursion limit, so a larger expression gets a clear error instead.
MAX_CHARACTERS = 10_000
MAX_OPERATIONS = 250
_EXCERPT = 60


def _excerpt(source):
    """``source`` as repr, cut to a bounded excerpt so an error never echoes a huge input."""
    if len(source) <= 2 * _EXCERPT:
        return repr(source)
    return f"{source[:_EXCERPT]!r}...{source[-_EXCERPT:]!r} ({len(source):,} characters)"


@dataclass
class Step:
    """One operation: ``name = formula`` (``operands`` are names or constants as text)."""

    name: str
    op: str
    operands: list
    formula: str
    tensor: object
    derivative_formulas: list = field(default_factory=list)


@dataclass
class Expression:
    source: str
    variables: dict
    steps: list
    output: object
    target: float | None = None
    loss: object = None
    graph: object = None
    local: dict = field(default_factory=dict)

    @property
    def top(self):
        """The tensor backward starts from: L when a target is set, else the output."""
        return self.output if self.loss is None else self.loss

    @property
    def top_name(self):
        return self.steps[-1].name

    def value(self, name):
        return self._tensors()[name].array.item()

    def grad(self, name):
        """dTop/dname as a float (after backward)."""
        tensor = self._tensors()[name]
        return None if tensor.grad is None else tensor.grad.array.item()

    def _tensors(self):
        cached = getattr(self, "_tensor_map", None)
        if cached is None or len(cached) != len(self.variables) + len(self.steps):
            cached = dict(self.variables)
            cached.update({step.name: step.tensor for step in self.steps})
            self._tensor_map = cached
        return cached

    def local_derivative(self, of, wrt):
        """d(of)/d(wrt) for one edge of the graph, as a float."""
        return self.local[(self._node_id(wrt), self._node_id(of))]

    def _node_id(self, name):
        # By name only: a variable or step name such as "n12" may equal another node's id.
        ids = getattr(self, "_ids", None)
        if ids is None or ids[0] is not self.graph:
            ids = (self.graph, {node.name: node.id for node in self.graph if node.name})
            self._ids = ids
        return ids[1][name]

    def _repr_html_(self):
        """Jupyter's view: the step-by-step animation of this expression, inline."""
        return animation(self)._repr_html_()

    def derivative_formula(self, of, wrt):
        step = next(s for s in self.steps if s.name == of)
        texts = [f for operand, f in zip(step.operands, step.derivative_formulas) if operand == wrt]
        return texts[0] if len(texts) == 1 else " + ".join(f"({t})" for t in texts)

    def paths(self, variable):
        """Every chain from the top down to ``variable``: lists of names [L, t, s, p, a]."""
        children = {s.name: [o for o in dict.fromkeys(s.operands) if o in self._tensors()] for s in self.steps}
        found, stack = [], [[self.top_name]]
        while stack:
            path = stack.pop()
            if path[-1] == variable:
                found.append(path)
                continue
            for child in reversed(children.get(path[-1], [])):
                stack.append(path + [child])
        return found


def parse(source):
    """The checked syntax tree of ``source``: numbers, names, + - * / **, unary -, and FUNCTIONS."""
    if not isinstance(source, str):
        raise TypeError(f"expression must be a str, got {type(source).__name__}")
    if len(source) > MAX_CHARACTERS:
        raise ValueError(
            f"expression {_excerpt(source)} is too long: at most {MAX_CHARACTERS:,} characters can be explained"
        )
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as error:
        raise ValueError(f"expression {_excerpt(source)} is not valid arithmetic: {error.msg}") from None
    except (RecursionError, MemoryError):
        raise ValueError(
            f"expression {_excerpt(source)} is nested too deeply to explain (at most {MAX_OPERATIONS} operations)"
        ) from None
    _check_size(tree, source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.Load, ast.Name, *_BINARY, ast.USub, ast.UAdd)):
            continue
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            continue
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            continue
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            if type(node.value) is int and node.value.bit_length() > 1023:
                raise ValueError(
                    f"expression {_excerpt(source)}: the literal {_excerpt(str(node.value))} is too large "
                    "for a float64; write it in scientific notation, e.g. 1e300"
                )
            continue
        if isinstance(node, ast.Call):
            if (
                isinstance(node.func, ast.Name)
                and node.func.id in FUNCTIONS
                and len(node.args) == 1
                and not node.keywords
            ):
                continue
            raise ValueError(
                f"expression {_excerpt(source)}: only one-argument calls of {', '.join(sorted(FUNCTIONS))} are allowed"
            )
        raise ValueError(
            f"expression {_excerpt(source)}: {type(node).__name__} is not allowed; use numbers, names, "
            f"+ - * / **, parentheses and {', '.join(sorted(FUNCTIONS))}"
        )
    return tree


def _check_size(tree, source):
    """Raise ValueError when ``tree`` has more than MAX_OPERATIONS operations (which bounds its depth too)."""
    operations, stack = 0, [tree.body]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Call)):
            operations += 1
            if operations > MAX_OPERATIONS:
                raise ValueError(
                    f"expression {_excerpt(source)} has more than {MAX_OPERATIONS} operations; "
                    "explain a smaller expression"
                )
        stack.extend(ast.iter_child_nodes(node))


def variable_names(tree):
    function_names = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in function_names]
    found.sort(key=lambda n: (n.lineno, n.col_offset))
    return list(dict.fromkeys(n.id for n in found))


def _shape_key(node):
    """The expression with every variable written as V, e.g. '(V*V+V*V)*(V*V)'."""

    def text(n, parent_prec=0):
        if isinstance(n, ast.Name):
            return "V"
        if isinstance(n, ast.Constant):
            return repr(n.value)
        if isinstance(n, ast.UnaryOp):
            return "-" + text(n.operand, 3)
        if isinstance(n, ast.Call):
            return f"{n.func.id}({text(n.args[0])})"
        prec = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2, ast.Pow: 3}[type(n.op)]
        body = text(n.left, prec) + _BINARY[type(n.op)][0] + text(n.right, prec + (type(n.op) is not ast.Pow))
        return f"({body})" if prec < parent_prec else body

    return text(node)


def evaluate(source, values, target=None, dtype=None):
    """Build, run forward and backward, and return an :class:`Expression`.

    ``values`` gives every variable a number; computation is in float64 unless
    ``dtype`` says otherwise, so hand-checked numbers come out exactly.
    """
    tree = parse(source)
    names = variable_names(tree)
    missing = [n for n in names if n not in values]
    if missing:
        raise ValueError(
            f"expression {_excerpt(source)}: no value for {', '.join(missing)}; give one with --set NAME=VALUE"
        )
    if "L" in names and target is not None:
        raise ValueError("expression uses the name L, which is kept for the loss L = target - output; rename it")
    dtype = dtype or glassgrad.float64
    variables = {n: glassgrad.tensor(float(values[n]), dtype=dtype, requires_grad=True) for n in names}
    seed_names = SEED_NAMES.get(_shape_key(tree.body), [])
    pool = iter([*seed_names, *(c for c in _NAME_POOL if c not in names)])
    fallback = (f"n{i}" for i in range(1, 10**6))
    steps = []

    used = set(names)

    reserved = {"L"} if target is not None else set()

    def fresh_name():
        for name in pool:
            if name not in used and name not in reserved:
                return name
        return next(n for n in fallback if n not in used)

    def build(node):
        """Returns (tensor or float, text)."""
        if isinstance(node, ast.Constant):
            return float(node.value), format_number(node.value)
        if isinstance(node, ast.Name):
            return variables[node.id], node.id
        if isinstance(node, ast.UnaryOp):
            value, text = build(node.operand)
            if isinstance(node.op, ast.UAdd):
                return value, text
            if not isinstance(value, glassgrad.Tensor):
                return -value, format_number(-value)
            return record("neg", [text], f"-{text}", -value, ["-1"])
        if isinstance(node, ast.Call):
            fn, derivative = FUNCTIONS[node.func.id]
            value, text = build(node.args[0])
            if not isinstance(value, glassgrad.Tensor):
                folded = fn(glassgrad.tensor(value, dtype=dtype)).item()
                return folded, format_number(folded)
            return record(node.func.id, [text], f"{node.func.id}({text})", fn(value), [derivative.replace("{u}", text)])
        symbol, fn, derivatives = _BINARY[type(node.op)]
        (a, a_text), (b, b_text) = build(node.left), build(node.right)
        if not isinstance(a, glassgrad.Tensor) and not isinstance(b, glassgrad.Tensor):
            folded = fn(glassgrad.tensor(a, dtype=dtype), b).item()
            return folded, format_number(folded)
        if not isinstance(a, glassgrad.Tensor):
            a = glassgrad.tensor(a, dtype=dtype)
        formulas = [d.replace("{a}", a_text).replace("{b}", b_text) for d in derivatives]
        return record(symbol, [a_text, b_text], f"{a_text} {symbol} {b_text}", fn(a, b), formulas)

    def record(op, operands, formula, tensor, derivative_formulas, name=None):
        name = name or fresh_name()
        used.add(name)
        formulas = [d.replace("{out}", name) for d in derivative_formulas]
        steps.append(Step(name, op, operands, formula, tensor, formulas))
        tensor.retain_grad()
        return tensor, name

    output, _ = build(tree.body)
    if not isinstance(output, glassgrad.Tensor):
        raise ValueError(f"expression {_excerpt(source)} has no variables: nothing to differentiate")
    if not steps and target is None:
        raise ValueError(
            f"expression {_excerpt(source)} has no operation to explain; write one, e.g. a * x, or give --target"
        )
    loss = None
    if target is not None:
        top = steps[-1].name if steps else output_name(variables, output)
        target_text = format_number(target)
        loss = record("-", [target_text, top], f"{target_text} - {top}", target - output, ["1", "-1"], name="L")[0]
    expression = Expression(source, variables, steps, output, target, loss)
    names_map = dict(variables)
    names_map.update({s.name: s.tensor for s in steps})
    expression.graph = graph(expression.top, names=names_map)
    expression.local = local_derivatives(expression.graph)
    expression.top.backward()
    expression.graph = graph(expression.top, names=names_map)
    return expression


def output_name(variables, output):
    return next(n for n, t in variables.items() if t is output)


def chain_terms(expression, path):
    """The factors of one chain: [("dL/dt", -1.0), ("dt/ds", 1.0), ...]."""
    return [(f"d{upper}/d{lower}", expression.local_derivative(upper, lower)) for upper, lower in zip(path, path[1:])]


def chain_product(terms):
    return float(np.prod([value for _, value in terms])) if terms else 1.0


def explanation(expression):
    """The seed's walk-through as lines of text: forward values, local derivatives, chain rule."""
    e = expression
    top = e.top_name
    lines = [f"Expression: {e.source}"]
    lines.append("Inputs: " + ", ".join(f"{n} = {format_number(t.item())}" for n, t in e.variables.items()))
    if e.loss is not None:
        lines.append(f"Loss: L = {e.steps[-1].formula}")
    lines.append("")
    lines.append("Forward (every intermediate value is kept for backward):")
    for step in e.steps:
        substituted = step.formula
        for operand in step.operands:
            if operand in e._tensors():
                substituted = _substitute(substituted, operand, _paren(e.value(operand)))
        lines.append(f"  {step.name} = {step.formula} = {substituted} = {format_number(e.value(step.name))}")
    lines.append("")
    lines.append("Local derivatives (each op on its own):")
    for step in reversed(e.steps):
        for operand in dict.fromkeys(step.operands):
            if operand not in e._tensors():
                continue
            value = format_number(e.local_derivative(step.name, operand))
            formula = e.derivative_formula(step.name, operand)
            text = f"  d{step.name}/d{operand} = {formula}"
            lines.append(text if formula == value else f"{text} = {value}")
    lines.append("")
    lines.append("Chain rule (multiply the local derivatives along each path):")
    for name in e.variables:
        paths = e.paths(name)
        if not paths:
            continue
        chains = [chain_terms(e, path) for path in paths]
        if len(chains) > 8:  # a shared input can be reached along very many paths
            total = sum(chain_product(terms) for terms in chains)
            lines.append(f"  d{top}/d{name} = sum over {len(chains)} paths = {format_number(total)}")
            continue
        if len(chains) == 1 and len(chains[0]) == 1:  # a direct input of the top: nothing to chain
            lines.append(f"  d{top}/d{name} = {format_number(chains[0][0][1])}")
            continue
        symbols = " + ".join(" · ".join(label for label, _ in terms) for terms in chains)
        numbers = " + ".join(" · ".join(_paren(v) for _, v in terms) for terms in chains)
        total = sum(chain_product(terms) for terms in chains)
        lines.append(f"  d{top}/d{name} = {symbols} = {numbers} = {format_number(total)}")
    lines.append("")
    lines.append("Gradients from glassgrad's backward():")
    lines.append("  " + ", ".join(f"d{top}/d{n} = {format_number(e.grad(n))}" for n in e.variables))
    return lines


def _paren(x):
    text = format_number(x)
    return f"({text})" if text.startswith("-") else text


def _substitute(formula, name, value):
    import re

    return re.sub(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", value, formula)


def animation(expression):
    """The step-by-step page of an evaluated expression as an ``animate.Animation`` (shown inline
    by Jupyter), with the formulas of each step."""
    from glassgrad.viz import animate

    e = expression
    ids = {node.name: node.id for node in e.graph if node.name}
    formulas = {ids[s.name]: s.formula for s in e.steps}
    derivative_formulas = {
        (ids[operand], ids[s.name]): e.derivative_formula(s.name, operand)
        for s in e.steps
        for operand in dict.fromkeys(s.operands)
        if operand in ids
    }
    title = f"{e.source}" + (f",  L = {format_number(e.target)} - output" if e.loss is not None else "")
    frames = animate.build_frames(e.graph, e.local, formulas, derivative_formulas, title=f"The graph of {title}")
    return animate.Animation(e.graph, e.local, title=f"glassgrad explain: {title}", frames=frames)


def write_animation(expression, html_path=None, gif_path=None):
    """Write the step-by-step page and/or GIF of an evaluated expression; returns the paths written."""
    from glassgrad.viz import animate

    page = animation(expression)
    written = []
    if html_path:
        written.append(page.save(html_path))
    if gif_path:
        written.append(animate.write_gif(page.graph, page.frames, gif_path, page.local))
    return written
