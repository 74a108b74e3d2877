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


def test_bench_networks_at_two_thread_counts_with_flops(tmp_path):
    pytest.importorskip("torch", reason="PyTorch not installed: bench needs it")
    out = tmp_path / "table.json"
    args = ["bench", "--only", "nets,mlp", "--nets", "cifar_mobilenet_v2", "--quick", "--threads", "1,2"]
    result = _run_cli(args + ["--reps", "1", "--warmup", "0", "--json", str(out)])
    assert result.returncode == 0, result.stderr
    table = json.loads(out.read_text())
    rows = table["rows"]
    peaks = [r for r in rows if r["group"] == "peak"]
    assert [r["threads"] for r in peaks] == [1, 2] and all(r["gflops_per_s"] > 0 for r in peaks)
    timed = [r for r in rows if r["group"] != "peak"]
    expected = {
        "cifar_mobilenet_v2 train step b2",
        "cifar_mobilenet_v2 inference b2",
        "mlp 784-512-512-10 train step b16",
    }
    for count in (1, 2):
        assert {r["case"] for r in timed if r["threads"] == count} == expected
    peak = {r["threads"]: r["gflops_per_s"] for r in peaks}
    for r in timed:
        # Identical weights and inputs: the same numbers in both frameworks.
        assert r.get("first_loss_abs_diff", r.get("max_abs_diff")) < 1e-3
        assert r["gflop"] > 0
        assert r["gflops_per_s"] == pytest.approx(r["gflop"] / (r["glassgrad"]["median_ms"] / 1000))
        assert r["peak_fraction"] == pytest.approx(r["gflops_per_s"] / peak[r["threads"]])
    kinds = {(m["threads"], m["kind"]) for m in table["geometric_means"]}
    assert kinds == {(c, k) for c in (1, 2) for k in ("train", "infer", "mlp", "mlp compiled")}
    for r in timed:  # the MLP step is also timed under glassgrad.compile
        if r["case"].startswith("mlp"):
            assert r["compiled_ratio"] == pytest.approx(r["compiled"]["median_ms"] / r["torch"]["median_ms"])
    assert "compiled" in result.stdout
    assert "ratio glassgrad/PyTorch by threads" in result.stdout
    assert "geometric means of the ratios" in result.stdout


def test_bench_rejects_bad_threads_and_networks(capsys):
    pytest.importorskip("torch", reason="PyTorch not installed: bench needs it")
    assert main(["bench", "--only", "nets", "--nets", "resnet99"]) == 2
    assert "unknown network(s) resnet99" in capsys.readouterr().err
    assert main(["bench", "--only", "mlp", "--threads", "1,two"]) == 2
    assert "--threads takes comma-separated whole numbers" in capsys.readouterr().err
