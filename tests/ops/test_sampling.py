"""torch.normal's forms: shapes, dtypes, moments, seeding and errors as in PyTorch."""

import numpy as np
import pytest

import glassgrad


@pytest.mark.parametrize(
    "args, kwargs, shape, dtype",
    [
        ((glassgrad.zeros(2, 1), glassgrad.ones(3)), {}, (2, 3), glassgrad.float32),
        ((glassgrad.zeros(4, dtype=glassgrad.float64),), {}, (4,), glassgrad.float64),
        ((2.0, glassgrad.ones(5)), {}, (5,), glassgrad.float32),
        ((2, 3, (2, 3)), {}, (2, 3), glassgrad.float32),
        ((0.0, 1.0, (3,)), {"dtype": glassgrad.float64}, (3,), glassgrad.float64),
    ],
)
def test_forms_give_torch_shapes_and_dtypes(args, kwargs, shape, dtype):
    out = glassgrad.normal(*args, **kwargs)
    assert tuple(out.shape) == shape and out.dtype == dtype


def test_moments_and_seeding():
    glassgrad.manual_seed(3)
    a = glassgrad.normal(glassgrad.full((200_000,), 2.0), glassgrad.full((200_000,), 3.0))
    assert abs(a.mean().item() - 2.0) < 0.03 and abs(a.std().item() - 3.0) < 0.03
    glassgrad.manual_seed(3)
    b = glassgrad.normal(glassgrad.full((200_000,), 2.0), glassgrad.full((200_000,), 3.0))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert glassgrad.normal(0.0, 1.0, (2,), requires_grad=True).requires_grad


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: glassgrad.normal(0.0, -1.0, (2,)), RuntimeError, "normal expects std >= 0.0, but found std -1"),
        (lambda: glassgrad.normal(glassgrad.zeros(2), -1.0), RuntimeError, "normal expects std >= 0.0"),
        (lambda: glassgrad.normal(0.0, 1.0), TypeError, "invalid combination of arguments"),
        (
            lambda: glassgrad.normal(glassgrad.zeros(2, dtype=glassgrad.int64)),
            NotImplementedError,
            "not implemented for",
        ),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_multinomial_and_bernoulli_are_tensor_methods():
    probs = glassgrad.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    glassgrad.manual_seed(3)
    by_method = probs.multinomial(5, replacement=True)
    glassgrad.manual_seed(3)
    by_function = glassgrad.multinomial(probs, 5, replacement=True)
    assert by_method.tolist() == by_function.tolist() and by_method.dtype == glassgrad.int64
    assert by_method[0].tolist() == [1] * 5 and set(by_method[1].tolist()) <= {0, 2}
    assert glassgrad.tensor([0.0, 1.0, 1.0]).bernoulli().tolist() == [0.0, 1.0, 1.0]
