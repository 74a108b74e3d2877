"""Errors and in-place behaviour of the scatter family (values and gradients: test_opinfo.py)."""

import pytest

import glassgrad

X = glassgrad.zeros(3, 4)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: X.scatter(0, glassgrad.tensor([[0]], dtype=glassgrad.int32), 1.0),
            RuntimeError,
            "Expected dtype int64 for index",
        ),
        (
            lambda: X.scatter(0, glassgrad.tensor([[5]]), 1.0),
            RuntimeError,
            "index 5 is out of bounds for dimension 0 with size 3",
        ),
        (
            lambda: X.scatter(0, glassgrad.tensor([0]), 1.0),
            RuntimeError,
            "Index tensor must have the same number of dimensions",
        ),
        (
            lambda: X.scatter_reduce(0, glassgrad.tensor([[0]]), X, "max"),
            RuntimeError,
            "reduce argument must be either sum",
        ),
        (lambda: X.index_add(0, glassgrad.tensor([[0]]), X), IndexError, "Index is supposed to be a vector"),
        (lambda: X.index_copy(0, glassgrad.tensor([0]), X), RuntimeError, r"expected \(1, 4\)"),
        (lambda: X.masked_scatter(glassgrad.ones(3, 4), X), RuntimeError, "expected BoolTensor for mask"),
        (lambda: X.masked_scatter(X == 0, glassgrad.ones(2)), RuntimeError, "the mask selects 12 elements"),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_in_place_forms_write_into_the_tensor():
    x = glassgrad.zeros(3)
    assert x.index_add_(0, glassgrad.tensor([0, 0, 2]), glassgrad.ones(3)) is x
    assert x.tolist() == [2.0, 0.0, 1.0] and x._version == 1
    x.scatter_(0, glassgrad.tensor([1]), 7.0)
    assert x.tolist() == [2.0, 7.0, 1.0] and x._version == 2
