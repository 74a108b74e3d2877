"""glassgrad in a real Jupyter kernel: a notebook made here is executed by nbclient; the trainer's
progress must render there (an HTML bar with the final count, no raw carriage returns, no error),
and Graph, Module, summary and explain-animation objects must come back as SVG/HTML display data."""

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat not installed: pip install nbclient nbformat ipykernel")
nbclient = pytest.importorskip("nbclient", reason="nbclient not installed: pip install nbclient nbformat ipykernel")
pytest.importorskip("ipykernel", reason="ipykernel not installed: pip install nbclient nbformat ipykernel")

ROOT = Path(__file__).resolve().parents[2]

SETUP = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})  # this checkout, not an installed glassgrad
os.environ.pop("GLASSGRAD_PROGRESS", None)
import numpy as np
import glassgrad
from glassgrad import nn
from glassgrad.train.trainer import Trainer
from glassgrad.utils.data import DataLoader, TensorDataset
assert glassgrad.__file__.startswith({str(ROOT)!r}), glassgrad.__file__
"""

TRAIN = """
glassgrad.manual_seed(0)
x = glassgrad.tensor(np.random.default_rng(0).standard_normal((24, 4)).astype(np.float32))
y = glassgrad.tensor(np.arange(24) % 3)
loader = DataLoader(TensorDataset(x, y), batch_size=4)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
optimizer = glassgrad.optim.SGD(model.parameters(), lr=0.1)
history = Trainer(model, optimizer, nn.CrossEntropyLoss(), loader, report=False).fit(2)
len(history["steps"])
"""

VIEWS = [
    "model",
    "glassgrad.summary(model, (4,))",
    "from glassgrad import viz\n"
    "a = glassgrad.tensor([1.0, 2.0], requires_grad=True)\n"
    "(a * a).sum().backward()\n"
    "viz.graph((a * 3).sum())",
    "from glassgrad.viz.expression import evaluate\n"
    'evaluate("(a*x + b) * c", {"a": 2.0, "x": 1.0, "b": 5.0, "c": 3.0})',
]


def _execute(tmp_path):
    cells = [nbformat.v4.new_code_cell(source) for source in [SETUP, TRAIN, *VIEWS]]
    notebook = nbformat.v4.new_notebook(cells=cells)
    client = nbclient.NotebookClient(
        notebook, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    return notebook


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    return _execute(tmp_path_factory.mktemp("notebook"))


def _texts(outputs):
    for out in outputs:
        if out["output_type"] == "stream":
            yield out["text"]
        elif "data" in out:
            yield from (str(value) for value in out["data"].values())


def test_training_progress_renders_in_the_notebook(executed):
    outputs = executed.cells[1].outputs
    assert not [o for o in outputs if o["output_type"] == "error"], outputs
    assert executed.cells[1].outputs[-1]["data"]["text/plain"] == "12"  # 2 epochs of 6 steps ran
    bars = [o for o in outputs if o["output_type"] == "display_data" and "text/html" in o.get("data", {})]
    assert len(bars) == 2, outputs  # one bar per epoch, each kept at its final state
    for epoch, bar in enumerate(bars, 1):
        html, text = bar["data"]["text/html"], bar["data"]["text/plain"]
        assert f"epoch {epoch}/2" in text and "6/6" in text and "100%" in text, text
        assert re.search(r'<progress[^>]* value="6" max="6"', html), html
    for text in _texts(outputs):
        assert "\r" not in text and "\x1b" not in text, repr(text)  # no terminal control left in the notebook
        assert "Warning" not in text, text


@pytest.mark.parametrize(
    "cell, mime", [(2, "text/html"), (3, "text/html"), (4, "image/svg+xml"), (5, "text/html")], ids=str
)
def test_objects_render_as_rich_display_data(executed, cell, mime):
    (result,) = [o for o in executed.cells[cell].outputs if o["output_type"] == "execute_result"]
    assert mime in result["data"], list(result["data"])
    body = result["data"][mime]
    assert body.lstrip().startswith("<svg" if mime == "image/svg+xml" else "<"), body[:80]
    if cell == 2:
        assert "Linear" in body and "<table" in body
    if cell == 3:
        assert "<table" in body and "67" in body  # 4*8+8 + 8*3+3 parameters
    if cell == 5:
        assert body.startswith("<iframe srcdoc=") and "&lt;svg" in body and "&lt;script" in body  # the page inline
