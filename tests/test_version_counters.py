"""Version counters change only inside autograd: everything else calls increment_version."""

import ast
from pathlib import Path

import glassgrad

PACKAGE = Path(glassgrad.__file__).parent
OWNERS = {PACKAGE / "tensor.py", *(PACKAGE / "autograd").glob("*.py")}


def test_no_module_outside_autograd_writes_a_version_counter():
    writers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in OWNERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                for target in targets:
                    if isinstance(target, ast.Attribute) and target.attr == "_version":
                        writers.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert writers == [], f"use glassgrad.autograd.graph.increment_version instead: {writers}"


def test_an_optimizer_step_invalidates_a_graph_that_saved_the_parameter():
    import pytest

    for make in (lambda p: glassgrad.optim.SGD([p], lr=0.1, momentum=0.9), lambda p: glassgrad.optim.Adam([p])):
        p = glassgrad.nn.Parameter(glassgrad.ones(3))
        saved = (p * p).sum()
        (p * 2).sum().backward()
        make(p).step()
        with pytest.raises(RuntimeError, match=r"in-place operation \((SGD|Adam)\.step\)"):
            saved.backward()
