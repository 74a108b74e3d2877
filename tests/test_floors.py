"""The floors of the package: every import of every module under glassgrad/ (at the top or inside a
function) goes to its own floor or one below it, never above (README.md, "How it is built")."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "glassgrad"

# Floor of each part of the package (its first name under glassgrad/; utils.* by its second).
FLOORS = {
    # the bottom: the Tensor, autograd, the memory and compiled kernels autograd and the ops use
    "tensor": 0,
    "autograd": 0,
    "backend": 0,
    "backends": 0,
    "_dtype": 0,
    "_runtime": 0,
    "_threads": 0,
    "random": 0,
    "creation": 0,
    "accelerator": 0,
    "cuda": 0,
    "jit": 0,
    "amp": 0,
    "cuda_amp": 0,
    "_log": 0,
    "_legacy": 0,  # the legacy tensor types (FloatTensor, Variable) Tensor.type() answers with
    "_numeric_info": 0,
    "_tensor_methods": 0,  # a stub only (.pyi): the declarations of Tensor's registry methods, for type checkers
    "ops": 1,
    # layers, optimizers, data, files; the top-level namespace (`import glassgrad`) imports up to here
    "glassgrad": 2,
    "nn": 2,
    "optim": 2,
    "io": 2,
    "serialization": 2,
    "distributed": 2,
    "summary": 2,
    "utils": 2,
    "utils.data": 2,
    "utils.checkpoint": 2,
    "utils.files": 2,
    "utils.progress": 2,
    "linalg": 2,
    "special": 2,
    "distributions": 2,
    "compiler": 2,  # wraps modules (nn), so above them; the top-level namespace exports compile
    "multiprocessing": 2,
    "vision": 3,
    "viz": 3,
    "onnx": 3,
    "interop": 3,
    "utils.tensorboard": 3,
    "train": 4,
    "lessons": 4,
    "cli": 5,
    "__main__": 5,
    # Stand-ins for torch/torchvision as a whole: they map every PyTorch module name to glassgrad's.
    "compat": 5,
    "run": 5,
}

# (module, part imported): the imports that run upward on purpose, each with its reason.
ALLOWED = {
    # Tensor's methods are the ops (x.sum() is ops.sum(x)): tensor.py binds them at its very end,
    # once the Tensor class exists, the way torch's Tensor methods are its ATen ops.
    ("glassgrad.tensor", "ops"),
}


def part(module):
    """The part of the package ``module`` (a dotted name) belongs to, or None outside glassgrad."""
    names = module.split(".")
    if names[0] != "glassgrad":
        return None
    if len(names) == 1:
        return "glassgrad"
    if names[1] == "utils" and len(names) > 2:
        return f"utils.{names[2]}"
    return names[1]


def module_name(path):
    names = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if names[-1] == "__init__":
        names.pop()
    return ".".join(names)


def is_module(dotted):
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imported(path):
    """The glassgrad modules ``path`` imports: ``from glassgrad import nn`` is glassgrad.nn, a name
    that is not a module (``from glassgrad import Tensor``) is the package it comes from."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            if part(source) is None:
                continue
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                yield node.lineno, candidate if is_module(candidate) else source


def modules():
    return sorted(PACKAGE.rglob("*.py"))


def test_every_part_has_a_floor():
    parts = {part(module_name(path)) for path in modules()}
    unplaced = sorted(parts - set(FLOORS))
    assert not unplaced, f"parts of glassgrad with no floor in tests/test_floors.py's FLOORS: {unplaced}"


def test_no_import_runs_upward():
    upward = []
    for path in modules():
        module = module_name(path)
        floor = FLOORS[part(module)]
        for line, target in imported(path):
            target_part = part(target)
            if target_part is None or (module, target_part) in ALLOWED:
                continue
            if FLOORS[target_part] > floor:
                upward.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} imports {target} "
                    f"(floor {FLOORS[target_part]}) from floor {floor}"
                )
    assert not upward, "imports running upward:\n" + "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The parser resolves relative and from-imports, so an upward one cannot slip through."""
    fake = tmp_path / "glassgrad"
    (fake / "ops").mkdir(parents=True)
    (fake / "nn").mkdir()
    for name in ("__init__.py", "ops/__init__.py", "nn/__init__.py", "nn/layers.py"):
        (fake / name).write_text("")
    (fake / "ops" / "bad.py").write_text("from ..nn import layers\nfrom glassgrad import nn\nimport numpy\n")
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    got = [target for _, target in imported(fake / "ops" / "bad.py")]
    assert got == ["glassgrad.nn.layers", "glassgrad.nn", "numpy"]
    assert [FLOORS[part(t)] for t in got[:2]] == [2, 2] and FLOORS["ops"] == 1


@pytest.mark.parametrize("module, target", sorted(ALLOWED))
def test_each_allowed_upward_import_still_exists(module, target):
    path = PACKAGE.parent.joinpath(*module.split("."))
    path = path.with_suffix(".py") if path.with_suffix(".py").exists() else path / "__init__.py"
    assert target in {part(t) for _, t in imported(path)}, f"{module} no longer imports {target}: drop it from ALLOWED"
