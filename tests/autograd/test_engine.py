"""Autograd semantics as in PyTorch: accumulation, retain_graph, grad modes, hooks, in-place ops."""

import gc
import sys
import weakref

import numpy as np
import pytest

import glassgrad
from glassgrad.autograd.function import Function


def leaf(values, dtype=None):
    return glassgrad.tensor(values, dtype=dtype, requires_grad=True)


def test_seed_worked_example():
    a, b, c = leaf(2.0), leaf(5.0), leaf(1.0)
    x, y, z = 1.0, 2.0, 1.0
    t = (a * x + b * y) * (c * z)
    assert t.item() == 12.0
    loss = 15 - t
    loss.backward()
    assert (a.grad.item(), b.grad.item(), c.grad.item()) == (-1.0, -2.0, -12.0)


def test_leaf_grad_accumulates_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_shared_subexpression_sums_gradients():
    x = leaf(3.0)
    y = x * x
    (y + y * x).backward()  # d/dx (x^2 + x^3) = 2x + 3x^2
    assert x.grad.item() == 33.0


def test_second_backward_through_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    np.testing.assert_allclose(first, 2 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_saved_arrays_are_freed_after_backward_unless_retained():
    x = leaf([1.0, 2.0])
    y = x.exp()
    node = y.grad_fn
    y.sum().backward(retain_graph=True)
    assert node._saved is not None
    y.sum().backward()
    assert node._saved is None


def test_backward_on_non_scalar_needs_gradient():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match=r"shape \(2,\); pass gradient=.*loss.sum\(\).backward\(\)"):
        y.backward()
    y.backward(glassgrad.tensor([1.0, 10.0]))
    assert x.grad.tolist() == [2.0, 20.0]
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\) but the output has shape \(2,\)"):
        (x * 2).backward(glassgrad.ones(3))


def test_backward_on_a_tensor_without_grad_explains():
    with pytest.raises(RuntimeError, match="does not require grad.*requires_grad=True"):
        glassgrad.ones(2).sum().backward()


def test_long_chain_has_no_recursion_limit():
    x = leaf([1.0, -1.0])
    y = x
    for _ in range(100_000):
        y = y * 1.0
    assert 100_000 > sys.getrecursionlimit()
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_graph_is_freed_without_reference_cycles():
    gc.collect()
    gc.disable()
    try:
        x = leaf(np.ones(4))
        y = x.exp().tanh().sigmoid()
        node = weakref.ref(y.grad_fn)
        del y
        assert node() is None  # freed by reference counting alone
    finally:
        gc.enable()


# -- grad modes ---------------------------------------------------------------------


def test_no_grad_context_and_decorators():
    x = leaf([1.0])
    with glassgrad.no_grad():
        assert not glassgrad.is_grad_enabled()
        y = x * 2
        with glassgrad.enable_grad():
            z = x * 2
    assert glassgrad.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None

    @glassgrad.no_grad()
    def called():
        return x * 2

    @glassgrad.no_grad
    def bare():
        return x * 2

    @glassgrad.enable_grad()
    def inside():
        return x * 2

    assert not called().requires_grad and not bare().requires_grad
    with glassgrad.no_grad():
        assert inside().requires_grad
    assert glassgrad.is_grad_enabled()


def test_set_grad_enabled_as_call_context_and_decorator():
    x = leaf([1.0])
    with glassgrad.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert glassgrad.is_grad_enabled()

    @glassgrad.set_grad_enabled(False)
    def off():
        return x * 2

    assert glassgrad.is_grad_enabled()
    assert not off().requires_grad
    glassgrad.set_grad_enabled(False)
    try:
        assert not glassgrad.is_grad_enabled()
    finally:
        glassgrad.set_grad_enabled(True)
    assert glassgrad.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with glassgrad.no_grad():
            raise ValueError
    assert glassgrad.is_grad_enabled()


def test_detach_and_requires_grad_():
    x = leaf([1.0, 2.0])
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None
    d.numpy()[0] = 7.0  # shares memory
    assert x.tolist()[0] == 7.0
    y = (x * 2).detach().requires_grad_()
    assert y.is_leaf and y.requires_grad
    (y * 3).sum().backward()
    assert y.grad.tolist() == [3.0, 3.0] and x.grad is None
    with pytest.raises(RuntimeError, match="use .detach"):
        (x * 2).requires_grad_(False)


def test_grad_fn_names_the_op():
    x = leaf([[1.0, 2.0]])
    assert x.grad_fn is None and x.is_leaf
    assert (x + 1).grad_fn.name == "Add"
    assert (x * x).grad_fn.name == "Mul"
    assert x.exp().grad_fn.name == "Exp"
    assert (x @ x.T).grad_fn.name == "MatMul"
    assert x.sum().grad_fn.name == "Sum"
    assert x[0].grad_fn.name == "GetItem"
    assert not (x * 2).is_leaf


# -- hooks --------------------------------------------------------------------------


