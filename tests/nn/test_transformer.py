"""scaled_dot_product_attention, MultiheadAttention and the Transformer layers: parity with
PyTorch (weights copied by state_dict key) on outputs and gradients in float64, gradcheck, errors."""

import numpy as np
import pytest

import glassgrad
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.autograd import gradcheck

torch = pytest.importorskip("torch", reason="parity tests compare against PyTorch")


def _pair(cls_name, *args, **kwargs):
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls_name)(*args, **kwargs).double()
    gm = getattr(nn, cls_name)(*args, **kwargs).double()
    assert list(tm.state_dict()) == list(gm.state_dict())
    gm.load_state_dict({k: glassgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    return tm, gm


def _both(array, grad=True):
    if array.dtype == bool:
        grad = False
    return torch.tensor(array, requires_grad=grad), glassgrad.tensor(array, requires_grad=grad)


def _close(t, g, tol=1e-10):
    np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


def _backward_both(t_out, g_out, rng):
    w = rng.normal(size=tuple(t_out.shape))
    (t_out * torch.tensor(w)).sum().backward()
    (g_out * glassgrad.tensor(w)).sum().backward()


def _params_close(tm, gm):
    for (name, tp), gp in zip(tm.named_parameters(), gm.parameters()):
        assert tp.grad is not None, name
        _close(tp.grad, gp.grad)


# -- scaled_dot_product_attention --------------------------------------------------------


def _mask(rng, kind, shape):
    if kind == "bool":
        m = rng.random(shape) > 0.3
        m[..., 0] = True
        return m
    if kind == "float":
        return rng.normal(size=shape)
    return None


@pytest.mark.parametrize("mask", [None, "bool", "float"])
@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa_parity(mask, is_causal, scale, rng):
    if mask and is_causal:
        with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
            F.scaled_dot_product_attention(
                *(glassgrad.zeros(1, 2, 2) for _ in range(3)), glassgrad.zeros(2, 2), is_causal=True
            )
        return
    q, k, v = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 6, 5)), rng.normal(size=(2, 3, 6, 7))
    (tq, gq), (tk, gk), (tv, gv) = _both(q), _both(k), _both(v)
    m = _mask(rng, mask, (4, 6))
    tm = gm = None
    if m is not None:
        tm, gm = _both(m, grad=False)
    to = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, is_causal=is_causal, scale=scale)
    go = F.scaled_dot_product_attention(gq, gk, gv, attn_mask=gm, is_causal=is_causal, scale=scale)
    _close(to, go)
    _backward_both(to, go, rng)
    for t, g in ((tq, gq), (tk, gk), (tv, gv)):
        _close(t.grad, g.grad)


def test_sdpa_fully_masked_rows_give_zeros_and_finite_grads(rng):
    q, k = rng.normal(size=(1, 3, 4)), rng.normal(size=(1, 5, 4))
    (tq, gq), (tk, gk) = _both(q), _both(k)
    m = np.ones((3, 5), bool)
    m[1] = False
    to = torch.nn.functional.scaled_dot_product_attention(tq, tk, tk, attn_mask=torch.tensor(m))
    go = F.scaled_dot_product_attention(gq, gk, gk, attn_mask=glassgrad.tensor(m))
    _close(to, go)
    assert np.all(go.detach().numpy()[0, 1] == 0)
    _backward_both(to, go, rng)
    _close(tq.grad, gq.grad)
    _close(tk.grad, gk.grad)


def test_sdpa_gqa_and_gradcheck(rng):
    q, k = rng.normal(size=(1, 4, 3, 2)), rng.normal(size=(1, 2, 5, 2))
    (tq, gq), (tk, gk) = _both(q), _both(k)
    to = torch.nn.functional.scaled_dot_product_attention(tq, tk, tk, enable_gqa=True)
    go = F.scaled_dot_product_attention(gq, gk, gk, enable_gqa=True)
    _close(to, go)
    mask = glassgrad.tensor(rng.normal(size=(3, 5)))
    assert gradcheck(lambda q, k: F.scaled_dot_product_attention(q, k, k, attn_mask=mask, enable_gqa=True), (gq, gk))
    assert gradcheck(lambda q, k: F.scaled_dot_product_attention(q, k, k, is_causal=True, enable_gqa=True), (gq, gk))


