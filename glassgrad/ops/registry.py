"""The op registry: each public op declared once, in the spirit of PyTorch's OpInfo.

An ``OpInfo`` names the function, the ``Tensor`` methods and ``glassgrad.X`` names it provides,
its in-place method, sample inputs and what the generic tests may check of it
(``tests/ops/test_opinfo.py`` runs over every entry: float64 gradcheck, forward and backward
parity with PyTorch, the methods and aliases). ``bind`` attaches the methods to ``Tensor`` and
``export`` puts the names into a namespace (``glassgrad.ops`` and ``glassgrad``), so adding an op
is its ``Function``, the function that applies it, and one ``register(OpInfo(...))`` entry at the
end of its family module.
"""

from collections.abc import Sequence
from dataclasses import dataclass


class Sample:
    """One call of an op: ``Sample((3, 4), 1, keepdim=True)`` calls ``op(x, 1, keepdim=True)``.

    Positional inputs: a tuple is the shape of a random floating-point tensor (the sample dtype,
    values in the op's ``domain``); a list of tuples is a list of such tensors (``cat``); a NumPy
    array is a tensor of those values (indices, masks; differentiable if floating-point); ``Arg(value)`` and anything else is passed as it
    is. Keyword arguments are passed as they are.
    """

    no_torch_backward = None  # why PyTorch's own backward cannot be compared on this sample
    prepare = None  # maps the built arguments to the op's (``a @ a.mT + 1``: positive-definite)

    def __init__(self, *inputs, **kwargs):
        self.inputs = inputs
        self.kwargs = kwargs

    def prepared(self, fn):
        """Pass the built positional arguments through ``fn`` (differentiably, and for glassgrad and
        PyTorch alike) before the call: how a sample gets a symmetric or positive-definite matrix."""
        self.prepare = fn
        return self

    def skip_torch_backward(self, reason):
        """Mark a sample whose gradient PyTorch does not compute (it is still gradchecked)."""
        self.no_torch_backward = reason
        return self

    def __repr__(self):
        parts = [repr(x) if not hasattr(x, "shape") else f"array{tuple(x.shape)}" for x in self.inputs]
        parts += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"Sample({', '.join(parts)})"


class Arg:
    """A positional sample argument passed as it is, even a tuple (``Sample(x, Arg((2, 1)))``)."""

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return repr(self.value)


@dataclass
class OpInfo:
    """What one op is, provides and supports.

    ``methods``: the ``Tensor`` methods that call ``fn`` with the tensor first (default: the name);
    ``aliases``: the names under ``glassgrad`` and ``glassgrad.ops`` (default: the name);
    ``inplace``: the in-place methods (``x.exp_()`` writes ``exp(x)`` into ``x``);
    ``torch``: the PyTorch function to compare with: a dotted path under ``torch``, or
    ``"Tensor.name"`` for a method called on the first input; None: PyTorch has no counterpart;
    ``gradcheck``: differentiable, so checked in float64 against finite differences;
    ``domain``: the range of the random sample values (``log`` needs positive ones).
    """

    name: str
    fn: object
    samples: Sequence[Sample] = ()
    methods: Sequence[str] = None  # type: ignore[assignment]  # filled in by __post_init__
    aliases: Sequence[str] = None  # type: ignore[assignment]
    inplace: tuple = ()
    torch: object = ""
    gradcheck: bool = True
    domain: tuple = (-2.0, 2.0)
    dtypes: tuple = ("float64", "float32")
    float32_tolerance: tuple = (2e-6, 1e-6)  # (rtol, atol) against PyTorch in float32

    def __post_init__(self):
        if self.methods is None:
            self.methods = (self.name,)
        if self.aliases is None:
            self.aliases = (self.name,)
        if self.torch == "":
            self.torch = self.name
        self.methods, self.aliases, self.inplace = tuple(self.methods), tuple(self.aliases), tuple(self.inplace)
        self.samples = tuple(self.samples)


OPS: list[OpInfo] = []  # every registered OpInfo, in the order of registration


def register(*infos):
    """Add entries to the registry; a name may be registered once."""
    known = {info.name for info in OPS}
    for info in infos:
        if info.name in known:
            raise RuntimeError(f"op registry: {info.name!r} is registered twice")
        known.add(info.name)
        OPS.append(info)


def _inplace_method(name, fn):
    def method(self, *args, **kwargs):
        return self._inplace(name, fn(self, *args, **kwargs))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place form of ``{fn.__name__}``: writes the result into this tensor and returns it."
    return method


def bind(tensor_class):
    """Attach every registered method and in-place method to ``tensor_class``.

    A method the class defines itself is a conflict (two homes for one decision), so it raises.
    """
    for info in OPS:
        for name in info.methods + info.inplace:
            if name in tensor_class.__dict__ and not getattr(tensor_class.__dict__[name], "_registered", False):
                raise RuntimeError(
                    f"op registry: Tensor.{name} is defined in tensor.py and registered for {info.name!r}; "
                    "remove one of them"
                )
        for name in info.methods:
            setattr(tensor_class, name, _method(info.fn))
        for name in info.inplace:
            method = _inplace_method(name, info.fn)
            method._registered = True
            setattr(tensor_class, name, method)


def _method(fn):
    # The function itself is the method (a function is a descriptor): no extra call on the hot path.
    # Marked so that binding twice (a reload) is not taken for a conflict.
    try:
        fn._registered = True
    except AttributeError:  # a builtin or a functools.partial without a __dict__
        pass
    return fn


def export(namespace, prefix=""):
    """Put every registered op into ``namespace`` (a module's ``globals()``) under its aliases;
    with ``prefix="linalg."``, the aliases under that prefix (``linalg.inv`` as ``inv``)."""
    for info in OPS:
        for alias in info.aliases:
            if alias.startswith(prefix) and "." not in alias[len(prefix) :]:
                namespace[alias[len(prefix) :]] = info.fn
