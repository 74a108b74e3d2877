"""Zero-size layers and empty batches give PyTorch's shapes and values, not a reshape error."""

import numpy as np
import pytest

import glassgrad
from glassgrad import nn


def test_linear_with_zero_in_features_gives_the_bias_and_gradients():
    layer = nn.Linear(0, 2)
    x = glassgrad.zeros(3, 0, requires_grad=True)
    y = layer(x)
    assert y.shape == (3, 2)
    np.testing.assert_array_equal(y.detach().array, np.broadcast_to(layer.bias.detach().array, (3, 2)))
    y.sum().backward()
    assert x.grad.shape == (3, 0) and layer.weight.grad.shape == (2, 0)
    np.testing.assert_array_equal(layer.bias.grad.array, [3.0, 3.0])


@pytest.mark.parametrize(
    "shape, start, expected", [((0, 3, 4, 4), 1, (0, 48)), ((2, 0, 4), 1, (2, 0)), ((0, 5), 0, (0,))]
)
def test_flatten_of_an_empty_tensor(shape, start, expected):
    assert glassgrad.flatten(glassgrad.zeros(*shape), start).shape == expected
    assert nn.Flatten(start)(glassgrad.zeros(*shape)).shape == expected


def test_empty_batches_match_pytorch():
    torch = pytest.importorskip("torch")
    for make, shape in [
        (lambda lib: lib.nn.Linear(0, 2), (3, 0)),
        (lambda lib: lib.nn.Linear(4, 2), (0, 4)),
        (lambda lib: lib.nn.Flatten(), (0, 3, 4, 4)),
        (lambda lib: lib.nn.Sequential(lib.nn.Conv2d(3, 4, 3), lib.nn.MaxPool2d(2), lib.nn.Flatten()), (0, 3, 8, 8)),
    ]:
        ours, theirs = make(glassgrad), make(torch)
        assert tuple(ours(glassgrad.zeros(*shape)).shape) == tuple(theirs(torch.zeros(*shape)).shape)


@pytest.mark.parametrize(
    "cls, shape", [(nn.BatchNorm1d, (0, 3)), (nn.BatchNorm1d, (0, 3, 5)), (nn.BatchNorm2d, (0, 3, 4, 4))]
)
def test_batch_norm_on_an_empty_training_batch_keeps_running_stats(cls, shape):
    bn = cls(3)
    bn.train()
    x = glassgrad.randn(*shape, requires_grad=True)
    y = bn(x)
    assert y.shape == shape
    np.testing.assert_array_equal(bn.running_mean.array, np.zeros(3))
    np.testing.assert_array_equal(bn.running_var.array, np.ones(3))
    assert int(bn.num_batches_tracked.item()) == 1
    y.sum().backward()
    assert x.grad.shape == shape
    np.testing.assert_array_equal(bn.weight.grad.array, np.zeros(3))
    np.testing.assert_array_equal(bn.bias.grad.array, np.zeros(3))
