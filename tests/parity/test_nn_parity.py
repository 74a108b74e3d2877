"""nn against PyTorch: layer outputs, input and parameter gradients, running statistics,
losses, state-dict layouts, weights copied across, initialisation bounds and hooks."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests skipped")

import glassgrad  # noqa: E402
import glassgrad.nn.functional as F  # noqa: E402
from glassgrad import nn  # noqa: E402

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-6, atol=1e-10)}
DTYPES = [np.float32, np.float64]


def _pair(array, requires_grad=True):
    g = glassgrad.tensor(
        array, requires_grad=requires_grad, dtype=glassgrad.float64 if array.dtype == np.float64 else None
    )
    t = torch.tensor(array, requires_grad=requires_grad)
    return g, t


def _close(ours, theirs, dtype):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    ours = ours.array if isinstance(ours, glassgrad.Tensor) else np.asarray(ours)
    assert ours.dtype == theirs.dtype, f"dtype {ours.dtype} != {theirs.dtype}"
    np.testing.assert_allclose(ours, theirs, **TOL[dtype])


def _copy_weights(ours, theirs):
    """Load the torch module's state dict into ours, through NumPy arrays."""
    ours.load_state_dict({k: glassgrad.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})


def _check_layer(ours, theirs, x, dtype, upstream=None):
    """Outputs, input gradients and parameter gradients of two layers with the same weights."""
    gx, tx = _pair(x)
    g_out, t_out = ours(gx), theirs(tx)
    _close(g_out, t_out, dtype)
    up = np.random.default_rng(1).standard_normal(t_out.shape).astype(dtype) if upstream is None else upstream
    (g_out * glassgrad.tensor(up)).sum().backward()
    (t_out * torch.tensor(up)).sum().backward()
    _close(gx.grad, tx.grad, dtype)
    ours_params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        _close(ours_params[name].grad, p.grad, dtype)


