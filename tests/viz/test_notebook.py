"""What Jupyter shows: graphs as SVG, modules and summaries as HTML tables, the explain page inline."""

import html
import xml.etree.ElementTree as ET

import glassgrad
from glassgrad import nn
from glassgrad.viz import graph
from glassgrad.viz.expression import evaluate


def test_graph_svg_is_well_formed_and_shows_values_and_gradients():
    a = glassgrad.tensor(2.0, requires_grad=True)
    b = glassgrad.tensor(3.0, requires_grad=True)
    out = a * b + a
    out.backward()
    svg = graph(out, names={"a": a, "b": b, "out": out})._repr_svg_()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    texts = [t.text for t in root.iter() if t.tag.endswith("text")]
    assert {"a", "b"} <= set(texts)
    assert "8" in texts  # out = 2 * 3 + 2
    assert "∇ 4" in texts and "∇ 2" in texts  # d out/da = b + 1, d out/db = a
    assert 'class="value hidden"' not in svg  # nothing is waiting for a script to reveal it


def test_module_html_lists_every_layer_with_its_parameters():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    page = model._repr_html_()
    assert page.count("<tr>") == 1 + 1 + 4  # header, the Sequential, its four children
    assert "Conv2d" in page and "<td>40</td>" in page  # 4*1*3*3 + 4
    assert "<td>1,450</td>" in page  # 144*10 + 10
    assert "1,490 parameters (1,490 trainable)" in page


def test_summary_html_has_the_shapes_and_totals():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    page = glassgrad.summary(model, (1, 8, 8))._repr_html_()
    assert html.escape(str([1, 4, 6, 6])) in page or "[1, 4, 6, 6]" in page
    assert "Total params: 1,490" in page


def test_expression_shows_its_animation_inline():
    expression = evaluate("(a*x + b) * c", {"a": 2.0, "x": 1.0, "b": 5.0, "c": 3.0})
    page = expression._repr_html_()
    assert page.startswith("<iframe srcdoc=")
    inner = html.unescape(page.split('srcdoc="', 1)[1].split('" style=', 1)[0])
    assert "<script>" in inner and 'id="frames"' in inner and "glassgrad explain" in inner
