import numpy as np

import glassgrad
from glassgrad import viz


def _seed_graph():
    a, b, c = (glassgrad.tensor(v, dtype=glassgrad.float64, requires_grad=True) for v in (2.0, 5.0, 1.0))
    t = (a * 1.0 + b * 2.0) * (c * 1.0)
    loss = 15 - t
    return a, b, c, t, loss


def test_graph_walks_grad_fn_to_leaves_in_topological_order():
    a, b, c, t, loss = _seed_graph()
    g = viz.graph(loss, names={"a": a, "b": b, "c": c, "t": t})
    ops = [n.op for n in g if n.kind == "op"]
    assert sorted(ops) == ["Add", "Mul", "Mul", "Mul", "Mul", "Sub"]
    assert [n.name for n in g if n.kind == "input"] == ["a", "b", "c"]
    position = {n.id: i for i, n in enumerate(g)}
    for src, dst in g.edges():
        assert position[src] < position[dst]
    assert g.root == g.nodes[-1].id and g["t"].value == 12.0


def test_graph_shows_gradients_after_backward_and_dot_text():
    a, b, c, t, loss = _seed_graph()
    t.retain_grad()
    loss.backward()
    g = viz.graph(loss, names={"a": a, "b": b, "c": c, "t": t})
    assert (g["a"].grad, g["b"].grad, g["c"].grad, g["t"].grad) == (-1.0, -2.0, -12.0, -1.0)
    dot = g.to_dot()
    assert dot.startswith("digraph glassgrad {") and dot.rstrip().endswith("}")
    assert 'label="a\\nvalue 2\\ngrad -1"' in dot
    assert dot.count("->") == len(g.edges()) == 8


def test_trace_records_values_and_gradients_of_unnamed_ops():
    x = glassgrad.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    with viz.trace() as recorded:
        y = (x * 2).sum()
    y.backward()
    g = viz.graph(y, trace=recorded)
    mul = next(n for n in g if n.op == "Mul")
    np.testing.assert_array_equal(mul.value, np.arange(6.0).reshape(2, 3) * 2)
    np.testing.assert_array_equal(mul.grad, np.ones((2, 3)))
    assert viz.describe(mul.value) == "[2x3] mean 5 std 3.42 min 0 max 10"
    assert glassgrad.autograd.Function._apply.__func__.__name__ == "_apply"  # restored after the block


def test_local_derivatives_come_from_each_ops_backward():
    a, b, c, t, loss = _seed_graph()
    g = viz.graph(loss, names={"a": a, "t": t})
    local = viz.local_derivatives(g)
    assert local[(g["t"].id, g.root)] == -1.0
    assert sorted(local[(child, g["t"].id)] for child in g["t"].inputs) == [1.0, 12.0]


def test_same_input_twice_is_one_edge_with_summed_derivative():
    a = glassgrad.tensor(3.0, dtype=glassgrad.float64, requires_grad=True)
    y = a * a
    g = viz.graph(y, names={"a": a})
    assert g.edges() == [(g["a"].id, g.root)]
    assert viz.local_derivatives(g)[(g["a"].id, g.root)] == 6.0


def test_render_without_dot_says_how_to_fix(tmp_path, monkeypatch):
    import shutil

    import pytest

    a, b, c, t, loss = _seed_graph()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        viz.graph(loss).render(tmp_path / "g.svg")


def test_format_number():
    assert [viz.format_number(x) for x in (2.0, -12.0, 0.5523079, 1e-8, 0.0)] == ["2", "-12", "0.552308", "1e-8", "0"]