ACTIVATIONS = [
    ("ReLU", {}),
    ("ReLU6", {}),
    ("LeakyReLU", {"negative_slope": 0.2}),
    ("ELU", {"alpha": 0.5}),
    ("CELU", {"alpha": 1.5}),
    ("SELU", {}),
    ("GELU", {}),
    ("GELU", {"approximate": "tanh"}),
    ("SiLU", {}),
    ("Mish", {}),
    ("Sigmoid", {}),
    ("Tanh", {}),
    ("Tanhshrink", {}),
    ("Softplus", {"beta": 2.0, "threshold": 4.0}),
    ("Softsign", {}),
    ("LogSigmoid", {}),
    ("Hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("Hardsigmoid", {}),
    ("Hardswish", {}),
    ("Threshold", {"threshold": 0.3, "value": -1.0}),
    ("Softmax", {"dim": 1}),
    ("LogSoftmax", {"dim": -1}),
    ("Softmin", {"dim": 0}),
    ("PReLU", {"num_parameters": 3}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, kwargs", ACTIVATIONS, ids=[f"{n}{i}" for i, (n, _) in enumerate(ACTIVATIONS)])
def test_activations(name, kwargs, dtype):
    x = (np.random.default_rng(0).standard_normal((4, 3, 5)) * 3).astype(dtype)
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    if dtype == np.float64:
        ours.double()
        theirs.double()
    _check_layer(ours, theirs, x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear(dtype):
    theirs = torch.nn.Linear(6, 4)
    ours = nn.Linear(6, 4)
    if dtype == np.float64:
        theirs.double()
        ours.double()
    _copy_weights(ours, theirs)
    _check_layer(ours, theirs, np.random.default_rng(0).standard_normal((2, 3, 6)).astype(dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "cls, shape, kwargs",
    [
        ("BatchNorm1d", (8, 3), {}),
        ("BatchNorm1d", (4, 3, 5), {"momentum": 0.3, "eps": 1e-3}),
        ("BatchNorm2d", (4, 3, 5, 5), {}),
        ("BatchNorm2d", (4, 3, 2, 2), {"momentum": None}),
        ("BatchNorm2d", (4, 3, 2, 2), {"affine": False}),
        ("BatchNorm2d", (4, 3, 2, 2), {"track_running_stats": False}),
    ],
)
def test_batch_norm_steps_train_and_eval(cls, shape, kwargs, dtype):
    ours, theirs = getattr(nn, cls)(3, **kwargs), getattr(torch.nn, cls)(3, **kwargs)
    if dtype == np.float64:
        ours.double()
        theirs.double()
    rng = np.random.default_rng(0)
    if kwargs.get("affine", True):
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
            theirs.bias.uniform_(-1, 1)
    _copy_weights(ours, theirs)
    for step in range(4):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        ours.zero_grad()
        theirs.zero_grad()
        _check_layer(ours, theirs, x, dtype)
        theirs_buffers = dict(theirs.named_buffers())
        assert [n for n, _ in ours.named_buffers()] == list(theirs_buffers)
        for name, buf in ours.named_buffers():
            if name == "num_batches_tracked":
                assert buf.item() == theirs_buffers[name].item() == step + 1
            else:
                _close(buf, theirs_buffers[name], dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.eval()
    theirs.eval()
    ours.zero_grad()
    theirs.zero_grad()
    _check_layer(ours, theirs, rng.standard_normal(shape).astype(dtype), dtype)


@pytest.mark.skipif(
    torch.backends.cpu.get_cpu_capability() == "DEFAULT",
    reason="PyTorch's generic CPU kernels round twice where its AVX2/AVX-512 ones fuse a multiply-add",
)
@pytest.mark.parametrize("shape", [(128, 16, 32, 32), (5, 7, 3, 3), (64, 10), (2, 3, 4)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_batch_norm_eval_float32_bits_equal_pytorch(shape, affine, requires_grad):
    """In evaluation mode float32 batch norm gives PyTorch's very bits: the same per-channel
    alpha and beta, and one rounding of x * alpha + beta (compiled path and NumPy alike)."""
    rng = np.random.default_rng(5)
    c = shape[1]
    cls = "BatchNorm2d" if len(shape) == 4 else "BatchNorm1d"
    ours, theirs = getattr(nn, cls)(c, affine=affine), getattr(torch.nn, cls)(c, affine=affine)
    with torch.no_grad():
        theirs.running_mean.normal_(0, 2)
        theirs.running_var.uniform_(0.05, 3)
        if affine:
            theirs.weight.normal_(0, 1)
            theirs.bias.normal_(0, 1)
    _copy_weights(ours, theirs)
    ours.eval()
    theirs.eval()
    x = (rng.standard_normal(shape) * 3 + 0.5).astype(np.float32)
    want = theirs(torch.tensor(x, requires_grad=requires_grad)).detach().numpy()
    got = ours(glassgrad.tensor(x, requires_grad=requires_grad))
    assert np.array_equal(got.detach().numpy(), want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_and_group_norm(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5)).astype(dtype)
    for ours, theirs in [(nn.LayerNorm(5), torch.nn.LayerNorm(5)), (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4))]:
        if dtype == np.float64:
            ours.double()
            theirs.double()
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
            theirs.bias.uniform_(-1, 1)
        _copy_weights(ours, theirs)
        _check_layer(ours, theirs, x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size, shape", [(5, (2, 7, 3, 3)), (2, (2, 4, 6)), (3, (1, 5, 2, 2, 2))])
def test_local_response_norm(size, shape, dtype):
    x = (np.random.default_rng(0).standard_normal(shape) * 4).astype(dtype)
    kwargs = dict(alpha=0.01, beta=0.75, k=2.0)
    _check_layer(nn.LocalResponseNorm(size, **kwargs), torch.nn.LocalResponseNorm(size, **kwargs), x, dtype)


def test_dropout_eval_identity_and_train_scale():
    x = np.ones((100, 10), dtype=np.float32)
    ours, theirs = nn.Dropout(0.3), torch.nn.Dropout(0.3)
    kept_ours = ours(glassgrad.tensor(x)).array
    kept_theirs = theirs(torch.tensor(x)).numpy()
    assert set(np.unique(kept_ours).round(5)) == set(np.unique(kept_theirs).round(5))
    ours.eval()
    theirs.eval()
    _check_layer(ours, theirs, x, np.float32)


def _loss_pair(fn_name, g_args, t_args, kwargs, dtype, grad_inputs=(0,)):
    g_loss = getattr(F, fn_name)(*g_args, **kwargs)
    t_loss = getattr(torch.nn.functional, fn_name)(*t_args, **{k: _to_torch(v) for k, v in kwargs.items()})
    _close(g_loss, t_loss, dtype)
    up = np.random.default_rng(2).standard_normal(t_loss.shape).astype(dtype)
    (g_loss * glassgrad.tensor(up)).sum().backward()
    (t_loss * torch.tensor(up)).sum().backward()
    for i in grad_inputs:
        _close(g_args[i].grad, t_args[i].grad, dtype)


def _to_torch(v):
    return torch.tensor(v.array) if isinstance(v, glassgrad.Tensor) else v


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "options",
    [{}, {"weight": True}, {"label_smoothing": 0.15}, {"ignore_index": 1}, {"weight": True, "label_smoothing": 0.3}],
)
def test_cross_entropy_class_indices(options, reduction, dtype):
    rng = np.random.default_rng(0)
    for shape, tshape in [((6, 4), (6,)), ((3, 4, 2, 2), (3, 2, 2))]:
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        t = rng.integers(0, 4, tshape)
        kwargs = {k: v for k, v in options.items() if k != "weight"}
        if options.get("weight"):
            kwargs["weight"] = glassgrad.tensor(rng.uniform(0.2, 2, 4).astype(dtype))
        gx, tx = _pair(x)
        args_g, args_t = (gx, glassgrad.tensor(t)), (tx, torch.tensor(t))
        _loss_pair("cross_entropy", args_g, args_t, dict(kwargs, reduction=reduction), dtype)
        _loss_pair("nll_loss", *_nll_args(x, t), {k: v for k, v in kwargs.items() if k != "label_smoothing"}, dtype)


def _nll_args(x, t):
    logp = x - x.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    gx, tx = _pair(logp.astype(x.dtype))
    return (gx, glassgrad.tensor(t)), (tx, torch.tensor(t))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_probability_targets(reduction, dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((5, 3, 2)) * 2).astype(dtype)
    p = rng.dirichlet(np.ones(3), size=(5, 2)).transpose(0, 2, 1).astype(dtype)
    w = glassgrad.tensor(rng.uniform(0.5, 2, 3).astype(dtype))
    gx, tx = _pair(x)
    gp, tp = _pair(p)
    kwargs = dict(weight=w, reduction=reduction, label_smoothing=0.1)
    _loss_pair("cross_entropy", (gx, gp), (tx, tp), kwargs, dtype, grad_inputs=(0, 1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_huge_logits_match(dtype):
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]], dtype=dtype)
    gx, tx = _pair(x)
    t = np.array([1, 2])
    _loss_pair("cross_entropy", (gx, glassgrad.tensor(t)), (tx, torch.tensor(t)), {}, dtype)
    assert np.all(np.isfinite(gx.grad.array))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_losses(reduction, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5)).astype(dtype)
    y = rng.standard_normal((4, 5)).astype(dtype)
    for name, kwargs in [
        ("mse_loss", {}),
        ("l1_loss", {}),
        ("smooth_l1_loss", {"beta": 0.5}),
        ("huber_loss", {"delta": 0.8}),
    ]:
        gx, tx = _pair(x)
        gy, ty = _pair(y)
        _loss_pair(name, (gx, gy), (tx, ty), dict(kwargs, reduction=reduction), dtype, grad_inputs=(0, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_losses(reduction, dtype):
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((4, 3)) * 4).astype(dtype)
    probs = (1 / (1 + np.exp(-logits))).astype(dtype)
    target = rng.uniform(0, 1, (4, 3)).astype(dtype)
    w = glassgrad.tensor(rng.uniform(0.5, 2, 3).astype(dtype))
    pw = glassgrad.tensor(rng.uniform(0.5, 3, 3).astype(dtype))
    gx, tx = _pair(probs)
    gt, tt = _pair(target)
    _loss_pair("binary_cross_entropy", (gx, gt), (tx, tt), dict(weight=w, reduction=reduction), dtype, (0, 1))
    gx, tx = _pair(logits)
    gt, tt = _pair(target)
    kwargs = dict(weight=w, pos_weight=pw, reduction=reduction)
    _loss_pair("binary_cross_entropy_with_logits", (gx, gt), (tx, tt), kwargs, dtype, (0, 1))


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "mean"])
def test_kl_div(reduction, dtype):
    rng = np.random.default_rng(0)
    logq = rng.standard_normal((3, 4))
    logq = (logq - np.log(np.exp(logq).sum(1, keepdims=True))).astype(dtype)
    p = rng.dirichlet(np.ones(4), size=3).astype(dtype)
    gx, tx = _pair(logq)
    gp, tp = _pair(p)
    _loss_pair("kl_div", (gx, gp), (tx, tp), dict(reduction=reduction), dtype, (0, 1))


# -- module trees, weights across frameworks, init ---------------------------------------------------


def _tree(lib):
    class Head(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = lib.nn.LayerNorm(8)
            self.fc = lib.nn.Linear(8, 3)
            self.register_buffer("temperature", lib.ones(1))

        def forward(self, x):
            return self.fc(self.norm(x)) / self.temperature

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = lib.nn.Sequential(lib.nn.Linear(5, 8), lib.nn.BatchNorm1d(8), lib.nn.ReLU())
            self.blocks = lib.nn.ModuleList([lib.nn.Linear(8, 8), lib.nn.PReLU(8)])
            self.branches = lib.nn.ModuleDict({"gelu": lib.nn.GELU(), "drop": lib.nn.Dropout(0.0)})
            self.head = Head()

        def forward(self, x):
            h = self.stem(x)
            h = h + self.blocks[1](self.blocks[0](h))
            return self.head(self.branches["drop"](self.branches["gelu"](h)))

    return Net()


def test_state_dict_layout_equals_pytorch_and_weights_load_across():
    ours, theirs = _tree(glassgrad), _tree(torch)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    for key in theirs_sd:
        assert tuple(ours_sd[key].shape) == tuple(theirs_sd[key].shape), key
        assert str(ours_sd[key].dtype).split(".")[-1] == str(theirs_sd[key].dtype).split(".")[-1], key
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert repr(ours) == repr(theirs)
    _copy_weights(ours, theirs)
    rng = np.random.default_rng(0)
    for mode in ("train", "eval"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        for _ in range(2):
            ours.zero_grad()
            theirs.zero_grad()
            _check_layer(ours, theirs, rng.standard_normal((6, 5)).astype(np.float32), np.float32)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].array, value.numpy(), rtol=1e-5, atol=1e-6)
    # And back: PyTorch loads what glassgrad holds.
    theirs.load_state_dict({k: torch.tensor(v.array.copy()) for k, v in ours.state_dict().items()})
    # PyTorch's tensors themselves are accepted too (read through the array protocol).
    fresh = _tree(glassgrad)
    fresh.load_state_dict(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key].array, value.numpy())


def test_strict_load_reports_the_same_keys_as_pytorch():
    ours, theirs = _tree(glassgrad), _tree(torch)
    sd = {k: v for k, v in theirs.state_dict().items() if not k.startswith("head.fc")}
    sd["head.extra"] = torch.zeros(1)
    t_result = theirs.load_state_dict(sd, strict=False)
    g_result = ours.load_state_dict({k: glassgrad.tensor(v.numpy()) for k, v in sd.items()}, strict=False)
    assert sorted(g_result.missing_keys) == sorted(t_result.missing_keys)
    assert sorted(g_result.unexpected_keys) == sorted(t_result.unexpected_keys)


def test_default_init_distributions_match_pytorch_bounds():
    glassgrad.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = nn.Linear(300, 200), torch.nn.Linear(300, 200)
    for name in ("weight", "bias"):
        a, b = getattr(ours, name).array, getattr(theirs, name).detach().numpy()
        assert np.abs(a).max() <= 1 / math.sqrt(300) and np.abs(b).max() <= 1 / math.sqrt(300)
        assert np.abs(a).max() == pytest.approx(np.abs(b).max(), rel=0.01)
        assert a.std() == pytest.approx(b.std(), rel=0.05)
    for fn, kwargs in [
        ("kaiming_uniform_", {"nonlinearity": "relu"}),
        ("kaiming_normal_", {"mode": "fan_out"}),
        ("xavier_uniform_", {"gain": 1.5}),
        ("xavier_normal_", {}),
    ]:
        a, b = glassgrad.empty(256, 128), torch.empty(256, 128)
        getattr(nn.init, fn)(a, **kwargs)
        getattr(torch.nn.init, fn)(b, **kwargs)
        assert a.array.std() == pytest.approx(b.std().item(), rel=0.03), fn
        if "uniform" in fn:
            assert np.abs(a.array).max() == pytest.approx(b.abs().max().item(), rel=0.01), fn
    for gain in ["linear", "tanh", "relu", "selu", "sigmoid"]:
        assert nn.init.calculate_gain(gain) == pytest.approx(torch.nn.init.calculate_gain(gain))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", 0.2))


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_full_backward_hooks_match_pytorch():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    ours = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    _copy_weights(ours, theirs)
    records = {"ours": [], "theirs": []}
    for key, model in (("ours", ours), ("theirs", theirs)):
        for layer in model:
            layer.register_full_backward_hook(
                lambda m, gi, go, key=key: records[key].append(
                    [
                        None if g is None else np.array(g.detach().numpy() if key == "theirs" else g.array)
                        for g in gi + go
                    ]
                )
            )
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    ours(glassgrad.tensor(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    assert len(records["ours"]) == len(records["theirs"]) == 3
    for mine, ref in zip(records["ours"], records["theirs"]):
        assert [m is None for m in mine] == [r is None for r in ref]
        for m, r in zip(mine, ref):
            if r is not None:
                np.testing.assert_allclose(m, r, rtol=1e-5, atol=1e-6)


def test_clip_grad_norm_matches_pytorch():
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (5,), (2, 2, 2)]]
    for norm_type in (2.0, 1.0, float("inf")):
        ours = [nn.Parameter(glassgrad.zeros(*g.shape)) for g in grads]
        theirs = [torch.nn.Parameter(torch.zeros(*g.shape)) for g in grads]
        for p, q, g in zip(ours, theirs, grads):
            p.grad = glassgrad.tensor(g.copy())
            q.grad = torch.tensor(g.copy())
        total_ours = nn.utils.clip_grad_norm_(ours, 0.7, norm_type)
        total_theirs = torch.nn.utils.clip_grad_norm_(theirs, 0.7, norm_type)
        np.testing.assert_allclose(total_ours.item(), total_theirs.item(), rtol=1e-5)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 1}, {"scale_grad_by_freq": True}, {"max_norm": 1.5}])
