"""Errors and argument forms of narrow, select, movedim, roll, flip, rot90, repeat_interleave and tile,
with PyTorch's messages (values and gradients: test_opinfo.py)."""

import numpy as np
import pytest

import glassgrad

X = glassgrad.ones(3, 4)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: glassgrad.narrow(X, 0, 4, 1),
            IndexError,
            r"start out of range \(expected to be in range of \[-3, 3\]",
        ),
        (
            lambda: glassgrad.narrow(X, 0, 1, 5),
            RuntimeError,
            r"start \(1\) \+ length \(5\) exceeds dimension size \(3\)",
        ),
        (
            lambda: glassgrad.select(X, 0, 5),
            IndexError,
            r"select\(\): index 5 out of range for tensor of size \[3, 4\]",
        ),
        (lambda: glassgrad.movedim(X, (0, 1), (0,)), RuntimeError, "should contain the same number of dims"),
        (lambda: glassgrad.movedim(X, (0, 0), (0, 1)), RuntimeError, r"repeated dim in `source` \(\[0, 0\]\)"),
        (lambda: glassgrad.rot90(X, 1, [0, 1, 2]), RuntimeError, "expected total rotation dims == 2, but got dims = 3"),
        (lambda: glassgrad.rot90(glassgrad.ones(3)), RuntimeError, "expected total dims >= 2, but got total dims = 1"),
        (lambda: glassgrad.rot90(X, 1, [0, 0]), RuntimeError, "expected rotation dims to be different"),
        (lambda: glassgrad.roll(X, (1, 2), 0), RuntimeError, "shifts and dimensions must align. shifts: 2, dims:1"),
        (lambda: glassgrad.repeat_interleave(X, -1), RuntimeError, "Repeats must be non-negative"),
        (
            lambda: glassgrad.repeat_interleave(X, glassgrad.tensor([1, 2]), 0),
            RuntimeError,
            r"repeats.size\(0\) = 2 and input.size\(0\) = 3",
        ),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_method_forms_take_separate_ints():
    x = glassgrad.arange(6).reshape(2, 3)
    assert x.flip(0, 1).tolist() == [[5, 4, 3], [2, 1, 0]]
    assert x.tile(2, 1).shape == (4, 3)
    assert glassgrad.repeat_interleave(glassgrad.tensor([1, 2])).tolist() == [0, 1, 1]
    np.testing.assert_array_equal(x.moveaxis(0, 1).numpy(), x.numpy().T)
