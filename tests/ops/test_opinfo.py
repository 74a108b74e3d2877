"""Every op of the registry (glassgrad/ops/registry.py), sample by sample: float64 gradcheck,
forward and backward parity with PyTorch, its Tensor methods, names and in-place forms."""

import zlib

import numpy as np
import pytest

import glassgrad
from glassgrad.autograd import gradcheck
from glassgrad.ops import registry
from glassgrad.ops.registry import OPS, Arg, OpInfo, Sample

CASES = [pytest.param(info, k, id=f"{info.name}-{k}") for info in OPS for k in range(len(info.samples))]
DIFFERENTIABLE = [case for case in CASES if case.values[0].gradcheck]
WITH_TORCH = [case for case in CASES if case.values[0].torch is not None]


class _Leaf:
    """A random floating-point input: differentiable where the op is."""

    def __init__(self, array):
        self.array = array


def _recipe(info, k, dtype):
    """The sample's positional arguments with random arrays in place of shapes (seeded per sample)."""
    rng = np.random.default_rng(zlib.crc32(f"{info.name}/{k}".encode()))
    low, high = info.domain

    def make(x):
        if isinstance(x, tuple):
            return _Leaf(rng.uniform(low, high, x).astype(dtype))
        if isinstance(x, list) and x and all(isinstance(s, tuple) for s in x):
            return [make(s) for s in x]
        if isinstance(x, np.ndarray):
            return _Leaf(x.astype(dtype)) if x.dtype.kind == "f" else x
        if isinstance(x, Arg):
            return x.value
        return x

    return [make(x) for x in info.samples[k].inputs], rng


def _build(recipe, to_tensor):
    """Arguments for one library; returns them and the list of differentiable leaves made."""
    leaves = []

    def build(x):
        if isinstance(x, _Leaf):
            t = to_tensor(x.array, True)
            leaves.append(t)
            return t
        if isinstance(x, np.ndarray):
            return to_tensor(x, False)
        if isinstance(x, list) and x and isinstance(x[0], _Leaf):
            return [build(y) for y in x]
        return x

    return [build(x) for x in recipe], leaves


def _call(info, k, args):
    sample = info.samples[k]
    if sample.prepare is not None:
        args = sample.prepare(*args)
    return info.fn(*args, **sample.kwargs)


def _call_torch(info, k, args):
    sample = info.samples[k]
    if sample.prepare is not None:
        args = sample.prepare(*args)
    return _torch_function(info)(*args, **sample.kwargs)


def _resolve(module, dotted):
    for part in dotted.split("."):
        module = getattr(module, part)
    return module


def _glassgrad_tensor(array, leaf):
    return glassgrad.Tensor(array.copy(), requires_grad=leaf and array.dtype.kind == "f")


def _torch_tensor(array, leaf):
    torch = pytest.importorskip("torch", reason="parity checks need PyTorch")
    return torch.tensor(array.copy(), requires_grad=leaf and array.dtype.kind == "f")


def _outputs(out):
    """The flat list of an op's results (tensors and plain values), whatever the nesting."""
    if isinstance(out, (tuple, list)):
        return [y for x in out for y in _outputs(x)]
    return [out]


def _torch_function(info):
    import torch

    if info.torch.startswith("Tensor."):
        method = info.torch.split(".", 1)[1]
        return lambda first, *args, **kwargs: getattr(first, method)(*args, **kwargs)
    fn = torch
    for part in info.torch.split("."):
        fn = getattr(fn, part)
    return fn


def _same_values(ours, theirs, tolerance):
    import torch

    assert len(ours) == len(theirs), f"{len(ours)} results, PyTorch gives {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if isinstance(b, torch.Tensor):
            assert isinstance(a, glassgrad.Tensor), f"result {i} is a {type(a).__name__}, PyTorch gives a tensor"
            assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1], f"result {i}: {a.dtype} vs {b.dtype}"
            assert tuple(a.shape) == tuple(b.shape), f"result {i}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tolerance, err_msg=f"result {i}")
        else:
            assert a == b, f"result {i}: {a!r} vs {b!r}"


def _projected_sum(outputs, rng, to_tensor):
    """sum(out * P) over the floating-point results: one scalar whose gradient tests every element."""
    total = None
    for out in outputs:
        if getattr(out, "dtype", None) is not None and out.is_floating_point():
            term = (out * to_tensor(rng.standard_normal(tuple(out.shape)), False)).sum()
            total = term if total is None else total + term
    return total


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("info, k", WITH_TORCH)
def test_forward_matches_torch(info, k, dtype):
    if dtype not in info.dtypes:
        pytest.skip(f"{info.name} is not registered for {dtype}")
    recipe, _ = _recipe(info, k, dtype)
    ours = _outputs(_call(info, k, _build(recipe, _glassgrad_tensor)[0]))
    theirs = _outputs(_call_torch(info, k, _build(recipe, _torch_tensor)[0]))
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else info.float32_tolerance
    _same_values(ours, theirs, {"rtol": rtol, "atol": atol})