def test_embedding(kwargs):
    rng = np.random.default_rng(0)
    theirs = torch.nn.Embedding(6, 4, **kwargs)
    ours = nn.Embedding(6, 4, **kwargs)
    _copy_weights(ours, theirs)
    idx = rng.integers(0, 6, (3, 5))
    g_out, t_out = ours(glassgrad.tensor(idx)), theirs(torch.tensor(idx))
    _close(g_out, t_out, np.float32)
    up = rng.standard_normal(t_out.shape).astype(np.float32)
    (g_out * glassgrad.tensor(up)).sum().backward()
    (t_out * torch.tensor(up)).sum().backward()
    _close(ours.weight.grad, theirs.weight.grad, np.float32)
    _close(ours.weight, theirs.weight, np.float32)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "cls, shape, kwargs",
    [
        ("InstanceNorm1d", (3, 4, 6), {}),
        ("InstanceNorm2d", (3, 4, 3, 3), {"affine": True, "track_running_stats": True, "momentum": 0.3}),
        ("InstanceNorm2d", (4, 3, 3), {"affine": True}),
    ],
)
def test_instance_norm(cls, shape, kwargs, dtype):
    ours, theirs = getattr(nn, cls)(4, **kwargs), getattr(torch.nn, cls)(4, **kwargs)
    if dtype == np.float64:
        ours.double()
        theirs.double()
    if kwargs.get("affine"):
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
            theirs.bias.uniform_(-1, 1)
    _copy_weights(ours, theirs)
    rng = np.random.default_rng(0)
    for step in range(3):
        ours.zero_grad()
        theirs.zero_grad()
        _check_layer(ours, theirs, (rng.standard_normal(shape) * (step + 1)).astype(dtype), dtype)
    for (name, buf), (_, tbuf) in zip(ours.named_buffers(), theirs.named_buffers()):
        assert np.allclose(buf.array, tbuf.numpy(), rtol=1e-5), name
    ours.eval()
    theirs.eval()
    _check_layer(ours, theirs, rng.standard_normal(shape).astype(dtype), dtype)
    assert repr(ours) == repr(theirs)