def test_sdpa_dropout_drops_weights():
    glassgrad.manual_seed(0)
    q = glassgrad.ones(1, 50, 4)
    v = glassgrad.ones(1, 50, 4)
    out = F.scaled_dot_product_attention(q, q, v, dropout_p=0.5).numpy()
    # Rows of weights 1/50 each, kept with probability 0.5 and scaled by 2: sums near 1, not all 1.
    assert not np.allclose(out, 1.0) and abs(out.mean() - 1.0) < 0.15


# -- MultiheadAttention --------------------------------------------------------------


MHA_CONFIGS = [
    {},
    {"bias": False, "batch_first": True},
    {"kdim": 5, "vdim": 3},
    {"add_bias_kv": True, "add_zero_attn": True},
]


@pytest.mark.parametrize("kwargs", MHA_CONFIGS)
@pytest.mark.parametrize("masks", ["none", "bool", "float", "3d"])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_mha_parity(kwargs, masks, need_weights, average, rng):
    tm, gm = _pair("MultiheadAttention", 8, 2, **kwargs)
    n, length, source = 3, 4, 6
    kdim, vdim = kwargs.get("kdim", 8), kwargs.get("vdim", 8)
    bf = kwargs.get("batch_first", False)

    def shape(seq, dim):
        return (n, seq, dim) if bf else (seq, n, dim)

    (tq, gq), (tk, gk), (tv, gv) = (
        _both(rng.normal(size=shape(length, 8))),
        _both(rng.normal(size=shape(source, kdim))),
        _both(rng.normal(size=shape(source, vdim))),
    )
    options_t, options_g = {}, {}
    if masks != "none":
        kpm = np.zeros((n, source), bool)
        kpm[1, 4:] = True
        am = rng.random((length, source)) > 0.7
        am[:, 0] = False
        if masks == "float":
            kpm = np.where(kpm, -np.inf, 0.0)
            am = rng.normal(size=(length, source))
        if masks == "3d":
            am = rng.normal(size=(n * 2, length, source))
            kpm = np.where(kpm, -np.inf, 0.0)
        for d, make in ((options_t, torch.tensor), (options_g, glassgrad.tensor)):
            d["key_padding_mask"] = make(kpm)
            d["attn_mask"] = make(am)
    to, tw = tm(tq, tk, tv, need_weights=need_weights, average_attn_weights=average, **options_t)
    go, gw = gm(gq, gk, gv, need_weights=need_weights, average_attn_weights=average, **options_g)
    _close(to, go)
    if need_weights:
        _close(tw, gw)
    else:
        assert tw is None and gw is None
    _backward_both(to, go, rng)
    _params_close(tm, gm)
    for t, g in ((tq, gq), (tk, gk), (tv, gv)):
        _close(t.grad, g.grad)


def test_mha_unbatched_parameters_and_repr(rng):
    tm, gm = _pair("MultiheadAttention", 6, 3)
    (tq, gq) = _both(rng.normal(size=(4, 6)))
    to, tw = tm(tq, tq, tq)
    go, gw = gm(gq, gq, gq)
    _close(to, go)
    _close(tw, gw)
    assert tuple(gw.shape) == (4, 4)
    assert repr(gm) == repr(tm)
    fresh = nn.MultiheadAttention(6, 3, kdim=4)
    names = {k: tuple(v.shape) for k, v in fresh.named_parameters()}
    expected = {k: tuple(v.shape) for k, v in torch.nn.MultiheadAttention(6, 3, kdim=4).named_parameters()}
    assert names == expected
    assert np.all(fresh.in_proj_bias.detach().numpy() == 0) and np.all(fresh.out_proj.bias.detach().numpy() == 0)
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(7, 2)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        gm(gq, gq, gq, is_causal=True)
    with pytest.raises(RuntimeError, match="The shape of the 2D attn_mask is"):
        gm(gq, gq, gq, attn_mask=glassgrad.zeros(3, 3))


