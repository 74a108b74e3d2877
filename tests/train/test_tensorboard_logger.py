"""`glassgrad train --tensorboard` logs steps, epochs, histograms and predictions that TensorBoard reads."""

import pytest

from glassgrad.cli import main

pytest.importorskip("tensorboard", reason="the tensorboard package is not installed (pip install tensorboard)")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def test_train_tensorboard_logs_the_run(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--model", "lenet5", "--epochs", "2", "--limit", "96", "--batch-size", "32", "--quiet",
                 "--out", str(out), "--tensorboard"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    events = EventAccumulator(str(out / "tensorboard"), size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    events.Reload()
    tags = events.Tags()
    steps = events.Scalars("train/loss")
    assert [e.step for e in steps] == list(range(1, 7))  # 96 images / 32 = 3 steps per epoch, 2 epochs
    metrics = [line for line in (out / "steps.csv").read_text().splitlines()[1:]]
    assert len(metrics) == 6
    assert [e.step for e in events.Scalars("accuracy_percent/test")] == [1, 2]
    assert all(0 <= e.value <= 100 for e in events.Scalars("accuracy_percent/test"))
    assert {"weights/conv1.weight", "gradients/conv1.weight"} <= set(tags["histograms"])
    assert "predictions" in tags["images"]
    assert "predictions/text_summary" in tags["tensors"] and "config/text_summary" in tags["tensors"]
    hparams = EventAccumulator(str(out / "tensorboard" / "hparams"))
    hparams.Reload()
    assert "hparam/test_accuracy_percent" in hparams.Tags()["scalars"]