INTERPOLATE_CASES = [
    ((2, 3, 5), {"scale_factor": 2, "mode": "nearest"}),
    ((2, 3, 5), {"size": 7, "mode": "linear"}),
    ((2, 3, 5), {"size": 3, "mode": "linear", "align_corners": True}),
    ((1, 2, 4, 5), {"scale_factor": 1.7, "mode": "bilinear"}),
    ((1, 2, 4, 5), {"size": (7, 3), "mode": "bilinear", "align_corners": True}),
    ((1, 2, 4, 5), {"size": (9, 11), "mode": "bicubic"}),
    ((1, 2, 4, 5), {"scale_factor": 2.5, "mode": "bicubic", "align_corners": True}),
    ((1, 2, 6, 9), {"size": (4, 4), "mode": "area"}),
    ((1, 2, 5, 5), {"scale_factor": 0.6, "mode": "nearest"}),
    ((1, 2, 5, 5), {"size": (8, 3), "mode": "nearest-exact"}),
    ((1, 2, 3, 4, 5), {"scale_factor": 2, "mode": "trilinear"}),
    ((1, 2, 7, 7), {"scale_factor": 1 / 3, "mode": "nearest"}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kwargs", INTERPOLATE_CASES)
def test_interpolate(shape, kwargs, dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    ours = nn.Upsample(**kwargs)
    theirs = torch.nn.Upsample(**kwargs)
    _check_layer(ours, theirs, x, dtype)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    "shape, pad", [((2, 3, 5), (2, 1)), ((1, 2, 4, 5), (1, 2, 3, 0)), ((1, 1, 3, 4, 5), (1, 2, 0, 1, 2, 1))]
)
def test_pad_modes(shape, pad, mode, dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    gx, tx = _pair(x)
    g_out, t_out = F.pad(gx, pad, mode=mode), torch.nn.functional.pad(tx, pad, mode=mode)
    _close(g_out, t_out, dtype)
    up = np.random.default_rng(1).standard_normal(t_out.shape).astype(dtype)
    (g_out * glassgrad.tensor(up)).sum().backward()
    (t_out * torch.tensor(up)).sum().backward()
    _close(gx.grad, tx.grad, dtype)
