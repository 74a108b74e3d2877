"""PyTorch's legacy and everyday API: legacy tensor types, Variable, factory keywords,
in-place sampling, mm/bmm checks, float sizes refused, convolution over zero channels."""

import numpy as np
import pytest

import glassgrad
from glassgrad import nn


def test_legacy_types_construct_convert_and_name():
    assert glassgrad.FloatTensor(2, 3).shape == (2, 3) and glassgrad.FloatTensor(2, 3).dtype == glassgrad.float32
    assert glassgrad.FloatTensor(glassgrad.Size([2, 3])).shape == (2, 3)
    assert glassgrad.FloatTensor((2, 3)).tolist() == [2.0, 3.0]  # a tuple is data, a Size is a shape
    assert glassgrad.LongTensor([1.7, 2.2]).tolist() == [1, 2]
    assert glassgrad.FloatTensor().shape == (0,)
    assert glassgrad.ByteTensor([1]).dtype == glassgrad.uint8 and glassgrad.BoolTensor([1]).dtype == glassgrad.bool
    x = glassgrad.ones(2)
    assert isinstance(x, glassgrad.FloatTensor) and not isinstance(x, glassgrad.LongTensor)
    assert x.type() == "torch.FloatTensor" and x.long().type() == "torch.LongTensor"
    assert x.type(glassgrad.LongTensor).dtype == glassgrad.int64
    assert x.type("torch.DoubleTensor").dtype == glassgrad.float64
    assert x.type(glassgrad.IntTensor).tolist() == [1, 1]
    with pytest.raises(RuntimeError, match="CUDA tensors are not available"):
        x.type("torch.cuda.FloatTensor")
    with pytest.raises(TypeError, match="expected a tensor of type glassgrad.float32"):
        glassgrad.FloatTensor(glassgrad.ones(2, dtype=glassgrad.float64))


def test_variable_is_a_leaf_tensor_sharing_memory():
    t = glassgrad.ones(2)
    v = glassgrad.autograd.Variable(t, requires_grad=True)
    assert v.is_leaf and v.requires_grad and not t.requires_grad and v is not t
    assert isinstance(t, glassgrad.autograd.Variable)
    (v * 3).sum().backward()
    assert v.grad.tolist() == [3.0, 3.0]
    with pytest.warns(UserWarning, match="volatile was removed"):
        glassgrad.autograd.Variable(t, volatile=True)


@pytest.mark.parametrize(
    "call, shape",
    [
        (lambda: glassgrad.randint(10, size=(3,)), (3,)),
        (lambda: glassgrad.randint(10, (3,)), (3,)),
        (lambda: glassgrad.randint(2, 10, (2, 2)), (2, 2)),
        (lambda: glassgrad.randint(low=2, high=10, size=(4,)), (4,)),
        (lambda: glassgrad.randint(high=5, size=(1,)), (1,)),
        (lambda: glassgrad.zeros(size=(2, 3)), (2, 3)),
        (lambda: glassgrad.randn(size=(2,)), (2,)),
    ],
)
def test_factory_keyword_forms(call, shape):
    assert call().shape == shape


def test_randint_bounds_and_dtypes():
    glassgrad.manual_seed(0)
    values = glassgrad.randint(3, 6, (1000,))
    assert values.dtype == glassgrad.int64 and set(values.tolist()) == {3, 4, 5}
    assert glassgrad.randint(10, (2,), dtype=glassgrad.float32).dtype == glassgrad.float32
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients"):
        glassgrad.randint(3, 10, (2,), requires_grad=True)
    with pytest.raises(TypeError, match="missing the required argument 'size'"):
        glassgrad.randint(5)


def test_out_keyword_resizes_and_fills():
    out = glassgrad.empty(0)
    result = glassgrad.randn(2, 3, out=out)
    assert result is out and out.shape == (2, 3)
    assert glassgrad.zeros(4, out=out) is out and out.tolist() == [0.0] * 4
    ints = glassgrad.empty(0, dtype=glassgrad.int64)
    glassgrad.arange(3, out=ints)
    assert ints.tolist() == [0, 1, 2]
    with pytest.raises(TypeError, match="argument 'out' must be Tensor"):
        glassgrad.zeros(2, out=[0, 0])