def test_hook_on_leaf_sees_and_replaces_the_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.tolist()))
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]] and x.grad.tolist() == [3.0, 3.0]
    handle.remove()
    x.grad = None
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert x.grad.tolist() == [30.0, 30.0]


def test_hook_on_non_leaf_replaces_what_flows_further():
    x = leaf([1.0, 2.0])
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    y.register_hook(lambda g: g + 1)
    (y * 3).sum().backward()
    assert seen == [[3.0, 3.0]]
    assert x.grad.tolist() == [8.0, 8.0]  # (3 + 1) * 2
    assert y.grad is None


def test_retain_grad_keeps_non_leaf_gradients():
    x = leaf([1.0, 2.0])
    y = x * x
    y.retain_grad()
    y.register_hook(lambda g: g * 2)  # registered after retain_grad: retain_grad still sees it
    (y * 3).sum().backward()
    assert y.grad.tolist() == [6.0, 6.0]
    assert x.grad.tolist() == [12.0, 24.0]


def test_hook_needs_requires_grad():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        glassgrad.ones(2).register_hook(lambda g: g)


def test_autograd_grad_returns_without_touching_leaves():
    x = leaf([1.0, 2.0])
    w = leaf([3.0, 4.0])
    h = x * w
    (gx, gh) = glassgrad.autograd.grad((h * h).sum(), (x, h))
    assert gx.tolist() == [18.0, 64.0] and gh.tolist() == [6.0, 16.0]
    assert x.grad is None and w.grad is None
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        glassgrad.autograd.grad((x * 2).sum(), [w])
    assert glassgrad.autograd.grad((x * 2).sum(), [w], allow_unused=True) == (None,)


def test_backward_inputs_restricts_accumulation():
    x, w = leaf([1.0]), leaf([2.0])
    (x * w).sum().backward(inputs=[w])
    assert w.grad.tolist() == [1.0] and x.grad is None


def test_create_graph_is_refused_clearly():
    x = leaf(1.0)
    with pytest.raises(RuntimeError, match="first-order gradients only"):
        (x * x).backward(create_graph=True)


# -- in-place operations --------------------------------------------------------------


@pytest.mark.parametrize(
    "op, expected",
    [
        (lambda t: t.add_(2), [3.0, 4.0]),
        (lambda t: t.add_(glassgrad.tensor([1.0, 1.0]), alpha=3), [4.0, 5.0]),
        (lambda t: t.sub_(1), [0.0, 1.0]),
        (lambda t: t.mul_(3), [3.0, 6.0]),
        (lambda t: t.div_(2), [0.5, 1.0]),
        (lambda t: t.zero_(), [0.0, 0.0]),
        (lambda t: t.fill_(7), [7.0, 7.0]),
        (lambda t: t.copy_(glassgrad.tensor([5.0, 6.0])), [5.0, 6.0]),
        (lambda t: t.clamp_(1.5, 1.8), [1.5, 1.8]),
    ],
)
def test_inplace_ops_change_values_and_bump_the_version(op, expected):
    t = glassgrad.tensor([1.0, 2.0])
    array = t.array
    assert op(t) is t
    assert t.array is array and t.tolist() == pytest.approx(expected)
    assert t._version == 1


def test_augmented_assignment_is_in_place():
    t = glassgrad.tensor([1.0, 2.0])
    same = t
    t += 1
    t *= 2
    t -= 1
    t /= 2
    assert t is same and t.tolist() == [1.5, 2.5]


@pytest.mark.parametrize("name", ["add_", "sub_", "mul_", "div_", "zero_", "fill_", "copy_", "clamp_"])
def test_inplace_on_a_leaf_requiring_grad_errors_outside_no_grad(name):
    w = leaf([1.0, 2.0])
    args = {"zero_": (), "fill_": (1.0,), "copy_": (glassgrad.ones(2),), "clamp_": (0.0, 1.0)}.get(name, (2.0,))
    with pytest.raises(RuntimeError, match=rf"{name}: a leaf tensor that requires grad.*no_grad"):
        getattr(w, name)(*args)
    with glassgrad.no_grad():
        getattr(w, name)(*args)
    assert w.requires_grad and w.is_leaf and w.grad_fn is None


@pytest.mark.parametrize(
    "inplace, op",
    [
        (lambda t: t.add_(1), "add_"),
        (lambda t: t.mul_(2), "mul_"),
        (lambda t: t.zero_(), "zero_"),
        (lambda t: t.copy_(glassgrad.ones(2)), "copy_"),
    ],
)
def test_version_counter_catches_changes_to_saved_tensors(inplace, op):
    x = leaf([1.0, 2.0])
    y = x.exp()  # Exp saves its output
    z = y * 2
    inplace(y)
    with pytest.raises(RuntimeError, match=rf"modified by an in-place operation \({op}\): Exp's output"):
        z.sum().backward()


