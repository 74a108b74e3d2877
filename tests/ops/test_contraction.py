"""einsum's equation errors, with PyTorch's messages (values and gradients: test_opinfo.py)."""

import numpy as np
import pytest

import glassgrad


@pytest.mark.parametrize(
    "equation, shapes, message",
    [
        (
            "ij",
            [(2, 3, 4)],
            r"number of subscripts in the equation \(2\) does not match the number of dimensions \(3\)",
        ),
        ("ij,j", [(2, 3)], "fewer operands were provided than specified in the equation"),
        ("ij", [(2, 3), (3,)], "more operands were provided than specified in the equation"),
        ("ij->k", [(2, 3)], "output subscript k does not appear in the equation for any input operand"),
        ("ij->ii", [(2, 3)], "output subscript i appears more than once in the output"),
        (
            "i,i->i",
            [(2,), (3,)],
            "subscript i has size 3 for operand 1 which does not broadcast with previously seen size 2",
        ),
        ("i1->i", [(2, 3)], "invalid subscript given at index 1"),
    ],
)
def test_einsum_errors_name_the_problem(equation, shapes, message):
    with pytest.raises((RuntimeError, ValueError), match=message):
        glassgrad.einsum(equation, *[glassgrad.zeros(s) for s in shapes])


def test_einsum_takes_a_list_of_operands_and_matches_matmul():
    a, b = glassgrad.randn(3, 4), glassgrad.randn(4, 5)
    np.testing.assert_allclose(glassgrad.einsum("ij,jk->ik", [a, b]).numpy(), (a @ b).numpy(), rtol=1e-5, atol=1e-6)
