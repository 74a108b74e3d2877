import numpy as np
import pytest

from glassgrad.lessons import numerical_gradient as ng


def test_numerical_matches_analytic_on_seed_model_and_error_curve(tmp_path):
    result = ng.run(out=tmp_path)
    for name, expected in {"a": -1, "b": -2, "c": -12}.items():
        numerical, analytic = result.seed_model[name]
        assert analytic == expected and numerical == pytest.approx(expected, abs=1e-8)
    assert result.analytic == pytest.approx(np.exp(1) * (np.sin(1) + np.cos(1)), rel=1e-14)
    forward = result.errors["forward difference, float64"]
    h = ng.STEPS_H
    # truncation: halving h near 1e-2 halves the error; rounding: below 1e-10 the error grows as h shrinks
    big = np.argmin(np.abs(h - 1e-2))
    assert forward[big] / forward[big - 4] == pytest.approx(10, rel=0.1)
    assert 1e-10 < result.best_h["forward difference, float64"] < 1e-6
    assert 1e-7 < result.best_h["central difference, float64"] < 1e-3
    assert result.best_h["forward difference, float32"] > 1e-5  # fewer digits: rounding wins sooner
    assert forward[np.argmin(np.abs(h - 1e-13))] > 10 * forward.min()
    assert result.figures[0].endswith(".png")
