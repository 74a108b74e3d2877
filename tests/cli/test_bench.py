"""``glassgrad bench``: the suite runs, prints the machine line and ratios, writes JSON, and says
clearly when PyTorch is missing. Timings are never asserted, only that they are reported."""

import json
import os
import subprocess
import sys

import pytest

from glassgrad.cli import main


def _run_cli(args, hide_torch=False):
    # A child process: the suite imports PyTorch, and hiding it must not leak into other tests.
    prelude = "import sys; sys.modules['torch'] = None; " if hide_torch else ""
    code = prelude + f"from glassgrad.cli import main; sys.exit(main({args!r}))"
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    return subprocess.run([sys.executable, "-c", "import sys; " + code], capture_output=True, text=True, env=env)


def test_bench_without_pytorch_says_so_and_exits_2():
    result = _run_cli(["bench", "--only", "chain"], hide_torch=True)
    assert result.returncode == 2
    assert "PyTorch is not installed" in result.stderr
    assert "pip install torch" in result.stderr
    assert "Traceback" not in result.stderr


def test_bench_rejects_unknown_groups(capsys):
    pytest.importorskip("torch", reason="PyTorch not installed: bench needs it")
    assert main(["bench", "--only", "chain,warp"]) == 2
    assert "unknown group(s) warp" in capsys.readouterr().err


def test_bench_runs_a_case_and_writes_json(tmp_path):
    pytest.importorskip("torch", reason="PyTorch not installed: bench needs it")
    out = tmp_path / "table.json"
    result = _run_cli(["bench", "--only", "chain", "--reps", "1", "--warmup", "0", "--json", str(out)])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("machine: ") and "NumPy" in lines[0] and "BLAS" in lines[0]
    assert "unset" in result.stdout
    table = json.loads(out.read_text())
    assert table["machine"]["cores"] >= 1 and table["machine"]["numpy"]
    from glassgrad.backend import direct_conv

    assert table["machine"]["direct_conv"] is direct_conv.available()
    assert ("direct convolution" in lines[0]) is direct_conv.available()
    cases = {row["case"]: row for row in table["rows"]}
    chain = cases["1,000-op chain 16x16 fwd+bwd"]
    assert chain["ratio"] > 0 and chain["glassgrad"]["reps"] == 1 and chain["torch"]["median_ms"] > 0
    for row in table["rows"]:
        assert f"{row['ratio']:.2f}" in result.stdout


def test_bench_without_the_suite_says_where_it_lives(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch", reason="PyTorch not installed: bench needs it")
    from glassgrad.cli import bench

    monkeypatch.setattr(bench, "_suite_path", lambda: None)
    assert main(["bench", "--only", "chain"]) == 2
    assert "benchmarks/suite.py" in capsys.readouterr().err
