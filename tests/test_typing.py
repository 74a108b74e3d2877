"""glassgrad's annotations as users' type checkers see them: mypy passes a typical training program
and catches a type error in one; the public API stays annotated; the declarations of the op
registry's Tensor methods (glassgrad/_tensor_methods.pyi) stay in step with the registry.

``PYTHONPATH=. python tests/test_typing.py`` rewrites glassgrad/_tensor_methods.pyi from the registry.
"""

import importlib.util
import inspect
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import glassgrad
from glassgrad import nn, optim
from glassgrad.ops.registry import OPS, Arg
from glassgrad.optim import lr_scheduler
from glassgrad.tensor import Tensor

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


# -- mypy on users' programs ------------------------------------------------------------

USER_PROGRAM = """
import glassgrad as torch
from glassgrad import nn, optim
from glassgrad.nn import functional as F
from glassgrad.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, hidden)
        self.norm = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.norm(self.fc1(x))))


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(1) == labels).float().mean().item())


model = Net(8)
data = TensorDataset(torch.randn(32, 4), torch.randint(0, 3, (32,)))
loader = DataLoader(data, batch_size=8, shuffle=True)
optimizer = optim.Adam(model.parameters(), lr=1e-2, betas=(0.9, 0.99))
scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
for epoch in range(2):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        out: torch.Tensor = model(x)
        loss = F.cross_entropy(out, y)
        loss.backward()
        optimizer.step()
    scheduler.step()
model.eval()
with torch.no_grad():
    logits: torch.Tensor = model(data.tensors[0])
last_lr: list[float] = scheduler.get_last_lr()
state = model.state_dict()
torch.save(state, "checkpoint.pt")
missing = model.load_state_dict(torch.load("checkpoint.pt")).missing_keys
print(accuracy(logits, data.tensors[1]), last_lr, missing)
"""

# Each line marked "# error" must be reported by mypy, and nothing else.
BAD_PROGRAM = """
import glassgrad as torch
from glassgrad import nn, optim


def scale(x: torch.Tensor, factor: float) -> torch.Tensor:
    return x * factor


model = nn.Linear(4, 2)
optimizer = optim.SGD(model.parameters(), lr="0.1")  # error
y = scale("not a tensor", 2.0)  # error
z: torch.Tensor = torch.randn(2).numpy()  # error
w: torch.Tensor = model(torch.randn(3, 4)).sum()
"""


@pytest.fixture(scope="module")
def run_mypy(tmp_path_factory):
    """Run mypy, as a user of the package would, on a program; returns (exit code, output)."""
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install mypy)")
    workdir = tmp_path_factory.mktemp("mypy")
    env = {**os.environ, "MYPYPATH": str(ROOT)}  # this checkout's glassgrad, not an installed one

    def run(name, program):
        (workdir / name).write_text(textwrap.dedent(program))
        command = [
            sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
            "--follow-imports=silent", "--disallow-untyped-calls", "--no-error-summary",
            "--cache-dir", str(workdir / ".mypy_cache"), name,
        ]  # fmt: skip
        done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
        return done.returncode, done.stdout + done.stderr

    return run


def test_mypy_accepts_a_typical_training_program(run_mypy):
    # --disallow-untyped-calls: every glassgrad function the program calls must be annotated.
    code, output = run_mypy("train.py", USER_PROGRAM)
    assert code == 0, output
    assert output.strip() == "", output


def test_mypy_catches_type_errors_in_a_user_program(run_mypy):
    code, output = run_mypy("bad.py", BAD_PROGRAM)
    assert code == 1, output
    expected = {n for n, line in enumerate(textwrap.dedent(BAD_PROGRAM).splitlines(), 1) if line.endswith("# error")}
    reported = {
        int(line.split(":")[1]) for line in output.splitlines() if line.startswith("bad.py:") and ": error:" in line
    }
    assert reported == expected, output
    assert 'Argument "lr" to "SGD" has incompatible type "str"' in output
    assert 'Argument 1 to "scale" has incompatible type "str"; expected "Tensor"' in output


# -- the public API stays annotated ---------------------------------------------------------


def _returns_annotated(fn):
    fn = fn.fget if isinstance(fn, property) else fn
    fn = getattr(fn, "__func__", fn)  # classmethod, staticmethod
    return "return" in getattr(fn, "__annotations__", {})


def test_every_public_tensor_method_has_a_return_annotation():
    # The registry's methods are declared in glassgrad/_tensor_methods.pyi (checked above).
    own = {
        name: value
        for name, value in vars(Tensor).items()
        if (callable(value) or isinstance(value, (property, classmethod))) and not getattr(value, "_registered", False)
    }
    public = [n for n in own if not n.startswith("_") or (n.startswith("__") and n not in ("__init_subclass__",))]
    assert len(public) > 100
    missing = [n for n in public if not _returns_annotated(own[n]) and n != "__weakref__"]
    assert missing == [], f"Tensor methods without a return annotation: {missing}"


def _public_classes(namespace, base):
    return [
        v for k, v in vars(namespace).items() if inspect.isclass(v) and issubclass(v, base) and not k.startswith("_")
    ]


def test_every_nn_layer_annotates_forward_and_init():
    layers = [c for c in _public_classes(nn, nn.Module) if c is not nn.Module]
    assert len(layers) > 80
    missing = [c.__name__ for c in layers if not (_returns_annotated(c.forward) and _returns_annotated(c.__init__))]
    assert missing == [], f"nn layers whose forward or __init__ has no return annotation: {missing}"


def test_every_optimizer_and_scheduler_annotates_init_and_step():
    classes = _public_classes(optim, optim.Optimizer) + _public_classes(lr_scheduler, lr_scheduler.LRScheduler)
    assert len(classes) > 25
    methods = ("__init__", "step", "zero_grad", "state_dict", "load_state_dict")
    missing = [
        f"{c.__name__}.{m}" for c in classes for m in methods if hasattr(c, m) and not _returns_annotated(getattr(c, m))
    ]
    assert missing == [], f"without a return annotation: {missing}"


if __name__ == "__main__":
    STUB.write_text(registered_methods_stub())
    print(f"wrote {STUB.relative_to(ROOT)}", file=sys.stderr)
