import pytest
from PIL import Image

from glassgrad.lessons import gradient_descent as gd


def test_iterates_follow_the_update_rule():
    path = gd.descend(0.3, 3)
    assert path == pytest.approx([-5, -2.6, -0.92, 0.256])  # w - 3 shrinks by (1 - 0.3) each step


def test_which_learning_rates_diverge_and_figures(tmp_path):
    result = gd.run(out=tmp_path, steps=20, learning_rates=(2.1, 2.0, 0.02, 0.3, 1.5))
    assert result.verdicts == {2.1: "diverges", 2.0: "oscillates", 0.02: "too slow", 0.3: "converges", 1.5: "converges"}
    assert result.iterates[2.0][:3] == [-5, 11, -5]
    assert abs(result.iterates[2.1][-1] - 3) > 8 * 1.1**19
    gif, png = result.figures
    with Image.open(gif) as image:
        assert image.is_animated and image.n_frames == 21
    with Image.open(png) as image:
        assert image.format == "PNG"
    assert "Diverging learning rates: [2.1]" in "\n".join(gd.describe(result))
