import math

import pytest

from glassgrad.viz import expression as expr

SEED = "(a*x + b*y) * (c*z)"
VALUES = {"a": 2, "b": 5, "c": 1, "x": 1, "y": 2, "z": 1}


@pytest.fixture(scope="module")
def seed():
    return expr.evaluate(SEED, VALUES, target=15)


def test_seed_000_forward_values_named_as_the_seed_names_them(seed):
    assert [s.name for s in seed.steps] == ["p", "q", "s", "r", "t", "L"]
    assert [s.formula for s in seed.steps] == ["a * x", "b * y", "p + q", "c * z", "s * r", "15 - t"]
    assert {n: seed.value(n) for n in "pqsrt"} == {"p": 2, "q": 10, "s": 12, "r": 1, "t": 12}
    assert seed.value("L") == 3


def test_seed_000_local_derivatives_and_gradients(seed):
    assert seed.local_derivative("L", "t") == -1
    assert (seed.local_derivative("t", "s"), seed.local_derivative("t", "r")) == (1, 12)
    assert (seed.local_derivative("p", "a"), seed.local_derivative("q", "b"), seed.local_derivative("r", "c")) == (
        1,
        2,
        1,
    )
    assert (seed.grad("a"), seed.grad("b"), seed.grad("c")) == (-1, -2, -12)
    assert seed.derivative_formula("t", "s") == "r" and seed.derivative_formula("p", "a") == "x"


def test_seed_000_chain_rule_lines(seed):
    lines = expr.explanation(seed)
    assert "  p = a * x = 2 * 1 = 2" in lines
    assert "  dt/dr = s = 12" in lines
    assert "  dL/da = dL/dt · dt/ds · ds/dp · dp/da = (-1) · 1 · 1 · 1 = -1" in lines
    assert "  dL/db = dL/dt · dt/ds · ds/dq · dq/db = (-1) · 1 · 1 · 2 = -2" in lines
    assert "  dL/dc = dL/dt · dt/dr · dr/dc = (-1) · 12 · 1 = -12" in lines


def test_shared_variable_sums_paths_and_functions_work():
    e = expr.evaluate("sigmoid(w*x) * w", {"w": 0.5, "x": 2.0})
    s = 1 / (1 + math.exp(-1.0))
    assert e.value(e.top_name) == pytest.approx(s * 0.5, rel=1e-12)
    assert e.grad("w") == pytest.approx(s + 0.5 * s * (1 - s) * 2.0, rel=1e-12)
    assert len(e.paths("w")) == 2
    line = next(x for x in expr.explanation(e) if x.startswith(f"  d{e.top_name}/dw") and "·" in x)
    assert " + " in line and line.endswith(expr.format_number(e.grad("w")))


def test_constants_fold_and_no_target_differentiates_output():
    e = expr.evaluate("2*3*a - -a", {"a": 4})
    assert e.value(e.top_name) == 28 and e.grad("a") == 7


@pytest.mark.parametrize(
    "source",
    ["__import__('os').system('true')", "a.b", "a[0]", "lambda: 1", "open('f')", "a if a else b", "'s' * 2", "a < b"],
)
def test_anything_but_arithmetic_is_rejected_without_eval(source):
    with pytest.raises(ValueError, match="expression"):
        expr.evaluate(source, {"a": 1, "b": 2})


def test_missing_value_names_the_fix():
    with pytest.raises(ValueError, match="no value for y; give one with --set"):
        expr.evaluate("x * y", {"x": 1})


def test_bare_variable_needs_an_operation_or_a_target():
    with pytest.raises(ValueError, match="no operation to explain"):
        expr.evaluate("a", {"a": 2})
    e = expr.evaluate("a", {"a": 2}, target=5)
    assert e.value("L") == 3 and e.grad("a") == -1 and "  dL/da = -1" in expr.explanation(e)
