"""RNN, LSTM, GRU, their cells and nn.utils.rnn: parity with PyTorch (weights copied by state_dict
key) on outputs, final states and every gradient in float64, gradcheck, and errors."""

import numpy as np
import pytest

import glassgrad
from glassgrad import nn
from glassgrad.autograd import gradcheck
from glassgrad.nn.utils import rnn as rnn_utils

torch = pytest.importorskip("torch", reason="parity tests compare against PyTorch")


def _pair(cls_name, *args, **kwargs):
    """The same layer in both frameworks, in float64, with PyTorch's weights copied into glassgrad's."""
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls_name)(*args, **kwargs).double()
    gm = getattr(nn, cls_name)(*args, **kwargs).double()
    assert list(tm.state_dict()) == list(gm.state_dict())
    gm.load_state_dict({k: glassgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    return tm, gm


def _both(array):
    return torch.tensor(array, requires_grad=True), glassgrad.tensor(array, requires_grad=True)


def _close(t, g, tol=1e-10):
    np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


def _flat(out):
    if hasattr(out, "batch_sizes"):  # a PackedSequence, itself a tuple
        return [out.data]
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _flat(o)]
    return [out]


def _check_parity(tm, gm, t_inputs, g_inputs, rng):
    to, go = tm(*t_inputs), gm(*g_inputs)
    t_outs, g_outs = _flat(to), _flat(go)
    assert len(t_outs) == len(g_outs)
    t_loss = 0
    g_loss = 0
    for t, g in zip(t_outs, g_outs):
        assert tuple(t.shape) == tuple(g.shape)
        _close(t, g)
        w = rng.normal(size=tuple(t.shape))
        t_loss = t_loss + (t * torch.tensor(w)).sum()
        g_loss = g_loss + (g * glassgrad.tensor(w)).sum()
    t_loss.backward()
    g_loss.backward()
    for tp, gp in zip(tm.parameters(), gm.parameters()):
        _close(tp.grad, gp.grad)
    return t_outs, g_outs


CONFIGS = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2, "bias": False}),
    ("RNN", {"bidirectional": True, "batch_first": True}),
    ("LSTM", {}),
    ("LSTM", {"num_layers": 3, "bidirectional": True}),
    ("LSTM", {"proj_size": 3, "num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("GRU", {"bias": False}),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS)
@pytest.mark.parametrize("with_hx", [False, True])
def test_parity_with_torch(name, kwargs, with_hx, rng):
    tm, gm = _pair(name, 4, 5, **kwargs)
    batch_first = kwargs.get("batch_first", False)
    x = rng.normal(size=(3, 6, 4) if batch_first else (6, 3, 4))
    tx, gx = _both(x)
    t_in, g_in = [tx], [gx]
    if with_hx:
        layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
        h_out = kwargs.get("proj_size", 0) or 5
        th, gh = _both(rng.normal(size=(layers, 3, h_out)))
        if name == "LSTM":
            tc, gc = _both(rng.normal(size=(layers, 3, 5)))
            t_in.append((th, tc))
            g_in.append((gh, gc))
        else:
            t_in.append(th)
            g_in.append(gh)
    _check_parity(tm, gm, t_in, g_in, rng)
    _close(tx.grad, gx.grad)
    if with_hx:
        for t, g in zip(_flat(t_in[1]), _flat(g_in[1])):
            _close(t.grad, g.grad)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_unbatched_input(name, rng):
    tm, gm = _pair(name, 3, 4, num_layers=2, bidirectional=True)
    tx, gx = _both(rng.normal(size=(5, 3)))
    t_outs, g_outs = _check_parity(tm, gm, [tx], [gx], rng)
    assert tuple(g_outs[0].shape) == (5, 8) and tuple(g_outs[1].shape) == (4, 4)
    _close(tx.grad, gx.grad)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_sequence_input(name, enforce_sorted, batch_first, rng):
    tm, gm = _pair(name, 3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    lengths = [6, 4, 4, 1] if enforce_sorted else [4, 6, 1, 4]
    x = rng.normal(size=(4, 6, 3) if batch_first else (6, 4, 3))
    tx, gx = _both(x)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    gp = rnn_utils.pack_padded_sequence(gx, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    _close(tp.data, gp.data)
    np.testing.assert_array_equal(gp.batch_sizes.numpy(), tp.batch_sizes.numpy())
    t_outs, g_outs = _check_parity(tm, gm, [tp], [gp], rng)
    _close(tx.grad, gx.grad)
    to, go = tm(tp)[0], gm(gp)[0]
    np.testing.assert_array_equal(go.batch_sizes.numpy(), to.batch_sizes.numpy())
    t_pad, t_len = torch.nn.utils.rnn.pad_packed_sequence(to, batch_first=batch_first, total_length=7)
    g_pad, g_len = rnn_utils.pad_packed_sequence(go, batch_first=batch_first, total_length=7)
    _close(t_pad, g_pad)
    np.testing.assert_array_equal(g_len.numpy(), t_len.numpy())


def test_pad_sequence_and_pack_sequence(rng):
    arrays = [rng.normal(size=(n, 2)) for n in (3, 5, 1)]
    for batch_first in (False, True):
        for side in ("right", "left"):
            t = torch.nn.utils.rnn.pad_sequence([torch.tensor(a) for a in arrays], batch_first, -1.0, side)
            g = rnn_utils.pad_sequence([glassgrad.tensor(a) for a in arrays], batch_first, -1.0, side)
            _close(t, g)
    tp = torch.nn.utils.rnn.pack_sequence([torch.tensor(a) for a in arrays], enforce_sorted=False)
    gp = rnn_utils.pack_sequence([glassgrad.tensor(a) for a in arrays], enforce_sorted=False)
    _close(tp.data, gp.data)
    np.testing.assert_array_equal(gp.sorted_indices.numpy(), tp.sorted_indices.numpy())
    np.testing.assert_array_equal(gp.unsorted_indices.numpy(), tp.unsorted_indices.numpy())
    for a, g in zip(arrays, rnn_utils.unpack_sequence(gp)):
        np.testing.assert_array_equal(g.numpy(), a)


def test_pack_and_pad_are_differentiable():
    x = glassgrad.tensor(np.random.default_rng(1).normal(size=(4, 3, 2)), requires_grad=True)

    def roundtrip(x):
        packed = rnn_utils.pack_padded_sequence(x, [4, 2, 1])
        return rnn_utils.pad_packed_sequence(packed, padding_value=3.0)[0]

    assert gradcheck(roundtrip, (x,))
    out = roundtrip(x)
    assert out[3, 1, 0].item() == 3.0 and out[1, 2, 1].item() == 3.0


@pytest.mark.parametrize("name,kwargs", [("RNN", {}), ("LSTM", {"proj_size": 1}), ("GRU", {})])
def test_gradcheck_small(name, kwargs, rng):
    layer = getattr(nn, name)(2, 3, bidirectional=True, **kwargs).double()
    x = glassgrad.tensor(rng.normal(size=(3, 2, 2)), requires_grad=True)
    weight = layer.weight_hh_l0_reverse

    def run(x, w):
        return layer(x)[0]

    assert gradcheck(run, (x, weight))


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False])
def test_cells(name, batched, rng):
    tm, gm = _pair(name, 3, 4)
    shape = (2, 3) if batched else (3,)
    tx, gx = _both(rng.normal(size=shape))
    h_shape = (2, 4) if batched else (4,)
    th, gh = _both(rng.normal(size=h_shape))
    if name == "LSTMCell":
        tc, gc = _both(rng.normal(size=h_shape))
        _check_parity(tm, gm, [tx, (th, tc)], [gx, (gh, gc)], rng)
        _close(tc.grad, gc.grad)
    else:
        _check_parity(tm, gm, [tx, th], [gx, gh], rng)
    _close(tx.grad, gx.grad)
    _close(th.grad, gh.grad)
    # Without hx the state starts at zeros.
    _close(tm(tx)[0] if name == "LSTMCell" else tm(tx), gm(gx)[0] if name == "LSTMCell" else gm(gx))


def test_parameters_shapes_init_and_repr():
    layer = nn.LSTM(3, 8, num_layers=2, bidirectional=True, proj_size=2)
    shapes = {k: tuple(v.shape) for k, v in layer.named_parameters()}
    expected = {
        k: tuple(v.shape) for k, v in torch.nn.LSTM(3, 8, 2, bidirectional=True, proj_size=2).named_parameters()
    }
    assert shapes == expected
    bound = 1 / np.sqrt(8)
    for p in layer.parameters():
        assert np.abs(p.detach().numpy()).max() <= bound and p.dtype == glassgrad.float32
    assert len(layer.all_weights) == 4 and len(layer._flat_weights) == 20
    layer.flatten_parameters()
    for args, kwargs in [
        ((3, 4, 2), {"nonlinearity": "relu", "dropout": 0.5, "bias": False}),
        ((3, 4), {"batch_first": True}),
    ]:
        assert repr(nn.RNN(*args, **kwargs)) == repr(torch.nn.RNN(*args, **kwargs))
    assert repr(nn.LSTM(3, 4, proj_size=2, bidirectional=True)) == repr(
        torch.nn.LSTM(3, 4, proj_size=2, bidirectional=True)
    )
    assert repr(nn.GRUCell(3, 4, bias=False)) == repr(torch.nn.GRUCell(3, 4, bias=False))
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == repr(torch.nn.RNNCell(3, 4, nonlinearity="relu"))


def test_dropout_between_layers_only_in_training():
    glassgrad.manual_seed(0)
    layer = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = glassgrad.randn(5, 2, 3)
    layer.eval()
    a, b = layer(x)[0], layer(x)[0]
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    layer.train()
    c = layer(x)[0]
    assert not np.allclose(c.detach().numpy(), a.detach().numpy())
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.2)


def test_errors():
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D"):
        nn.LSTM(3, 4)(glassgrad.zeros(1, 2, 3, 4))
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 3, got 5"):
        nn.GRU(3, 4)(glassgrad.zeros(2, 2, 5))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 2, 4\), got \[1, 2, 4\]"):
        nn.RNN(3, 4, bidirectional=True)(glassgrad.zeros(5, 2, 3), glassgrad.zeros(1, 2, 4))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size"):
        nn.LSTM(3, 4)(glassgrad.zeros(5, 2, 3), (glassgrad.zeros(1, 2, 4), glassgrad.zeros(1, 3, 4)))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx should also be 3-D"):
        nn.RNN(3, 4)(glassgrad.zeros(5, 2, 3), glassgrad.zeros(2, 4))
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        rnn_utils.pack_padded_sequence(glassgrad.zeros(4, 2, 3), [2, 4])
    with pytest.raises(RuntimeError, match="has to be greater than 0"):
        rnn_utils.pack_padded_sequence(glassgrad.zeros(4, 2, 3), [4, 0])
    packed = rnn_utils.pack_padded_sequence(glassgrad.zeros(4, 2, 3), [4, 2])
    with pytest.raises(ValueError, match="Expected total_length to be at least"):
        rnn_utils.pad_packed_sequence(packed, total_length=3)
    with pytest.raises(ValueError, match="Expected input to be 1D or 2D, got 3D"):
        nn.GRUCell(3, 4)(glassgrad.zeros(1, 2, 3))


def test_packed_gradcheck(rng):
    layer = nn.LSTM(2, 3, bidirectional=True).double()
    x = glassgrad.tensor(rng.normal(size=(4, 3, 2)), requires_grad=True)
    h0 = glassgrad.tensor(rng.normal(size=(2, 3, 3)), requires_grad=True)
    c0 = glassgrad.tensor(rng.normal(size=(2, 3, 3)), requires_grad=True)

    def run(x, h0, c0):
        packed = rnn_utils.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
        out, (h, c) = layer(packed, (h0, c0))
        return ops_cat([rnn_utils.pad_packed_sequence(out)[0].reshape(-1), h.reshape(-1), c.reshape(-1)])

    assert gradcheck(run, (x, h0, c0))


def ops_cat(tensors):
    return glassgrad.cat(tensors, 0)
