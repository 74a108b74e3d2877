"""Activation layers and functions: values against NumPy formulas, and gradcheck in float64."""

import math

import numpy as np
import pytest

import glassgrad
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.autograd import gradcheck
from glassgrad.ops.activation import erf, erfc


def _x(rng, shape=(3, 4)):
    # Away from the kinks at 0, +-1, +-3, 6 so that central differences are exact enough.
    x = rng.uniform(-4, 7, shape)
    for kink in (0, 1, -1, 3, -3, 6):
        x = np.where(np.abs(x - kink) < 1e-3, x + 0.01, x)
    return glassgrad.tensor(x, dtype=glassgrad.float64, requires_grad=True)


def _sig(x):
    return 1 / (1 + np.exp(-x))


PHI = np.vectorize(lambda v: 0.5 * math.erfc(-v / math.sqrt(2)))

CASES = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.ELU(0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1))),
    (nn.CELU(2.0), lambda x: np.where(x > 0, x, 2.0 * (np.exp(x / 2.0) - 1))),
    (nn.SELU(), lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * (np.exp(x) - 1))),
    (nn.GELU(), lambda x: x * PHI(x)),
    (
        nn.GELU(approximate="tanh"),
        lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    ),
    (nn.SiLU(), lambda x: x * _sig(x)),
    (nn.Mish(), lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    (nn.Sigmoid(), _sig),
    (nn.Tanh(), np.tanh),
    (nn.Tanhshrink(), lambda x: x - np.tanh(x)),
    (nn.Softplus(beta=2.0, threshold=5.0), lambda x: np.where(2 * x > 5, x, np.log1p(np.exp(2 * x)) / 2)),
    (nn.Softsign(), lambda x: x / (1 + np.abs(x))),
    (nn.LogSigmoid(), lambda x: np.log(_sig(x))),
    (nn.Hardtanh(-2.0, 2.5), lambda x: np.clip(x, -2.0, 2.5)),
    (nn.Hardsigmoid(), lambda x: np.clip(x + 3, 0, 6) / 6),
    (nn.Hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    (nn.Threshold(0.5, -2.0), lambda x: np.where(x > 0.5, x, -2.0)),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    (nn.LogSoftmax(dim=0), lambda x: x - np.log(np.exp(x).sum(0, keepdims=True))),
    (nn.Softmin(dim=1), lambda x: np.exp(-x) / np.exp(-x).sum(1, keepdims=True)),
]


@pytest.mark.parametrize("layer, reference", CASES, ids=[type(c[0]).__name__ + str(i) for i, c in enumerate(CASES)])
def test_values_and_gradcheck(layer, reference, rng):
    x = _x(rng)
    np.testing.assert_allclose(layer(x).array, reference(x.array), rtol=1e-10, atol=1e-12)
    assert gradcheck(layer, (x,))
    # float32 in, float32 out: no silent upcast.
    assert layer(x.detach().float()).dtype == glassgrad.float32


def test_erf_matches_math_module():
    xs = np.linspace(-7, 7, 2001)
    np.testing.assert_allclose(erf(xs), [math.erf(v) for v in xs], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(erfc(xs), [math.erfc(v) for v in xs], rtol=1e-13, atol=0)


def test_gelu_tail_is_accurate():
    x = glassgrad.tensor([-10.0, -6.0, 8.0], dtype=glassgrad.float64)
    expected = [v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in (-10.0, -6.0, 8.0)]
    np.testing.assert_allclose(F.gelu(x).array, expected, rtol=1e-12)


def test_prelu_gradcheck_per_channel_and_shared(rng):
    x = _x(rng, (2, 3, 2))
    for n in (1, 3):
        w = glassgrad.tensor(rng.uniform(0.1, 0.5, n), dtype=glassgrad.float64, requires_grad=True)
        assert gradcheck(F.prelu, (x, w))
    layer = nn.PReLU(3)
    assert list(layer.state_dict()) == ["weight"]
    np.testing.assert_array_equal(layer.weight.array, 0.25)
    with pytest.raises(RuntimeError, match="channels"):
        F.prelu(x, glassgrad.ones(2, dtype=glassgrad.float64))


def test_inplace_relu_takes_over_history():
    x = glassgrad.tensor([-1.0, 2.0], requires_grad=True)
    y = x * 2
    out = nn.ReLU(inplace=True)(y)
    assert out is y
    np.testing.assert_array_equal(y.array, [0.0, 4.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, [0.0, 2.0])
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"


def test_softmax_without_dim_warns_and_uses_legacy_rule():
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = F.softmax(glassgrad.ones(2, 3))
    np.testing.assert_allclose(out.array, 1 / 3)


def test_reprs():
    assert repr(nn.LeakyReLU(0.1)) == "LeakyReLU(negative_slope=0.1)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"


def test_gelu_float32_fast_path_is_accurate():
    x = np.linspace(-8, 8, 4001)
    exact = F.gelu(glassgrad.tensor(x, dtype=glassgrad.float64)).array
    fast = F.gelu(glassgrad.tensor(x, dtype=glassgrad.float32))
    assert fast.dtype == glassgrad.float32
    np.testing.assert_allclose(fast.array, exact, rtol=2e-6, atol=1e-7)
    xs = glassgrad.tensor(x, dtype=glassgrad.float32, requires_grad=True)
    F.gelu(xs).sum().backward()
    xd = glassgrad.tensor(x, dtype=glassgrad.float64, requires_grad=True)
    F.gelu(xd).sum().backward()
    np.testing.assert_allclose(xs.grad.array, xd.grad.array, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize(
    "module, formula",
    [
        (nn.Hardshrink(0.3), lambda x: np.where(np.abs(x) > 0.3, x, 0.0)),
        (nn.Softshrink(0.5), lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0.0))),
        (nn.GLU(1), lambda x: x[:, :2] / (1 + np.exp(-x[:, 2:]))),
    ],
)
def test_shrink_and_glu_values_and_gradcheck(rng, module, formula):
    x = rng.uniform(-2, 2, (3, 4))
    x = np.where(np.abs(np.abs(x) - 0.4) < 0.12, x + 0.3, x)  # off the kinks at +-0.3 and +-0.5
    np.testing.assert_allclose(module(glassgrad.tensor(x)).numpy(), formula(x), rtol=1e-12)
    assert gradcheck(module, (glassgrad.tensor(x, dtype=glassgrad.float64, requires_grad=True),))


def test_glu_names_an_odd_dimension():
    with pytest.raises(RuntimeError, match=r"even size.*\(2, 3\)"):
        F.glu(glassgrad.ones(2, 3))


def test_shrink_and_glu_match_torch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle for these activations")
    x = rng.normal(size=(2, 6, 3)).astype(np.float32)
    for ours, theirs in [
        (F.glu(glassgrad.tensor(x), 1), torch.nn.functional.glu(torch.tensor(x), 1)),
        (F.softshrink(glassgrad.tensor(x), 0.2), torch.nn.functional.softshrink(torch.tensor(x), 0.2)),
        (F.hardshrink(glassgrad.tensor(x)), torch.nn.functional.hardshrink(torch.tensor(x))),
    ]:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shape", [(3, 4, 5), (8, 64, 16, 16)])  # the NumPy and the compiled backward
def test_relu6_in_place_gradient_from_its_output(shape, rng):
    # Hardtanh saves its output: in place, the input it overwrites is not needed for backward.
    x = glassgrad.tensor(rng.standard_normal(shape).astype(np.float32) * 4, requires_grad=True)
    g = rng.standard_normal(shape).astype(np.float32)
    grads = []
    for inplace in (False, True):
        x.grad = None
        y = x * 2
        out = F.relu6(y, inplace=inplace)
        (out * glassgrad.tensor(g)).sum().backward()
        np.testing.assert_array_equal(out.detach().numpy(), np.clip(2 * x.detach().numpy(), 0, 6))
        grads.append(x.grad.numpy().copy())
    a = 2 * x.detach().numpy()
    np.testing.assert_array_equal(grads[0], np.where((a > 0) & (a < 6), 2 * g, 0))
    np.testing.assert_array_equal(grads[1], grads[0])
    xd = glassgrad.tensor(rng.standard_normal((2, 3, 4)) * 4, requires_grad=True)
    assert gradcheck(lambda t: F.relu6(t * 1.0, inplace=True), (xd,))


IN_PLACE = {"relu": (lambda t: F.relu(t, inplace=True), np.inf), "relu6": (lambda t: F.relu6(t, inplace=True), 6.0)}


@pytest.mark.parametrize("shape", [(3, 4), (8, 64, 16, 16)])  # the NumPy and the compiled kernels
@pytest.mark.parametrize("name", list(IN_PLACE))
def test_in_place_relu_and_relu6_write_into_the_tensor_itself(shape, name, rng):
    # Function.apply_into: no temporary, and the tensor's own memory holds the result afterwards.
    act, high = IN_PLACE[name]
    x = glassgrad.tensor(rng.standard_normal(shape).astype(np.float32) * 4, requires_grad=True)
    y = x * 2
    memory, version = y.array, y._version
    out = act(y)
    assert out is y and y.array is memory and y._version == version + 1
    assert y.grad_fn._saved[0] is memory  # backward reads the tensor's own memory: nothing was copied
    a = 2 * x.detach().numpy()
    np.testing.assert_array_equal(y.detach().numpy(), np.clip(a, 0, high))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.where((a > 0) & (a < high), 2, 0))
    with glassgrad.no_grad():  # and without a graph
        t = glassgrad.tensor(rng.standard_normal(shape).astype(np.float32))
        memory = t.array
        assert act(t) is t and t.array is memory and t.numpy().min() >= 0


@pytest.mark.parametrize("name", list(IN_PLACE))
def test_a_change_after_an_in_place_relu_is_detected_at_backward(name):
    # Its backward reads the tensor's memory: a later add_ must invalidate it, as in PyTorch.
    x = glassgrad.tensor([-1.0, 2.0, 3.0], requires_grad=True)
    y = IN_PLACE[name][0](x * 2)
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation \\(add_\\).*output"):
        y.sum().backward()


def test_in_place_relu_of_a_view_or_a_leaf_keeps_its_errors_and_its_values():
    x = glassgrad.tensor([[-1.0, 2.0], [3.0, -4.0]], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor"):
        F.relu(x, inplace=True)
    with pytest.raises(RuntimeError, match="view"):
        F.relu6((x * 1)[0], inplace=True)
    np.testing.assert_array_equal(x.detach().numpy(), [[-1.0, 2.0], [3.0, -4.0]])  # nothing half-written
    base = glassgrad.tensor([[-1.0, 2.0], [3.0, -4.0]])
    F.relu(base[:, 1], inplace=True)  # a view without a graph: through the temporary
    np.testing.assert_array_equal(base.numpy(), [[-1.0, 2.0], [3.0, 0.0]])
    t = base.t()  # not contiguous
    F.relu(t, inplace=True)
    np.testing.assert_array_equal(base.numpy(), [[0.0, 2.0], [3.0, 0.0]])
