"""The Tensor object: what it is, how it converts, how it prints, and the CPU-only device API."""

import numpy as np
import pytest

import glassgrad


def test_shape_and_size():
    t = glassgrad.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, glassgrad.Size)
    assert repr(t.shape) == "glassgrad.Size([2, 3, 4])"
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.ndim == 3 and t.dim() == 3
    assert t.numel() == 24 and t.shape.numel() == 24 and glassgrad.numel(t) == 24
    assert len(t) == 2
    with pytest.raises(IndexError, match="dimension 3 is out of range for a tensor with 3 dimensions"):
        t.size(3)
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(glassgrad.tensor(1.0))


def test_item_tolist_numpy():
    t = glassgrad.tensor([[1.5, 2.0]])
    assert t.tolist() == [[1.5, 2.0]]
    assert glassgrad.tensor([[3.25]]).item() == 3.25 and isinstance(glassgrad.tensor(2).item(), int)
    assert float(glassgrad.tensor(2.5)) == 2.5 and int(glassgrad.tensor(7)) == 7
    array = t.numpy()
    array[0, 0] = 9.0  # shares memory, as in PyTorch
    assert t[0, 0].item() == 9.0
    with pytest.raises(ValueError, match=r"only a one-element tensor.*shape \(1, 2\)"):
        t.item()
    x = glassgrad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        x.numpy()
    assert x.detach().numpy().tolist() == [1.0, 1.0]
    assert np.asarray(glassgrad.tensor([1, 2])).tolist() == [1, 2]


def test_bool_and_index():
    assert bool(glassgrad.tensor([1.0])) and not bool(glassgrad.tensor(0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(glassgrad.ones(2))
    assert [10, 20, 30][glassgrad.tensor(1)] == 20


def test_repr_matches_pytorch_layout():
    assert repr(glassgrad.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(glassgrad.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(glassgrad.tensor(2.5)) == "tensor(2.5000)"
    assert repr(glassgrad.tensor([1.5, -2.0])) == "tensor([ 1.5000, -2.0000])"
    assert repr(glassgrad.tensor([[1.25, 2.0], [3.0, 4.0]])) == "tensor([[1.2500, 2.0000],\n        [3.0000, 4.0000]])"
    assert repr(glassgrad.tensor([1.0], dtype=glassgrad.float64)) == "tensor([1.], dtype=glassgrad.float64)"
    x = glassgrad.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward>)"


def test_device_api_is_cpu_only():
    cpu = glassgrad.device("cpu")
    assert str(cpu) == "cpu" and repr(cpu) == "device(type='cpu')" and cpu.type == "cpu"
    assert glassgrad.cuda.is_available() is False
    assert glassgrad.cuda.device_count() == 0
    device = glassgrad.device("cuda" if glassgrad.cuda.is_available() else "cpu")
    x = glassgrad.ones(2)
    assert x.to(device) is x and x.to("cpu") is x and x.cpu() is x
    assert x.device == cpu and x.device == "cpu" and not x.is_cuda
    # dcgan's forward asks `input.is_cuda or input.is_xpu`
    assert x.is_cpu and not any(getattr(x, f"is_{k}") for k in ("xpu", "mps", "meta", "sparse", "quantized", "nested"))
    y = x.to("cpu", glassgrad.float64)
    assert y.dtype == glassgrad.float64
    assert x.to(device=device, dtype=glassgrad.float64).dtype == glassgrad.float64
    with pytest.raises(RuntimeError, match="to: device 'cuda' is not available: glassgrad computes on the CPU only"):
        x.to("cuda")
    gpu = glassgrad.device("cuda:1")  # naming a device is fine, as on a PyTorch machine without one
    assert gpu.type == "cuda" and gpu.index == 1 and str(gpu) == "cuda:1" and gpu != cpu
    assert glassgrad.device("cpu", 0) == glassgrad.device("cpu:0")
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to(gpu)
    with pytest.raises(RuntimeError, match=r"zeros: device 'cuda' is not available.*is_available\(\) else 'cpu'"):
        glassgrad.zeros(2, device="cuda")
    assert glassgrad.ones(2, device=cpu).tolist() == [1.0, 1.0]
    assert glassgrad.tensor([1], device="cpu").tolist() == [1]
    with pytest.raises(RuntimeError, match="unknown device type 'gpu'"):
        glassgrad.device("gpu")
    with pytest.raises(RuntimeError, match="is_available"):
        x.cuda()


def test_comparisons_give_bool_tensors_without_grad():
    x = glassgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in (
        (x > 2, [False, False, True]),
        (x >= 2, [False, True, True]),
        (x < 2, [True, False, False]),
        (x <= 2, [True, True, False]),
        (x == 2, [False, True, False]),
        (x != 2, [True, False, True]),
    ):
        assert result.dtype == glassgrad.bool and result.tolist() == expected
        assert not result.requires_grad
    assert ((x > 1) & (x < 3)).tolist() == [False, True, False]
    assert ((x < 2) | (x > 2)).tolist() == [True, False, True]
    assert (~(x > 2)).tolist() == [True, True, False]
    assert (x == None) is False  # noqa: E711  (PyTorch code writes this)
    with pytest.raises(RuntimeError, match=r"shapes \(3,\) and \(2,\) cannot be broadcast"):
        _ = x > glassgrad.ones(2)


def test_iteration_and_clone():
    rows = list(glassgrad.tensor([[1, 2], [3, 4]]))
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4]]
    x = glassgrad.tensor([1.0, 2.0])
    y = x.clone()
    y.add_(1)
    assert x.tolist() == [1.0, 2.0] and y.tolist() == [2.0, 3.0]


def test_indexing_a_single_element_shares_memory():
    x = glassgrad.zeros(3)
    x[1].add_(5)
    assert x.tolist() == [0.0, 5.0, 0.0]


def test_new_factories_keep_dtype():
    x = glassgrad.ones(2, dtype=glassgrad.float64)
    assert x.new_zeros(3).dtype == glassgrad.float64
    assert x.new_ones((1, 2)).shape == (1, 2)
    assert x.new_full((2,), 4).tolist() == [4.0, 4.0]
    assert x.new_tensor([1, 2]).dtype == glassgrad.float64


def test_setitem():
    x = glassgrad.zeros(2, 3)
    x[0] = 1.0
    x[:, 2] = glassgrad.tensor([5.0, 6.0])
    x[x == 0] = -1.0
    assert x.tolist() == [[1.0, 1.0, 5.0], [-1.0, -1.0, 6.0]]
    with pytest.raises(IndexError, match=r"shape \(4,\).*shape \(2, 3\)"):
        x[0] = glassgrad.ones(4)


def test_format_and_deepcopy():
    import copy

    loss = glassgrad.tensor(0.123456)
    assert f"{loss:.3f}" == "0.123" and f"{glassgrad.tensor(3):d}" == "3"
    assert f"{glassgrad.tensor([1.0])}" == "tensor([1.])"
    with pytest.raises(TypeError, match=r"needs a 0-d tensor.*\.item\(\)"):
        f"{glassgrad.ones(2):.2f}"
    w = glassgrad.tensor([1.0, 2.0], requires_grad=True)
    (w * 2).sum().backward()
    c = copy.deepcopy(w)
    assert c is not w and c.requires_grad and c.tolist() == [1.0, 2.0] and c.grad.tolist() == [2.0, 2.0]
    c.detach().zero_()
    assert w.tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="detach"):
        copy.deepcopy(w * 2)


