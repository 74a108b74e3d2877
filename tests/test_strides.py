"""stride(), storage_offset(), data_ptr() and is_contiguous() against PyTorch on the same views."""

import pytest

import glassgrad

torch = pytest.importorskip("torch", reason="compared with PyTorch's layout")

VIEWS = [
    lambda x: x,
    lambda x: x.t(),
    lambda x: x[1:, 2:],
    lambda x: x[:, 1],
    lambda x: x[1],
    lambda x: x.unsqueeze(0),
    lambda x: x.reshape(4, 3)[2],
]


@pytest.mark.parametrize("view", VIEWS)
def test_layout_matches_torch(view):
    ours, theirs = view(glassgrad.arange(12.0).reshape(3, 4)), view(torch.arange(12.0).reshape(3, 4))
    assert ours.is_contiguous() == theirs.is_contiguous()
    assert ours.stride() == theirs.stride()
    assert ours.storage_offset() == theirs.storage_offset()
    if ours.ndim:
        assert ours.stride(-1) == theirs.stride(-1)


def test_data_ptr_is_shared_by_views():
    x = glassgrad.zeros(3, 4)
    assert x[0].data_ptr() == x.data_ptr()
    assert x[1].data_ptr() == x.data_ptr() + 4 * x.element_size()
    with pytest.raises(IndexError, match="stride: dimension 2 is out of range"):
        x.stride(2)