def test_version_counter_catches_a_saved_input():
    x = leaf([1.0, 2.0])
    h = x * 1
    y = h.sin()
    with glassgrad.no_grad():
        h.fill_(0.0)
    with pytest.raises(RuntimeError, match=r"\(fill_\): Sin's input 0 .* version 1; expected version 0"):
        y.sum().backward()


def test_inplace_ops_record_correct_gradients():
    x = leaf([1.0, 2.0, 3.0])
    h = x * 1
    h.mul_(x)  # h = x^2, the op saved the old h and kept a private copy of it
    h.add_(x, alpha=2)  # h = x^2 + 2x
    h.sum().backward()
    assert x.grad.tolist() == [4.0, 6.0, 8.0]

    x.grad = None
    h = x * 2
    h.zero_()
    (h + x).sum().backward()  # zero_ cuts the old values off: only the "+ x" path remains
    assert x.grad.tolist() == [1.0, 1.0, 1.0]

    x.grad = None
    h = x * 2
    h[1] = 0.0
    h.sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 2.0]

    x.grad = None
    src = leaf([7.0, 8.0, 9.0])
    buffer = glassgrad.zeros(3)
    buffer.copy_(src * x)
    buffer.sum().backward()
    assert buffer.grad_fn is not None and src.grad.tolist() == [1.0, 2.0, 3.0]
    assert x.grad.tolist() == [7.0, 8.0, 9.0]


def test_inplace_cannot_change_dtype_kind():
    t = glassgrad.tensor([1, 2])
    with pytest.raises(RuntimeError, match=r"add_: the result type glassgrad.float32 can't be cast.*int64"):
        t.add_(0.5)


# -- custom Functions -----------------------------------------------------------------


class Cube(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return a**3

    def backward(self, grad):
        (a,) = self.saved_tensors
        return grad * 3 * a**2


def test_custom_function_and_broadcast_reduction_by_the_engine():
    x = leaf([1.0, 2.0])
    y = Cube.apply(x)
    assert y.grad_fn.name == "Cube" and y.tolist() == [1.0, 8.0]
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 12.0]
    b = leaf([[1.0], [2.0]])
    (glassgrad.ones(2, 3) * b).sum().backward()
    assert b.grad.tolist() == [[3.0], [3.0]]


# -- views share a version counter with their base ------------------------------------------


def test_changing_a_view_is_caught_through_its_base():
    x = leaf([1.0, 2.0, 3.0])
    y = x.exp()
    z = y * 2
    with glassgrad.no_grad():
        y[0:2].mul_(3)
    with pytest.raises(RuntimeError, match=r"\(mul_\): Exp's output of shape \(3,\)"):
        z.sum().backward()


def test_changing_the_base_is_caught_through_a_saved_view():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1
    w = y.view(3, 1).sin()
    with glassgrad.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match=r"\(add_\): Sin's input 0 of shape \(3, 1\)"):
        w.sum().backward()


def test_detach_shares_the_version_counter():
    x = leaf([1.0, 2.0])
    y = x.exp()
    y.detach().zero_()
    with pytest.raises(RuntimeError, match=r"\(zero_\): Exp's output"):
        y.sum().backward()


def test_recorded_in_place_change_of_a_view_is_refused():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2
    with pytest.raises(RuntimeError, match=r"mul_: in-place change of a view.*base\[index\] = value"):
        y[0:2].mul_(3)
    y[0:2] = y[0:2] * 3  # the supported spelling
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 6.0, 2.0]


class TooFewGradients(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad


class WrongShapeGradient(Function):
    def forward(self, a):
        return a.sum()

    def backward(self, grad):
        return np.ones(7)


def test_a_wrong_backward_is_named():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    with pytest.raises(RuntimeError, match=r"TooFewGradients.backward returned 1 gradients for 2 inputs"):
        TooFewGradients.apply(a, b).sum().backward()
    with pytest.raises(
        RuntimeError,
        match=r"WrongShapeGradient.backward returned a gradient of shape \(7,\) for an input of shape \(2,\)",
    ):
        WrongShapeGradient.apply(a).backward()


def test_replace_saved_keeps_a_private_copy_and_stops_watching():
    """Function.replace_saved: the saved array of a tensor becomes a copy of its own, whose
    version is no longer checked; a tensor it did not save is left alone, the others stay watched."""
    a = glassgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = glassgrad.tensor([4.0, 5.0, 6.0], requires_grad=True)
    out = a * b
    node = out.grad_fn
    assert node.replace_saved(glassgrad.tensor([0.0])) is False
    assert node.replace_saved(a) is True
    assert not any(s is a.array for s in node.saved_tensors)
    with glassgrad.no_grad():
        a.mul_(10)  # no longer watched: backward uses the copy of the old values
    out.sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0, 3.0])

    out = a * b
    out.grad_fn.replace_saved(a)
    with glassgrad.no_grad():
        b.mul_(10)  # still watched
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.sum().backward()
