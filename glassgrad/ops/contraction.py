"""einsum: sums of products over named axes, with PyTorch's equation rules (ellipsis, implicit output)."""

import string

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.ops.registry import OpInfo, Sample, register
from glassgrad.tensor import Tensor

_LETTERS = string.ascii_letters


def _parse(equation, shapes):
    """The equation with every ``...`` replaced by letters of its own.

    Returns (input subscripts, output subscripts).
    """
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) < len(shapes):
        raise ValueError("einsum(): more operands were provided than specified in the equation")
    if len(terms) > len(shapes):
        raise ValueError("einsum(): fewer operands were provided than specified in the equation")
    for ch in equation:
        if ch not in _LETTERS and ch not in ",->.":
            raise ValueError(
                f"einsum(): invalid subscript given at index {equation.index(ch)} in the equation string, "
                "subscripts must be in [a-zA-Z]"
            )
    used = set(lhs) | set(rhs)
    spare = [c for c in _LETTERS if c not in used]
    ellipsis_ndim = 0
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        explicit = len(term.replace("...", ""))
        if "..." in term:
            if explicit > len(shape):
                raise RuntimeError(
                    f"einsum(): the number of subscripts in the equation ({explicit}) is more than the number of "
                    f"dimensions ({len(shape)}) for operand {i}"
                )
            ellipsis_ndim = max(ellipsis_ndim, len(shape) - explicit)
        elif explicit != len(shape):
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({explicit}) does not match the number of "
                f"dimensions ({len(shape)}) for operand {i} and no ellipsis was given"
            )
    dots = "".join(spare[:ellipsis_ndim])
    inputs = []
    for term, shape in zip(terms, shapes):
        before, found, after = term.partition("...")
        # An operand with fewer ellipsis dimensions takes the last letters (dimensions align right).
        n = len(shape) - len(before) - len(after)
        inputs.append(before + dots[ellipsis_ndim - n :] + after if found else term)
    if arrow:
        # An output without "..." sums the ellipsis dimensions away, as in PyTorch.
        rhs = rhs.replace("...", dots)
        for c in rhs:
            if c not in "".join(inputs):
                raise ValueError(
                    f"einsum(): output subscript {c} does not appear in the equation for any input operand"
                )
            if rhs.count(c) > 1:
                raise ValueError(f"einsum(): output subscript {c} appears more than once in the output")
        output = rhs
    else:
        counts = {}
        for c in "".join(terms):
            if c != ".":
                counts[c] = counts.get(c, 0) + 1
        output = dots + "".join(sorted(c for c, n in counts.items() if n == 1))
    return inputs, output


class Einsum(Function):
    """``np.einsum`` on letter-only subscripts; the gradient of each operand is the einsum of the
    output's gradient with the other operands, broadcast over the letters only that operand has
    and written onto the diagonal where one operand repeats a letter (``"ii->i"``)."""

    def forward(self, *operands, inputs=(), output=""):
        self.inputs, self.output = inputs, output
        self.save_for_backward(*operands)
        spec = ",".join(inputs) + "->" + output
        return np.einsum(spec, *operands, optimize=len(operands) > 2)

    def backward(self, grad):
        operands = self.saved_tensors
        sizes = {}
        for term, array in zip(self.inputs, operands):
            for c, n in zip(term, array.shape):
                sizes[c] = max(sizes.get(c, 1), n)
        grads = []
        for i, (term, array) in enumerate(zip(self.inputs, operands)):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [t for j, t in enumerate(self.inputs) if j != i]
            arrays = [a for j, a in enumerate(operands) if j != i]
            letters = "".join(dict.fromkeys(term))  # each letter once, in order
            available = set(self.output).union(*others) if others else set(self.output)
            present = "".join(c for c in letters if c in available)
            spec = ",".join([self.output, *others]) + "->" + present
            g = np.einsum(spec, grad, *arrays, optimize=len(arrays) > 1)
            # Letters summed away by this operand alone: every element got the same gradient.
            g = np.expand_dims(g, tuple(k for k, c in enumerate(letters) if c not in available))
            g = np.broadcast_to(g, tuple(sizes[c] if c in available else array.shape[term.index(c)] for c in letters))
            if len(letters) != len(term):
                full = np.zeros(tuple(sizes[c] for c in term), dtype=g.dtype)
                grid = np.indices(g.shape, sparse=True)
                full[tuple(grid[letters.index(c)] for c in term)] = g
                g = full
            grads.append(g)
        return tuple(grads)


def einsum(equation, *operands):
    """Sum the product of ``operands`` over the axes named in ``equation`` (``"ij,jk->ik"`` is a
    matrix product); ``...`` stands for broadcast dimensions. Operands may also come as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError("einsum(): the first argument must be the equation string (the sublist form is not supported)")
    for i, x in enumerate(operands):
        if not isinstance(x, Tensor):
            raise TypeError(f"einsum(): operand {i} is a {type(x).__name__}, expected a Tensor")
    if not operands:
        raise ValueError("einsum(): must provide at least one operand")
    inputs, output = _parse(equation, [tuple(x.shape) for x in operands])
    sizes = {}
    for i, (term, x) in enumerate(zip(inputs, operands)):
        for c, n in zip(term, x.shape):
            seen = sizes.setdefault(c, n)
            if n != seen and 1 not in (n, seen):
                raise RuntimeError(
                    f"einsum(): subscript {c} has size {n} for operand {i} which does not broadcast with "
                    f"previously seen size {seen}"
                )
            sizes[c] = max(n, seen) if 0 not in (n, seen) else 0
    from glassgrad.ops.shape import expand

    # Size-1 dimensions broadcast against the others (the engine sums their gradients back).
    shaped = []
    for term, x in zip(inputs, operands):
        target = tuple(sizes[c] for c in term)
        shaped.append(x if target == tuple(x.shape) else expand(x, target))
    return Einsum.apply(*shaped, inputs=tuple(inputs), output=output)


register(
    OpInfo(
        "einsum",
        einsum,
        [
            Sample("ij,jk->ik", (3, 4), (4, 2)),
            Sample("ij,jk", (3, 4), (4, 2)),
            Sample("bij,bjk->bik", (2, 3, 4), (2, 4, 2)),
            Sample("ii->i", (3, 3)),
            Sample("ii", (3, 3)),
            Sample("ij->", (3, 4)),
            Sample("i,j->ij", (3,), (4,)),
            Sample("...ij,...jk->...ik", (2, 3, 4), (4, 2)),
            Sample("i...->...", (3, 2, 2)),
            Sample("ij,jk,kl->il", (2, 3), (3, 4), (4, 2)),
            Sample("iij->ji", (2, 2, 3)),
            Sample("ij,ij->i", (3, 4), (3, 4)),
            Sample("ij,jk->ik", (3, 1), (4, 2)),
            Sample("bn,anm,bm->ba", (2, 3), (4, 3, 2), (2, 2)),
        ],
        methods=(),
    ),
)
