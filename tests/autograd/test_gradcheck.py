"""gradcheck: the judge of every backward must pass right ones and catch wrong ones."""

import numpy as np
import pytest

import glassgrad
from glassgrad.autograd import gradcheck
from glassgrad.autograd.function import Function
from glassgrad.autograd.gradcheck import GradcheckError


def leaf(*shape, seed=0):
    array = np.random.default_rng(seed).standard_normal(shape)
    return glassgrad.tensor(array, requires_grad=True)


class WrongSquare(Function):
    """x^2 with a backward that is off for one element only: the check must point at it."""

    def forward(self, a):
        self.save_for_backward(a)
        return a * a

    def backward(self, grad):
        (a,) = self.saved_tensors
        out = 2 * a * grad
        out.reshape(-1)[4] += 1.0
        return out


class ForgetsSecondInput(Function):
    def forward(self, a, b):
        self.save_for_backward(b)
        return a * b

    def backward(self, grad):
        (b,) = self.saved_tensors
        return grad * b, np.zeros_like(grad)


def test_passes_on_correct_ops():
    a, b = leaf(3, 4), leaf(4, seed=1)
    assert gradcheck(lambda x, y: (x * y).tanh() + x.exp() / (1 + y * y), (a, b)) is True
    assert gradcheck(lambda x: x.sum(dim=0), a) is True


def test_raises_naming_input_and_worst_element():
    x = leaf(2, 3)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2, 3\)\) is wrong at element \(1, 1\)") as info:
        gradcheck(WrongSquare.apply, (x,))
    assert "analytic" in str(info.value) and "numerical" in str(info.value)


def test_names_the_right_input():
    a, b = leaf(3), leaf(3, seed=1)
    with pytest.raises(GradcheckError, match=r"gradient of input 1 \(shape \(3,\)\)"):
        gradcheck(ForgetsSecondInput.apply, (a, b))
    assert gradcheck(ForgetsSecondInput.apply, (a, b), raise_exception=False) is False


def test_only_inputs_requiring_grad_are_checked():
    a = leaf(3)
    constant = glassgrad.tensor(np.arange(3.0))
    assert gradcheck(lambda x, c: x * c, (a, constant))
    assert constant.grad is None


def test_refuses_float32_and_no_grad_inputs():
    with pytest.raises(TypeError, match=r"float64.*x.double\(\)"):
        gradcheck(lambda x: x * 2, (glassgrad.ones(2, requires_grad=True),))
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda x: x * 2, (glassgrad.ones(2, dtype=glassgrad.float64),))


def test_inputs_are_restored_after_the_check():
    a = leaf(2, 2)
    before = a.numpy().copy() if not a.requires_grad else a.detach().numpy().copy()
    gradcheck(lambda x: x.sin(), (a,))
    np.testing.assert_array_equal(a.detach().numpy(), before)