@pytest.mark.parametrize("info, k", [c for c in DIFFERENTIABLE if c.values[0].torch is not None])
def test_backward_matches_torch(info, k):
    if info.samples[k].no_torch_backward:
        pytest.skip(info.samples[k].no_torch_backward)
    recipe, rng = _recipe(info, k, "float64")
    args, leaves = _build(recipe, _glassgrad_tensor)
    targs, tleaves = _build(recipe, _torch_tensor)
    if not leaves:
        pytest.skip("a sample with integer inputs only: nothing to differentiate")
    seed = int(rng.integers(2**31))
    ours = _projected_sum(_outputs(_call(info, k, args)), np.random.default_rng(seed), _glassgrad_tensor)
    theirs = _projected_sum(_outputs(_call_torch(info, k, targs)), np.random.default_rng(seed), _torch_tensor)
    ours.backward()
    theirs.backward()
    for i, (a, b) in enumerate(zip(leaves, tleaves)):
        expected = np.zeros(tuple(b.shape)) if b.grad is None else b.grad.numpy()
        got = np.zeros(tuple(a.shape)) if a.grad is None else a.grad.numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=f"gradient of input {i}")


@pytest.mark.parametrize("info, k", DIFFERENTIABLE)
def test_gradcheck(info, k):
    recipe, rng = _recipe(info, k, "float64")
    _, leaves = _build(recipe, _glassgrad_tensor)
    if not leaves:
        pytest.skip("a sample with integer inputs only: nothing to differentiate")
    seed = int(rng.integers(2**31))

    def fn(*inputs):
        feed = iter(inputs)
        args, _ = _build(recipe, lambda array, leaf: next(feed) if leaf else _glassgrad_tensor(array, False))
        out = _outputs(_call(info, k, args))
        return _projected_sum(out, np.random.default_rng(seed), _glassgrad_tensor)

    assert gradcheck(fn, tuple(leaves))


@pytest.mark.parametrize("info, k", [c for c in CASES if c.values[0].methods])
def test_methods_call_the_op(info, k):
    recipe, _ = _recipe(info, k, "float64")
    kwargs = info.samples[k].kwargs
    args, _ = _build(recipe, _glassgrad_tensor)
    expected = _outputs(info.fn(*args, **kwargs))
    torch = pytest.importorskip("torch", reason="the method names are checked against PyTorch's")
    for name in info.methods:
        assert hasattr(torch.Tensor, name), f"PyTorch has no Tensor.{name}"
        got = _outputs(getattr(args[0], name)(*args[1:], **kwargs))
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            if isinstance(b, glassgrad.Tensor):
                np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
            else:
                assert a == b


@pytest.mark.parametrize("info, k", [c for c in CASES if c.values[0].inplace])
def test_inplace_forms(info, k):
    recipe, _ = _recipe(info, k, "float64")
    kwargs = info.samples[k].kwargs
    args, _ = _build(recipe, _glassgrad_tensor)
    with glassgrad.no_grad():
        expected = info.fn(*args, **kwargs)
        torch = pytest.importorskip("torch", reason="the method names are checked against PyTorch's")
        for name in info.inplace:
            assert hasattr(torch.Tensor, name), f"PyTorch has no Tensor.{name}"
            target = args[0].detach().clone()
            version = target._version
            assert getattr(target, name)(*args[1:], **kwargs) is target
            assert target._version == version + 1
            np.testing.assert_array_equal(target.numpy(), expected.numpy())


@pytest.mark.parametrize("info", OPS, ids=[info.name for info in OPS])
def test_names_are_exported(info):
    assert info.samples, f"{info.name} has no sample inputs"
    for alias in info.aliases:
        assert _resolve(glassgrad, alias) is info.fn
        if "." not in alias:
            assert getattr(glassgrad.ops, alias) is info.fn
    if info.torch is None or not info.torch.startswith("Tensor."):
        torch = pytest.importorskip("torch", reason="the names are checked against PyTorch's")
        for alias in info.aliases:
            if alias not in ("expand", "repeat"):  # glassgrad's own, older than the registry
                _resolve(torch, alias)


def test_registry_counts_and_rejects_conflicts():
    assert len({info.name for info in OPS}) == len(OPS) >= 80

    class Fake:
        def exp(self):
            return None

    saved = list(OPS)
    try:
        with pytest.raises(RuntimeError, match=r"Tensor.exp is defined in tensor.py and registered for 'exp'"):
            registry.bind(Fake)
        with pytest.raises(RuntimeError, match=r"'exp' is registered twice"):
            registry.register(OpInfo("exp", glassgrad.exp, [Sample((2,))]))
    finally:
        OPS[:] = saved