# -- Transformer layers ----------------------------------------------------------------


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_and_stack(norm_first, activation, batch_first, rng):
    kwargs = dict(
        dim_feedforward=16, dropout=0.0, activation=activation, batch_first=batch_first, norm_first=norm_first
    )
    tl, gl = _pair("TransformerEncoderLayer", 8, 2, **kwargs)
    x = rng.normal(size=(3, 5, 8) if batch_first else (5, 3, 8))  # batch 3, sequence 5
    (tx, gx) = _both(x)
    mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=glassgrad.float64)
    t_mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    _close(t_mask, mask, tol=0)
    to, go = tl(tx, src_mask=t_mask, is_causal=True), gl(gx, src_mask=mask, is_causal=True)
    _close(to, go)
    _backward_both(to, go, rng)
    _params_close(tl, gl)
    _close(tx.grad, gx.grad)

    torch.manual_seed(1)
    t_stack = torch.nn.TransformerEncoder(tl, 2, norm=torch.nn.LayerNorm(8).double(), enable_nested_tensor=False)
    g_stack = nn.TransformerEncoder(gl, 2, norm=nn.LayerNorm(8).double())
    g_stack.load_state_dict({k: glassgrad.tensor(v.detach().numpy()) for k, v in t_stack.state_dict().items()})
    kpm = np.zeros((3, 5), bool)
    kpm[0, 3:] = True
    to = t_stack(tx, src_key_padding_mask=torch.tensor(kpm))
    go = g_stack(gx, src_key_padding_mask=glassgrad.tensor(kpm))
    _close(to, go)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_and_transformer(norm_first, rng):
    kwargs = dict(dim_feedforward=16, dropout=0.0, norm_first=norm_first)
    tl, gl = _pair("TransformerDecoderLayer", 8, 2, **kwargs)
    (tt, gt), (tm_, gm_) = _both(rng.normal(size=(4, 2, 8))), _both(rng.normal(size=(6, 2, 8)))
    kpm = np.zeros((2, 6), bool)
    kpm[1, 5] = True
    t_mask = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    g_mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=glassgrad.float64)
    to = tl(tt, tm_, tgt_mask=t_mask, memory_key_padding_mask=torch.tensor(kpm), tgt_is_causal=True)
    go = gl(gt, gm_, tgt_mask=g_mask, memory_key_padding_mask=glassgrad.tensor(kpm), tgt_is_causal=True)
    _close(to, go)
    _backward_both(to, go, rng)
    _params_close(tl, gl)
    _close(tt.grad, gt.grad)
    _close(tm_.grad, gm_.grad)

    tf, gf = _pair("Transformer", 8, 2, 2, 2, 16, dropout=0.0, norm_first=norm_first, batch_first=True)
    (ts, gs), (tt, gt) = _both(rng.normal(size=(2, 5, 8))), _both(rng.normal(size=(2, 4, 8)))
    to = tf(ts, tt, tgt_mask=t_mask, tgt_is_causal=True)
    go = gf(gs, gt, tgt_mask=g_mask, tgt_is_causal=True)
    _close(to, go)
    _backward_both(to, go, rng)
    _params_close(tf, gf)
    _close(ts.grad, gs.grad)


def test_transformer_init_repr_and_errors():
    model = nn.Transformer(8, 2, 1, 1, 16)
    reference = torch.nn.Transformer(8, 2, 1, 1, 16)
    assert repr(model) == repr(reference)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    w = model.encoder.layers[0].linear1.weight.detach().numpy()
    assert np.abs(w).max() <= np.sqrt(6 / (8 + 16)) + 1e-7  # xavier_uniform_ bound, not Linear's default
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    assert mask.dtype == glassgrad.float32
    np.testing.assert_array_equal(mask.numpy(), [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(glassgrad.zeros(3, 2, 8), glassgrad.zeros(3, 4, 8))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        model(glassgrad.zeros(3, 2, 6), glassgrad.zeros(3, 2, 6))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.5)
    x = glassgrad.randn(4, 2, 8)
    layer.eval()
    np.testing.assert_array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())


def test_mha_and_encoder_layer_gradcheck(rng):
    mha = nn.MultiheadAttention(4, 2, kdim=3, vdim=2, add_bias_kv=True).double()
    q = glassgrad.tensor(rng.normal(size=(3, 2, 4)), requires_grad=True)
    k = glassgrad.tensor(rng.normal(size=(5, 2, 3)), requires_grad=True)
    v = glassgrad.tensor(rng.normal(size=(5, 2, 2)), requires_grad=True)
    kpm = glassgrad.tensor(np.array([[False] * 5, [False, False, False, True, True]]))
    assert gradcheck(lambda q, k, v, w: mha(q, k, v, key_padding_mask=kpm)[0], (q, k, v, mha.q_proj_weight))
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, norm_first=True).double()
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=glassgrad.float64)
    assert gradcheck(lambda x, w: layer(x, src_mask=mask), (q, layer.self_attn.in_proj_weight))
