"""Run every example script with a small budget, as a user would (a fresh process each)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BUDGETS = {
    "gradient_descent.py": (["--steps", "4"], "Diverging learning rates: [2.1]"),
    "numerical_gradient.py": ([], "dL/da: numerical -1.0000000000"),
    "backprop.py": ([], "reproduces every number the seed prints: yes"),
    "xor.py": (["--epochs", "200"], "MLP with tanh                    accuracy 100%"),
    "convolution.py": ([], "-> 28x28x6"),
    "sigmoid_cnn.py": (["--dataset", "digits", "--limit", "64", "--epochs", "1"], "Doctor on sigmoid (seed)"),
}


def test_every_example_has_a_budget():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(BUDGETS)


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_example_runs(name, tmp_path):
    args, expected = BUDGETS[name]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout
    assert "wrote " in done.stdout and any(tmp_path.iterdir())
