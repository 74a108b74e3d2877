from glassgrad.lessons import xor


def test_xor_linear_fails_stack_collapses_mlp_succeeds(tmp_path):
    result = xor.run(out=tmp_path, epochs=300)
    assert result.accuracy["linear"] <= 0.75
    assert result.accuracy["stacked linear (no activation)"] <= 0.75
    assert result.accuracy["MLP with tanh"] == 1.0
    W, b = result.collapsed
    assert W.shape == (2, 2) and b.shape == (2,)
    assert result.collapse_error < 1e-5
    assert result.figures[0].endswith("xor_decision_boundaries.png")
