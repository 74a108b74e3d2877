"""Errors of the triangle and diagonal ops, with PyTorch's messages (values and gradients: test_opinfo.py)."""

import pytest

import glassgrad


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: glassgrad.tril(glassgrad.ones(3)), "tril: input tensor must have at least 2 dimensions"),
        (lambda: glassgrad.triu(glassgrad.ones(3)), "triu: input tensor must have at least 2 dimensions"),
        (lambda: glassgrad.trace(glassgrad.ones(2, 2, 2)), "trace: expected a matrix, but got tensor with dim 3"),
        (lambda: glassgrad.diag(glassgrad.ones(2, 2, 2)), r"diag\(\): Supports 1D or 2D tensors. Got 3D"),
        (lambda: glassgrad.diagonal(glassgrad.ones(3, 3), 0, 0, 0), "diagonal dimensions cannot be identical 0, 0"),
        (lambda: glassgrad.diag_embed(glassgrad.ones(3), 0, 0, 0), "diagonal dimensions cannot be identical 0, 0"),
    ],
)
def test_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


def test_tril_in_place_bumps_the_version():
    x = glassgrad.ones(3, 3)
    assert x.tril_() is x and x._version == 1
    assert x.sum().item() == 6
