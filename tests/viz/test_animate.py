import json
import re

import pytest
from PIL import Image

from glassgrad.viz import animate
from glassgrad.viz import expression as expr


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("animate")
    e = expr.evaluate("(a*x + b*y) * (c*z)", {"a": 2, "b": 5, "c": 1, "x": 1, "y": 2, "z": 1}, target=15)
    return e, expr.write_animation(e, folder / "e.html", folder / "e.gif")


def test_frames_go_forward_then_backward(seed):
    e, _ = seed
    ids = {n.name: n.id for n in e.graph}
    frames = animate.build_frames(e.graph, e.local, {ids[s.name]: s.formula for s in e.steps})
    phases = [f.phase for f in frames]
    assert phases[0] == "graph" and phases[-1] == "done"
    assert phases.index("backward") > max(i for i, p in enumerate(phases) if p == "forward")
    assert phases.count("local") == phases.count("chain") == 6
    forward = [f.caption for f in frames if f.phase == "forward"]
    assert "Forward: s = p + q = 2 + 10 = 12" in forward
    chain = next(f.caption for f in frames if f.phase == "chain" and f.focus == ids["p"])
    assert "dL/dp · dp/da = (-1) · 1 = -1" in chain
    assert "grad-a" in frames[-1].shown and "grad-a" not in frames[len(forward)].shown


def test_html_page_is_self_contained_and_well_formed(seed):
    from html.parser import HTMLParser

    _, (html_path, _) = seed
    page = html_path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"(src|href)=\"https?:", page), "the page must work offline"

    class Checker(HTMLParser):
        void = {"meta", "input", "br", "img", "path", "rect"}

        def __init__(self):
            super().__init__()
            self.stack = []

        def handle_starttag(self, tag, attrs):
            if tag not in self.void:
                self.stack.append(tag)

        def handle_startendtag(self, tag, attrs):
            pass

        def handle_endtag(self, tag):
            if tag in self.void:
                return
            assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
            self.stack.pop()

    checker = Checker()
    checker.feed(page)
    assert checker.stack == []
    frames = json.loads(re.search(r'<script type="application/json" id="frames">(.*?)</script>', page, re.S)[1])
    assert frames[-1]["phase"] == "done" and "grad-a" in frames[-1]["shown"]
    assert 'id="grad-a"' in page and 'data-text="-1"' in page


def test_gif_has_one_frame_per_step(seed):
    _, (_, gif_path) = seed
    with Image.open(gif_path) as image:
        assert image.format == "GIF" and image.is_animated
        assert image.n_frames == 22
        assert image.size[0] >= 640


def test_animate_any_traced_graph_with_arrays(tmp_path):
    import numpy as np

    import glassgrad
    from glassgrad import nn, viz

    glassgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    x = glassgrad.randn(5, 3)
    with viz.trace() as recorded:
        loss = model(x).pow(2).mean()
    loss.backward()
    g = viz.graph(loss, names={"w1": model[0].weight}, trace=recorded)
    page, gif = viz.animate.save(g, tmp_path / "mlp.html", tmp_path / "mlp.gif")
    text = page.read_text(encoding="utf-8")
    assert 'id="grad-w1"' in text and "[4x3] mean" in text
    with Image.open(gif) as image:
        assert image.n_frames > 10
    assert np.allclose(g["w1"].grad, model[0].weight.grad.numpy())
