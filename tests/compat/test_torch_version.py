"""``torch.__version__`` under the compat layer is the PyTorch API version glassgrad follows, compared
as a version; ``glassgrad.__version__`` stays the package's own (pyproject's dynamic version)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import glassgrad
from glassgrad.compat.torch_version import PYTORCH_API, TorchVersion

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = """
import torch
import torch.version
from torch.version import cuda
import glassgrad
print(torch.__version__)
print(torch.version.__version__ == torch.__version__, cuda)
print(torch.__version__ >= "1.8", torch.__version__ >= "2.2", torch.__version__ < "2.13.1", torch.__version__ >= (2, 0))
print(torch.__version__.split(".")[:2], glassgrad.__version__)
"""


def test_version_seen_by_a_pytorch_program(tmp_path):
    (tmp_path / "v.py").write_text(PROGRAM)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "glassgrad", "run", "v.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{PYTORCH_API}+glassgrad{glassgrad.__version__}"
    assert lines[1] == "True None"
    # "2.13.0" >= "2.2" is False as text; as a version it is True.
    assert lines[2] == "True True True True"
    assert lines[3] == f"{PYTORCH_API.split('.')[:2]} {glassgrad.__version__}"


def test_packaging_parses_it():
    version = pytest.importorskip("packaging.version", reason="packaging is not installed")
    parsed = version.parse(TorchVersion(f"{PYTORCH_API}+glassgrad{glassgrad.__version__}"))
    assert parsed.release == tuple(int(p) for p in PYTORCH_API.split("."))
    assert parsed >= version.parse("2.0") and parsed.local.startswith("glassgrad")


def test_comparisons_are_by_version():
    v = TorchVersion("2.13.0+glassgrad0.1.0")
    assert v > "2.9" and v >= "2.13" and v == "2.13.0" and v != "2.13.1" and v < (3,)
    assert not v < "2.2" and sorted([TorchVersion("2.10"), TorchVersion("2.9")]) == ["2.9", "2.10"]
    with pytest.raises(TypeError, match="not a version"):
        v < "latest"  # noqa: B015


def test_glassgrad_version_is_the_package_version():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "glassgrad.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", glassgrad.__version__)
    assert not isinstance(glassgrad.__version__, TorchVersion)
