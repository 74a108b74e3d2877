"""glassgrad.summary: layer rows, parameters counted once, MACs of convolutions and linear layers, memory."""

import pytest

import glassgrad
from glassgrad import nn
from glassgrad.summary import ModelSummary
from glassgrad.vision.models import LeNet5, SimpleCNN


def test_lenet5_table_and_totals():
    model = LeNet5(input_size=28)  # padded by 2, as LeCun padded MNIST
    result = glassgrad.summary(model, (1, 28, 28))
    assert isinstance(result, ModelSummary)
    assert result.total_params == result.trainable_params == 61_706
    # conv1 6x28x28 outputs x 25 taps, conv2 16x10x10 x 150, then 400x120, 120x84, 84x10.
    assert result.total_macs == 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10
    rows = {r["name"]: r for r in result.rows}
    assert rows["conv1"]["output_shape"] == [1, 6, 28, 28]
    assert rows["pool2"]["output_shape"] == [1, 16, 5, 5]
    assert rows["fc3"]["params"] == 850 and rows["fc3"]["macs"] == 840
    text = str(result)
    assert "Total params: 61,706" in text
    assert "conv1 (Conv2d)" in text and "[1, 6, 28, 28]" in text
    assert "Estimated training memory (MB)" in text
    assert result.memory["params"] == 61_706 * 4 and result.memory["gradients"] == 61_706 * 4


def test_shared_module_counted_once_and_batch_scales_macs():
    model = SimpleCNN(in_channels=1, input_size=8, activation="relu")
    one = glassgrad.summary(model, (1, 8, 8))
    four = glassgrad.summary(model, (4, 1, 8, 8))
    pools = [r for r in one.rows if r["name"] == "pool"]
    assert len(pools) == 3  # one row per call of the shared pooling module
    assert sum(r["params"] for r in one.rows if r["depth"] == 1) == one.total_params == 128_266
    assert four.total_macs == 4 * one.total_macs
    assert four.memory["activations"] == 4 * one.memory["activations"]


def test_depth_and_mode_restored():
    model = nn.Sequential(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), nn.Linear(3, 2))
    model.train()
    result = glassgrad.summary(model, input_data=glassgrad.ones(2, 4), depth=1)
    assert model.training
    text = str(result)
    assert "0 (Sequential)" in text and "(Linear)" in text
    assert "  0 (Linear)" not in text  # depth 2 rows hidden
    assert result.total_macs == 2 * (4 * 3 + 3 * 2)
    assert result.to_dict()["total_params"] == 4 * 3 + 3 + 3 * 2 + 2


def test_needs_an_input():
    with pytest.raises(ValueError, match="input_size"):
        glassgrad.summary(nn.Linear(2, 2))
