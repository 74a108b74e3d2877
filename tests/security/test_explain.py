"""Hostile expressions for glassgrad.viz.expression and `glassgrad explain`: a clear error or a right answer."""

import pytest

from glassgrad.viz import expression as expr


def _sum(names):
    return "+".join(names)


@pytest.mark.parametrize(
    "source, values, expected",
    [
        # more than 12 operations: the fallback names n1, n2, ... once clashed with graph node ids
        (_sum(f"x{i}" for i in range(14)), {f"x{i}": 1.0 for i in range(14)}, {"x0": -1.0, "x13": -1.0}),
        # variables named like graph node ids
        ("n12*n1 + n0", {"n12": 3.0, "n1": 2.0, "n0": 1.0}, {"n12": -2.0, "n1": -3.0, "n0": -1.0}),
        # the largest expression allowed, one variable reached along every term
        (_sum(["x"] * expr.MAX_OPERATIONS), {"x": 2.0}, {"x": -float(expr.MAX_OPERATIONS)}),
    ],
)
def test_large_expressions_are_explained(source, values, expected):
    result = expr.evaluate(source, values, target=1.0)
    lines = expr.explanation(result)
    assert lines[-1].startswith("  dL/d")
    for name, grad in expected.items():
        assert result.grad(name) == pytest.approx(grad)


@pytest.mark.parametrize(
    "source, message",
    [
        (_sum(["x"] * 1000), "more than 250 operations"),
        ("-" * 900 + "x", "more than 250 operations"),
        ("1" * 400 + " * x", "too large for a float64"),
        ("x+" * 100_000 + "x", "too long"),
        ("(" * 300 + "x" + ")" * 300, "not valid arithmetic"),
        ("x + (" + "y" * 200_000, "too long"),
        ("x + (" + "y" * 5_000, "not valid arithmetic"),
        ("__import__('os')", "are allowed"),
    ],
)
def test_hostile_expressions_raise_bounded_errors(source, message):
    with pytest.raises(ValueError, match=message) as info:
        expr.evaluate(source, {"x": 1.0, "y" * 5_000: 1.0})
    assert len(str(info.value)) < 400  # never echoes the whole input


def test_cli_reports_a_bound_as_an_error(tmp_path, capsys):
    from glassgrad.cli import main

    code = main(["explain", _sum(["x"] * 1000), "--set", "x=1", "--out", str(tmp_path / "out"), "--no-gif"])
    assert code != 0
    assert "more than 250 operations" in capsys.readouterr().err