def test_type_as_square_and_copying_to():
    x = glassgrad.tensor([1.0, -2.0], requires_grad=True)
    assert x.type_as(glassgrad.zeros(1, dtype=glassgrad.float64)).dtype == glassgrad.float64
    y = x.square()
    assert y.tolist() == [1.0, 4.0]
    y.sum().backward()
    assert x.grad.tolist() == [2.0, -4.0]
    z = x.detach().to("cpu", copy=True)
    z.zero_()
    assert x.tolist() == [1.0, -2.0]


def test_set_printoptions_precision_edgeitems_and_profiles():
    x = glassgrad.tensor([1 / 3, 2 / 3])
    try:
        glassgrad.set_printoptions(precision=2)
        assert repr(x) == "tensor([0.33, 0.67])"
        glassgrad.set_printoptions(threshold=5, edgeitems=1)
        assert repr(glassgrad.arange(10)) == "tensor([0, ..., 9])"
        glassgrad.set_printoptions(profile="full")
        assert "..." not in repr(glassgrad.arange(2000))
        with pytest.raises(ValueError, match="profile='long'"):
            glassgrad.set_printoptions(profile="long")
        with pytest.raises(ValueError, match="sci_mode=True is not supported"):
            glassgrad.set_printoptions(sci_mode=True)
    finally:
        glassgrad.set_printoptions(profile="default")
    assert repr(x) == "tensor([0.3333, 0.6667])"


def test_size_and_kind_queries_match_torch_names():
    x = glassgrad.zeros(3, 4, dtype=glassgrad.float64, requires_grad=True)
    assert (x.nbytes, x.itemsize, x.ndimension(), x.get_device()) == (96, 8, 2, -1)
    assert x.is_signed() and not glassgrad.tensor([1], dtype=glassgrad.uint8).is_signed()
    assert glassgrad.is_floating_point(x) and not glassgrad.is_complex(x)
    y = x * 2
    assert not y.retains_grad
    y.retain_grad()
    assert y.retains_grad and not x.retains_grad