def test_in_place_sampling_distributions():
    glassgrad.manual_seed(0)
    n = 20000
    assert abs(glassgrad.empty(n).normal_(2.0, 0.5).mean().item() - 2.0) < 0.02
    u = glassgrad.empty(n).uniform_(**{"from": 2, "to": 3})
    assert 2 <= u.min().item() and u.max().item() < 3
    r = glassgrad.empty(n).random_(5, 8)
    assert set(r.tolist()) == {5.0, 6.0, 7.0}
    assert set(glassgrad.empty(n).random_(3).tolist()) == {0.0, 1.0, 2.0}
    assert glassgrad.empty(n).random_().max().item() <= 2**24
    assert set(glassgrad.empty(n, dtype=glassgrad.bool).random_().tolist()) == {False, True}
    assert abs(glassgrad.empty(n).exponential_(2.0).mean().item() - 0.5) < 0.02
    g = glassgrad.empty(n).geometric_(0.25)
    assert g.min().item() == 1 and abs(g.mean().item() - 4.0) < 0.1
    assert abs(np.median(glassgrad.empty(n).cauchy_(1.0, 2.0).numpy()) - 1.0) < 0.1
    assert abs(glassgrad.empty(n).log_normal_(0.0, 0.5).log().mean().item()) < 0.02
    b = glassgrad.empty(3).bernoulli_(glassgrad.tensor([0.0, 1.0, 1.0]))
    assert b.tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: glassgrad.empty(3, dtype=glassgrad.int64).normal_(), "not implemented for glassgrad.int64"),
        (lambda: glassgrad.empty(3).random_(5, 2), "random_ expects 'from' to be less than 'to'"),
        (lambda: glassgrad.empty(3).geometric_(1.5), r"geometric_ expects p to be in \(0, 1\)"),
        (lambda: glassgrad.empty(3).exponential_(-1), "exponential_ expects lambda > 0.0"),
        (lambda: glassgrad.empty(3).bernoulli_(1.5), r"bernoulli_ expects p to be in \[0, 1\]"),
        (lambda: glassgrad.ones(3, requires_grad=True).normal_(), "leaf tensor that requires grad"),
    ],
)
def test_in_place_sampling_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: glassgrad.bmm(glassgrad.zeros(2, 3), glassgrad.zeros(3, 4)), "batch1 must be a 3D tensor"),
        (lambda: glassgrad.bmm(glassgrad.zeros(2, 3, 4), glassgrad.zeros(4, 5)), "batch2 must be a 3D tensor"),
        (
            lambda: glassgrad.bmm(glassgrad.zeros(2, 3, 4), glassgrad.zeros(2, 5, 5)),
            r"Expected size for first two dimensions of batch2 tensor to be: \[2, 4\] but got: \[2, 5\]",
        ),
        (lambda: glassgrad.zeros(2, 3, 4).mm(glassgrad.zeros(4, 5)), "self must be a matrix"),
        (lambda: glassgrad.mm(glassgrad.zeros(2, 3), glassgrad.zeros(3)), "mat2 must be a matrix"),
        (
            lambda: glassgrad.mm(glassgrad.zeros(2, 3), glassgrad.zeros(4, 4)),
            r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x4\)",
        ),
        (lambda: glassgrad.dot(glassgrad.zeros(2, 3), glassgrad.zeros(3)), "1D tensors expected"),
    ],
)
def test_mm_bmm_dot_checks(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


def test_mm_bmm_values_and_gradients():
    a = glassgrad.randn(2, 3, 4, dtype=glassgrad.float64, requires_grad=True)
    b = glassgrad.randn(2, 4, 5, dtype=glassgrad.float64, requires_grad=True)
    assert glassgrad.autograd.gradcheck(glassgrad.bmm, (a, b))
    m = glassgrad.randn(3, 4, dtype=glassgrad.float64, requires_grad=True)
    k = glassgrad.randn(4, 2, dtype=glassgrad.float64, requires_grad=True)
    assert glassgrad.autograd.gradcheck(glassgrad.mm, (m, k))
    np.testing.assert_allclose(glassgrad.bmm(a, b).detach().numpy(), a.detach().numpy() @ b.detach().numpy())


@pytest.mark.parametrize(
    "build, position",
    [(lambda: nn.Conv2d(3, 6.0, 3), 0), (lambda: nn.BatchNorm2d(6.0), 0), (lambda: nn.Linear(2.0, 3), 1)],
)
def test_float_sizes_raise_type_error_as_pytorch(build, position):
    with pytest.raises(TypeError) as caught:
        build()
    assert str(caught.value) == (
        "empty(): argument 'size' (position 1) must be tuple of ints, but found element of type float "
        f"at pos {position}"
    )


def test_convolution_over_zero_input_channels():
    conv = nn.Conv2d(0, 4, 3)
    x = glassgrad.zeros(2, 0, 5, 5, requires_grad=True)
    y = conv(x)
    assert y.shape == (2, 0, 3, 3)  # PyTorch mirrors the empty input's channels
    y.sum().backward()
    assert x.grad.shape == (2, 0, 5, 5) and conv.bias.grad.tolist() == [0.0] * 4
    assert nn.Conv1d(0, 4, 3)(glassgrad.zeros(2, 0, 5)).shape == (2, 0, 3)
    assert nn.Conv2d(0, 4, 3, padding=1, stride=2)(glassgrad.zeros(2, 0, 5, 5)).shape == (2, 0, 3, 3)


def test_parity_with_pytorch():
    torch = pytest.importorskip("torch", reason="parity needs PyTorch")
    assert glassgrad.ones(2).type() == torch.ones(2).type()
    assert glassgrad.ones(2, dtype=glassgrad.uint8).type() == torch.ones(2, dtype=torch.uint8).type()
    assert tuple(nn.Conv2d(0, 4, 3)(glassgrad.zeros(2, 0, 5, 5)).shape) == tuple(
        torch.nn.Conv2d(0, 4, 3)(torch.zeros(2, 0, 5, 5)).shape
    )
    for name in ("FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "ByteTensor", "BoolTensor"):
        ours, theirs = getattr(glassgrad, name)([1, 0]), getattr(torch, name)([1, 0])
        assert ours.type() == theirs.type() and ours.tolist() == theirs.tolist()
    with pytest.raises(TypeError) as theirs_error:
        torch.nn.Conv2d(3, 6.0, 3)
    with pytest.raises(TypeError) as ours_error:
        nn.Conv2d(3, 6.0, 3)
    assert str(ours_error.value) == str(theirs_error.value)


def test_finfo_iinfo_and_constants_match_pytorch():
    torch = pytest.importorskip("torch", reason="parity needs PyTorch")
    for ours, theirs in ((glassgrad.float32, torch.float32), (glassgrad.float64, torch.float64)):
        a, b = glassgrad.finfo(ours), torch.finfo(theirs)
        assert (a.eps, a.max, a.min, a.tiny, a.bits, a.resolution) == (
            b.eps,
            b.max,
            b.min,
            b.tiny,
            b.bits,
            b.resolution,
        )
        assert repr(a) == repr(b)
    for ours, theirs in ((glassgrad.int64, torch.int64), (glassgrad.uint8, torch.uint8), (glassgrad.int8, torch.int8)):
        a, b = glassgrad.iinfo(ours), torch.iinfo(theirs)
        assert (a.max, a.min, a.bits, a.dtype) == (b.max, b.min, b.bits, b.dtype)
    assert glassgrad.finfo().eps == torch.finfo().eps
    with pytest.raises(TypeError, match="requires a floating point input type"):
        glassgrad.finfo(glassgrad.int64)
    with pytest.raises(TypeError, match="requires an integer input type"):
        glassgrad.iinfo(glassgrad.float32)
    assert (glassgrad.pi, glassgrad.e, glassgrad.inf) == (torch.pi, torch.e, torch.inf)
    assert glassgrad.nan != glassgrad.nan
