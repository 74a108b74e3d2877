"""SummaryWriter writes files that TensorBoard's own reader reads back with the values written."""

import numpy as np
import pytest

import glassgrad
from glassgrad import nn

pytest.importorskip("tensorboard", reason="the tensorboard package is not installed (pip install tensorboard)")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from glassgrad.utils.tensorboard import SummaryWriter  # noqa: E402


def _read(folder):
    accumulator = EventAccumulator(
        str(folder), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0}
    )
    accumulator.Reload()
    return accumulator


def test_scalars_read_back_with_steps(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        for step in range(5):
            writer.add_scalar("loss", glassgrad.tensor(1.0 / (step + 1)), step)
        writer.add_scalar("lr", 0.1, 7, new_style=True)
    events = _read(tmp_path)
    loss = events.Scalars("loss")
    assert [e.step for e in loss] == [0, 1, 2, 3, 4]
    np.testing.assert_allclose([e.value for e in loss], [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5], rtol=1e-6)
    lr = events.Tensors("lr")
    assert lr[0].step == 7 and lr[0].tensor_proto.float_val[0] == pytest.approx(0.1)


def test_add_scalar_refuses_an_array(tmp_path):
    with SummaryWriter(tmp_path) as writer, pytest.raises(ValueError, match=r"add_scalar\('x'\).*shape \(3,\)"):
        writer.add_scalar("x", glassgrad.ones(3))


def test_add_scalars_writes_one_run_per_key(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalars("acc", {"train": 0.9, "test": 0.8}, 3)
    assert _read(tmp_path / "acc_train").Scalars("acc")[0].value == pytest.approx(0.9)
    assert _read(tmp_path / "acc_test").Scalars("acc")[0].value == pytest.approx(0.8)


def test_histogram_counts_and_moments(tmp_path):
    values = glassgrad.tensor(np.arange(100, dtype=np.float32) / 10)
    with SummaryWriter(tmp_path) as writer:
        writer.add_histogram("w", values, 2, bins=10)
        writer.add_histogram("tf", values, 2)
    histogram = _read(tmp_path).Histograms("w")[0].histogram_value
    assert histogram.num == 100 and sum(histogram.bucket) == 100
    assert histogram.min == 0 and histogram.max == pytest.approx(9.9)
    assert histogram.sum == pytest.approx(495.0) and histogram.sum_squares == pytest.approx(
        float(np.sum(values.numpy() ** 2))
    )
    assert list(histogram.bucket) == [10.0] * 10
    tf = _read(tmp_path).Histograms("tf")[0].histogram_value
    assert sum(tf.bucket) == 100 and len(tf.bucket) > 10


def test_images_decode_to_what_was_written(tmp_path):
    from io import BytesIO

    from PIL import Image

    image = np.zeros((3, 4, 5), dtype=np.float32)
    image[0] = 1.0  # red
    batch = glassgrad.rand(10, 1, 4, 5)
    with SummaryWriter(tmp_path) as writer:
        writer.add_image("one", glassgrad.tensor(image), 0)
        writer.add_images("batch", batch, 0)
    events = _read(tmp_path)
    decoded = np.asarray(Image.open(BytesIO(events.Images("one")[0].encoded_image_string)))
    assert decoded.shape == (4, 5, 3)
    assert (decoded[..., 0] == 255).all() and (decoded[..., 1:] == 0).all()
    grid = events.Images("batch")[0]
    assert (grid.height, grid.width) == (2 * 4, 8 * 5)  # 10 images, 8 per row
    pixels = np.asarray(Image.open(BytesIO(grid.encoded_image_string)))
    expected = (batch.numpy()[0, 0] * 255).clip(0, 255).astype(np.uint8)
    np.testing.assert_array_equal(pixels[:4, :5, 0], expected)


def test_image_with_wrong_dataformats_names_the_shape(tmp_path):
    with SummaryWriter(tmp_path) as writer, pytest.raises(ValueError, match=r"dataformats='HWC'.*\(3, 4\)"):
        writer.add_image("bad", np.zeros((3, 4)), dataformats="HWC")


def test_figure_and_text(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(2, 1), dpi=50)
    axis.plot([0, 1], [1, 0])
    with SummaryWriter(tmp_path) as writer:
        writer.add_figure("curve", figure, 1)
        writer.add_text("note", "**hello**", 1)
    events = _read(tmp_path)
    image = events.Images("curve")[0]
    assert (image.width, image.height) == (100, 50)
    text = events.Tensors("note/text_summary")[0].tensor_proto.string_val[0]
    assert text == b"**hello**"


def test_hparams_records_the_trial(tmp_path):
    from tensorboard.plugins.hparams import plugin_data_pb2

    with SummaryWriter(tmp_path) as writer:
        writer.add_hparams(
            {"lr": 0.1, "optimizer": "sgd", "nesterov": True}, {"hparam/accuracy": 0.93}, run_name="trial"
        )
    events = _read(tmp_path / "trial")
    assert events.Scalars("hparam/accuracy")[0].value == pytest.approx(0.93)
    content = events.summary_metadata["_hparams_/session_start_info"].plugin_data.content
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    assert start.hparams["lr"].number_value == pytest.approx(0.1)
    assert start.hparams["optimizer"].string_value == "sgd"
    assert start.hparams["nesterov"].bool_value is True


def test_graph_names_nodes_by_module(tmp_path):
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)
            self.bn = nn.BatchNorm2d(2)

        def forward(self, x):
            return glassgrad.relu(self.bn(self.conv(x)) + x)

    model = nn.Sequential(Block(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    with SummaryWriter(tmp_path) as writer:
        writer.add_graph(model, glassgrad.randn(1, 2, 4, 4))
    graph = _read(tmp_path).Graph()
    by_name = {node.name: node for node in graph.node}
    assert "Sequential/0/conv/weight" in by_name and "Sequential/2/bias" in by_name
    convs = [node for node in graph.node if node.name.startswith("Sequential/0/conv/") and node.op != "Parameter"]
    assert convs and "Sequential/0/conv/weight" in convs[0].input
    # The residual add is written in Block.forward: it belongs to block 0, and feeds the relu.
    adds = [node for node in graph.node if node.name.startswith("Sequential/0/Add")]
    assert len(adds) == 1
    every_input = {name for node in graph.node for name in node.input}
    assert every_input <= set(by_name)


def test_missing_tensorboard_says_what_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("tensorboard"):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'glassgrad\[tensorboard\]'"):
        SummaryWriter("unused")
