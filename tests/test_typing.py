"""glassgrad's annotations as users' type checkers see them: mypy passes a typical training program
and catches a type error in one; the public API stays annotated; the declarations of the op
registry's Tensor methods (glassgrad/_tensor_methods.pyi) stay in step with the registry.

``PYTHONPATH=. python tests/test_typing.py`` rewrites glassgrad/_tensor_methods.pyi from the registry.
"""

import inspect
import pathlib
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import glassgrad
from glassgrad.ops.registry import OPS, Arg

ROOT = pathlib.Path(__file__).resolve().parent.parent
STUB = ROOT / "glassgrad" / "_tensor_methods.pyi"

_STUB_HEADER = '''"""Type declarations of the Tensor methods that glassgrad/ops/registry.py binds at import.

Written by tests/test_typing.py from the registry (``PYTHONPATH=. python tests/test_typing.py``);
that test fails when this file and the registry disagree. A method returns ``Tensor`` where every
sample of its op returns one, else ``Any`` (``max(dim)`` gives values and indices).
"""

from typing import Any

from glassgrad.tensor import Tensor

class RegisteredMethods:
'''


def _sample_args(info, k):
    """The op's k-th sample as glassgrad arguments (random values; only the result's type is used)."""
    rng = np.random.default_rng(k)
    low, high = info.domain

    def make(x):
        if isinstance(x, tuple):
            return glassgrad.tensor(rng.uniform(low, high, x))
        if isinstance(x, list) and x and all(isinstance(s, tuple) for s in x):
            return [make(s) for s in x]
        if isinstance(x, np.ndarray):
            return glassgrad.from_numpy(x)
        if isinstance(x, Arg):
            return x.value
        return x

    sample = info.samples[k]
    args = [make(x) for x in sample.inputs]
    if sample.prepare is not None:
        args = sample.prepare(*args)
    return args, sample.kwargs


def _returns_tensor(info):
    if not info.samples:
        return False
    for k in range(len(info.samples)):
        args, kwargs = _sample_args(info, k)
        try:
            out = info.fn(*args, **kwargs)
        except (RuntimeError, ValueError):  # a sample drawn outside the op's domain (normal's std)
            return False
        if type(out) is not glassgrad.Tensor:
            return False
    return True


def _method_parameters(fn):
    """``fn``'s parameters as a method's (the tensor is ``self``), every type ``Any``."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not params or params[0].kind not in positional:
        return "self, *args: Any, **kwargs: Any"
    parts, keyword_only = ["self"], False
    for p in params[1:]:
        default = "" if p.default is inspect.Parameter.empty else " = ..."
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            parts.append(f"*{p.name}: Any")
            keyword_only = True
        elif p.kind is inspect.Parameter.VAR_KEYWORD:
            parts.append(f"**{p.name}: Any")
        else:
            if p.kind is inspect.Parameter.KEYWORD_ONLY and not keyword_only:
                parts.append("*")
                keyword_only = True
            parts.append(f"{p.name}: Any{default}")
    return ", ".join(parts)


def registered_methods_stub():
    """The text of glassgrad/_tensor_methods.pyi for the registry as it is."""
    lines = []
    for info in OPS:
        returns = "Tensor" if _returns_tensor(info) else "Any"
        params = _method_parameters(info.fn)
        lines += [f"    def {name}({params}) -> {returns}: ..." for name in info.methods]
        lines += [f"    def {name}({params}) -> Tensor: ..." for name in info.inplace]
    return _STUB_HEADER + "\n".join(sorted(lines)) + "\n"


def test_registered_methods_stub_is_in_step_with_the_registry():
    assert STUB.read_text() == registered_methods_stub(), (
        "glassgrad/_tensor_methods.pyi is out of step with the op registry; "
        "rewrite it with `PYTHONPATH=. python tests/test_typing.py`"
    )


if __name__ == "__main__":
    STUB.write_text(registered_methods_stub())
    print(f"wrote {STUB.relative_to(ROOT)}", file=sys.stderr)
