"""glassgrad.interop, layer by layer: every glassgrad.nn layer that torch.nn also has is built with
non-default arguments, sent to torch and back, and must give the same outputs (float64, eval mode)
and the same state-dict keys on both sides."""

import numpy as np
import pytest

import glassgrad
from glassgrad import nn

torch = pytest.importorskip("torch", reason="PyTorch not installed: interop tests skipped")
from glassgrad.interop import from_torch, to_torch  # noqa: E402

RNG = np.random.default_rng(0)


def _x(*shape):
    return RNG.standard_normal(shape)


def _p(*shape):
    return RNG.uniform(0.05, 0.95, shape)


def _labels(high, *shape):
    return RNG.integers(0, high, shape)


def _stats(bn):
    # Running statistics away from 0/1, so that they take part in the comparison.
    if getattr(bn, "running_mean", None) is not None:
        bn.running_mean.array[...] = RNG.standard_normal(bn.running_mean.shape) * 0.1
        bn.running_var.array[...] = RNG.uniform(0.5, 1.5, bn.running_var.shape)
    return bn


def _materialised(module, *shape):
    with glassgrad.no_grad():
        module(glassgrad.tensor(_x(*shape).astype(np.float32)))
    return module


# (id, builder of the glassgrad layer, inputs as arrays).
LAYERS = [
    ("Identity", lambda: nn.Identity(), [_x(2, 3)]),
    ("Linear", lambda: nn.Linear(4, 3), [_x(2, 4)]),
    ("Linear-nobias", lambda: nn.Linear(4, 3, bias=False), [_x(2, 4)]),
    ("Conv1d", lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1, dilation=2, padding_mode="reflect"), [_x(2, 3, 9)]),
    (
        "Conv2d",
        lambda: nn.Conv2d(4, 6, 3, groups=2, padding="same", padding_mode="circular", bias=False),
        [_x(1, 4, 6, 5)],
    ),
    ("Conv3d", lambda: nn.Conv3d(2, 3, 2, stride=(1, 2, 1), padding=1), [_x(1, 2, 4, 5, 4)]),
    ("ConvTranspose1d", lambda: nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1, output_padding=1), [_x(2, 3, 5)]),
    ("ConvTranspose2d", lambda: nn.ConvTranspose2d(4, 2, 3, stride=2, groups=2, dilation=2), [_x(1, 4, 4, 3)]),
    ("BatchNorm1d", lambda: _stats(nn.BatchNorm1d(3, eps=1e-3, momentum=0.2)), [_x(2, 3, 5)]),
    ("BatchNorm2d", lambda: _stats(nn.BatchNorm2d(3, affine=False)), [_x(2, 3, 4, 4)]),
    ("BatchNorm3d", lambda: _stats(nn.BatchNorm3d(2, momentum=None)), [_x(2, 2, 3, 3, 3)]),
    ("SyncBatchNorm", lambda: _stats(nn.SyncBatchNorm(3)), [_x(2, 3, 4)]),
    ("GroupNorm", lambda: nn.GroupNorm(2, 4, eps=1e-4), [_x(2, 4, 3)]),
    ("InstanceNorm1d", lambda: nn.InstanceNorm1d(3, affine=True), [_x(2, 3, 6)]),
    ("InstanceNorm2d", lambda: _stats(nn.InstanceNorm2d(3, track_running_stats=True)), [_x(2, 3, 4, 4)]),
    ("InstanceNorm3d", lambda: nn.InstanceNorm3d(2), [_x(1, 2, 3, 3, 3)]),
    ("LayerNorm", lambda: nn.LayerNorm((3, 4), eps=1e-4), [_x(2, 3, 4)]),
    ("LayerNorm-nobias", lambda: nn.LayerNorm(4, bias=False), [_x(2, 4)]),
    ("LayerNorm-noaffine", lambda: nn.LayerNorm(4, elementwise_affine=False), [_x(2, 4)]),
    ("RMSNorm", lambda: nn.RMSNorm((3, 4), eps=1e-4), [_x(2, 3, 4)]),
    ("LocalResponseNorm", lambda: nn.LocalResponseNorm(3, alpha=1e-2, beta=0.5, k=2.0), [_x(2, 5, 3, 3)]),
    ("AdaptiveAvgPool1d", lambda: nn.AdaptiveAvgPool1d(3), [_x(2, 3, 8)]),
    ("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d((3, None)), [_x(2, 3, 7, 5)]),
    ("AdaptiveMaxPool1d", lambda: nn.AdaptiveMaxPool1d(3), [_x(2, 3, 7)]),
    ("AdaptiveMaxPool2d", lambda: nn.AdaptiveMaxPool2d((2, 3)), [_x(2, 3, 7, 5)]),
    ("AvgPool1d", lambda: nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False), [_x(2, 3, 8)]),
    ("AvgPool2d", lambda: nn.AvgPool2d(3, 2, 1, divisor_override=2), [_x(2, 3, 7, 6)]),
    ("AvgPool3d", lambda: nn.AvgPool3d(2, stride=1), [_x(1, 2, 3, 4, 3)]),
    ("MaxPool1d", lambda: nn.MaxPool1d(3, 2, 1, dilation=2), [_x(2, 3, 9)]),
    ("MaxPool2d", lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True), [_x(2, 3, 8, 7)]),
    ("MaxPool3d", lambda: nn.MaxPool3d(2), [_x(1, 2, 4, 4, 4)]),
    ("CELU", lambda: nn.CELU(0.5), [_x(3, 4)]),
    ("ELU", lambda: nn.ELU(0.7), [_x(3, 4)]),
    ("GELU", lambda: nn.GELU("tanh"), [_x(3, 4)]),
    ("Hardsigmoid", lambda: nn.Hardsigmoid(), [_x(3, 4) * 4]),
    ("Hardswish", lambda: nn.Hardswish(), [_x(3, 4) * 4]),
    ("Hardtanh", lambda: nn.Hardtanh(-0.5, 0.7), [_x(3, 4)]),
    ("Hardshrink", lambda: nn.Hardshrink(0.3), [_x(3, 4)]),
    ("Softshrink", lambda: nn.Softshrink(0.3), [_x(3, 4)]),
    ("GLU", lambda: nn.GLU(dim=1), [_x(3, 4)]),
    ("LeakyReLU", lambda: nn.LeakyReLU(0.2), [_x(3, 4)]),
    ("LogSigmoid", lambda: nn.LogSigmoid(), [_x(3, 4)]),
    ("LogSoftmax", lambda: nn.LogSoftmax(dim=0), [_x(3, 4)]),
    ("Mish", lambda: nn.Mish(), [_x(3, 4)]),
    ("PReLU", lambda: nn.PReLU(3, init=0.3), [_x(2, 3, 4)]),
    ("ReLU", lambda: nn.ReLU(), [_x(3, 4)]),
    ("ReLU6", lambda: nn.ReLU6(), [_x(3, 4) * 5]),
    ("SELU", lambda: nn.SELU(), [_x(3, 4)]),
    ("SiLU", lambda: nn.SiLU(), [_x(3, 4)]),
    ("Sigmoid", lambda: nn.Sigmoid(), [_x(3, 4)]),
    ("Softmax", lambda: nn.Softmax(dim=0), [_x(3, 4)]),
    ("Softmax2d", lambda: nn.Softmax2d(), [_x(2, 3, 2, 2)]),
    ("Softmin", lambda: nn.Softmin(dim=1), [_x(3, 4)]),
    ("Softplus", lambda: nn.Softplus(beta=2.0, threshold=1.5), [_x(3, 4)]),
    ("Softsign", lambda: nn.Softsign(), [_x(3, 4)]),
    ("Tanh", lambda: nn.Tanh(), [_x(3, 4)]),
    ("Tanhshrink", lambda: nn.Tanhshrink(), [_x(3, 4)]),
    ("Threshold", lambda: nn.Threshold(0.1, 20.0), [_x(3, 4)]),
    ("Dropout", lambda: nn.Dropout(0.3), [_x(3, 4)]),
    ("Dropout1d", lambda: nn.Dropout1d(0.3), [_x(2, 3, 4)]),
    ("Dropout2d", lambda: nn.Dropout2d(0.3), [_x(2, 3, 4, 4)]),
    ("Dropout3d", lambda: nn.Dropout3d(0.3), [_x(2, 3, 2, 2, 2)]),
    ("Embedding", lambda: nn.Embedding(10, 4, padding_idx=1), [_labels(10, 2, 5)]),
    ("EmbeddingBag", lambda: nn.EmbeddingBag(10, 4, mode="max"), [_labels(10, 2, 5)]),
    ("Flatten", lambda: nn.Flatten(1, 2), [_x(2, 3, 4, 5)]),
    ("Unflatten", lambda: nn.Unflatten(1, (2, 3)), [_x(2, 6, 4)]),
    ("Fold", lambda: nn.Fold(output_size=(4, 5), kernel_size=2), [_x(2, 12, 12)]),
    ("Unfold", lambda: nn.Unfold(kernel_size=2, padding=1, stride=2), [_x(2, 3, 4, 5)]),
    ("CircularPad1d", lambda: nn.CircularPad1d((1, 2)), [_x(2, 3, 4)]),
    ("CircularPad2d", lambda: nn.CircularPad2d((1, 2, 0, 1)), [_x(2, 3, 4, 4)]),
    ("CircularPad3d", lambda: nn.CircularPad3d(1), [_x(1, 2, 3, 3, 3)]),
    ("ConstantPad1d", lambda: nn.ConstantPad1d((2, 1), 3.5), [_x(2, 3, 4)]),
    ("ConstantPad2d", lambda: nn.ConstantPad2d(1, -1.0), [_x(2, 3, 4)]),
    ("ConstantPad3d", lambda: nn.ConstantPad3d((1, 0, 0, 1, 1, 1), 2.0), [_x(1, 2, 3, 3, 3)]),
    ("ReflectionPad1d", lambda: nn.ReflectionPad1d((2, 1)), [_x(2, 3, 4)]),
    ("ReflectionPad2d", lambda: nn.ReflectionPad2d((1, 2, 2, 0)), [_x(2, 3, 4, 4)]),
    ("ReflectionPad3d", lambda: nn.ReflectionPad3d(1), [_x(1, 2, 3, 3, 3)]),
    ("ReplicationPad1d", lambda: nn.ReplicationPad1d((2, 1)), [_x(2, 3, 4)]),
    ("ReplicationPad2d", lambda: nn.ReplicationPad2d((1, 2, 2, 0)), [_x(2, 3, 4, 4)]),
    ("ReplicationPad3d", lambda: nn.ReplicationPad3d(1), [_x(1, 2, 3, 3, 3)]),
    ("ZeroPad1d", lambda: nn.ZeroPad1d((2, 1)), [_x(2, 3, 4)]),
    ("ZeroPad2d", lambda: nn.ZeroPad2d((1, 2, 2, 0)), [_x(2, 3, 4, 4)]),
    ("ZeroPad3d", lambda: nn.ZeroPad3d(1), [_x(1, 2, 3, 3, 3)]),
    ("PixelShuffle", lambda: nn.PixelShuffle(2), [_x(2, 8, 3, 3)]),
    ("PixelUnshuffle", lambda: nn.PixelUnshuffle(2), [_x(2, 2, 4, 6)]),
    ("Upsample-bilinear", lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True), [_x(1, 2, 3, 4)]),
    ("Upsample-nearest", lambda: nn.Upsample(size=(5, 7)), [_x(1, 2, 3, 4)]),
    ("UpsamplingBilinear2d", lambda: nn.UpsamplingBilinear2d(scale_factor=2), [_x(1, 2, 3, 4)]),
    ("UpsamplingNearest2d", lambda: nn.UpsamplingNearest2d(size=(5, 7)), [_x(1, 2, 3, 4)]),
    ("CosineSimilarity", lambda: nn.CosineSimilarity(dim=0, eps=1e-6), [_x(3, 4), _x(3, 4)]),
    ("PairwiseDistance", lambda: nn.PairwiseDistance(p=1.0, keepdim=True), [_x(3, 4), _x(3, 4)]),
    ("GRUCell", lambda: nn.GRUCell(3, 4), [_x(2, 3)]),
    ("LSTMCell", lambda: nn.LSTMCell(3, 4, bias=False), [_x(2, 3)]),
    ("RNNCell", lambda: nn.RNNCell(3, 4, nonlinearity="relu"), [_x(2, 3)]),
    ("LazyLinear", lambda: _materialised(nn.LazyLinear(3), 2, 5), [_x(2, 5)]),
    ("LazyConv1d", lambda: _materialised(nn.LazyConv1d(4, 3, padding=1), 2, 3, 6), [_x(2, 3, 6)]),
    ("LazyConv2d", lambda: _materialised(nn.LazyConv2d(4, 3, stride=2), 1, 2, 6, 6), [_x(1, 2, 6, 6)]),
    ("LazyBatchNorm1d", lambda: _stats(_materialised(nn.LazyBatchNorm1d(), 2, 3)), [_x(2, 3)]),
    ("LazyBatchNorm2d", lambda: _stats(_materialised(nn.LazyBatchNorm2d(), 2, 3, 2, 2)), [_x(2, 3, 2, 2)]),
    # Losses, with their options away from the defaults.
    ("BCELoss", lambda: nn.BCELoss(weight=glassgrad.tensor(_p(4)), reduction="sum"), [_p(3, 4), _p(3, 4)]),
    (
        "BCEWithLogitsLoss",
        lambda: nn.BCEWithLogitsLoss(pos_weight=glassgrad.tensor(_p(4) * 3)),
        [_x(3, 4), _p(3, 4)],
    ),
    (
        "CrossEntropyLoss",
        lambda: nn.CrossEntropyLoss(weight=glassgrad.tensor(_p(5)), ignore_index=1, label_smoothing=0.1),
        [_x(6, 5), _labels(5, 6)],
    ),
    ("NLLLoss", lambda: nn.NLLLoss(weight=glassgrad.tensor(_p(5)), reduction="sum"), [_x(6, 5), _labels(5, 6)]),
    ("CTCLoss", lambda: nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True), None),  # inputs below
    ("CosineEmbeddingLoss", lambda: nn.CosineEmbeddingLoss(margin=0.2), [_x(3, 4), _x(3, 4), np.array([1, -1, 1])]),
    ("GaussianNLLLoss", lambda: nn.GaussianNLLLoss(full=True, eps=1e-3), [_x(3, 4), _x(3, 4), _p(3, 4)]),
    ("HuberLoss", lambda: nn.HuberLoss(delta=0.5), [_x(3, 4), _x(3, 4)]),
    (
        "KLDivLoss",
        lambda: nn.KLDivLoss(reduction="batchmean", log_target=True),
        [np.log(_p(3, 4)), np.log(_p(3, 4))],
    ),
    ("L1Loss", lambda: nn.L1Loss(reduction="sum"), [_x(3, 4), _x(3, 4)]),
    ("MSELoss", lambda: nn.MSELoss(reduction="none"), [_x(3, 4), _x(3, 4)]),
    ("MarginRankingLoss", lambda: nn.MarginRankingLoss(margin=0.1), [_x(5), _x(5), np.array([1, -1, 1, 1, -1])]),
    ("PoissonNLLLoss", lambda: nn.PoissonNLLLoss(log_input=False, full=True), [_p(3, 4), _p(3, 4) * 4]),
    ("SmoothL1Loss", lambda: nn.SmoothL1Loss(beta=0.5), [_x(3, 4), _x(3, 4)]),
    ("TripletMarginLoss", lambda: nn.TripletMarginLoss(margin=0.5, p=1.0, swap=True), [_x(3, 4), _x(3, 4), _x(3, 4)]),
    # Containers.
    ("Sequential", lambda: nn.Sequential(nn.Linear(4, 5), nn.PReLU(), nn.Linear(5, 2)), [_x(3, 4)]),
    (
        "ModuleList",
        lambda: _Stack(nn.ModuleList([nn.Linear(4, 4), nn.Tanh()]), nn.ModuleDict({"out": nn.Linear(4, 2)})),
        [_x(3, 4)],
    ),
    ("ParameterList", lambda: _Weights(), [_x(3, 4)]),
    ("DataParallel", lambda: nn.DataParallel(nn.Linear(4, 2)), [_x(3, 4)]),
]

_CTC_INPUTS = [
    np.log(RNG.dirichlet(np.ones(5), size=(6, 2))),  # (T, N, C) log-probabilities
    np.array([[1, 2, 2], [3, 4, 0]]),
    np.array([6, 5]),
    np.array([3, 2]),
]


class _Stack(nn.Module):
    def __init__(self, blocks, heads):
        super().__init__()
        self.blocks, self.heads = blocks, heads

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.heads["out"](x)


class _Weights(nn.Module):
    def __init__(self):
        super().__init__()
        self.scales = nn.ParameterList([nn.Parameter(glassgrad.tensor(_x(4))) for _ in range(2)])
        self.shifts = nn.ParameterDict({"a": nn.Parameter(glassgrad.tensor(_x(4)))})

    def forward(self, x):
        return x * self.scales[0] * self.scales[1] + self.shifts["a"]


def _as(array, lib):
    if np.issubdtype(array.dtype, np.integer):
        return lib.tensor(array.astype(np.int64))
    return lib.tensor(array.astype(np.float64))


def _arrays(out):
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _arrays(o)]
    return [out.detach().numpy()]


def _run(module, inputs, lib):
    with lib.no_grad():
        return _arrays(module(*[_as(a, lib) for a in inputs]))


def _round_trip(ours, inputs):
    theirs = to_torch(ours)
    assert type(theirs).__name__ == type(ours).__name__ or type(ours).__name__.startswith("Lazy")
    assert list(theirs.state_dict()) == list(ours.state_dict())
    for key, value in ours.state_dict().items():
        np.testing.assert_array_equal(theirs.state_dict()[key].numpy(), value.detach().numpy(), err_msg=key)
    expected = _run(ours, inputs, glassgrad)
    for got, want in zip(_run(theirs, inputs, torch), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    back = from_torch(theirs)
    assert type(back).__name__ == type(theirs).__name__ and list(back.state_dict()) == list(ours.state_dict())
    for got, want in zip(_run(back, inputs, glassgrad), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    return theirs, back


@pytest.mark.parametrize("name, make, inputs", LAYERS, ids=[layer[0] for layer in LAYERS])
def test_layer_round_trips_with_equal_outputs(name, make, inputs):
    glassgrad.manual_seed(0)
    ours = make().double().eval()
    _round_trip(ours, _CTC_INPUTS if inputs is None else inputs)


def test_every_shared_layer_is_covered():
    # A layer added to glassgrad.nn that torch also has must join LAYERS (or the transformer tests).
    covered = {layer[0].split("-")[0] for layer in LAYERS}
    covered |= {"Module", "ModuleDict", "ParameterDict", "RNNBase", "RNNCellBase", "MultiheadAttention"}
    covered |= {"RNN", "LSTM", "GRU", "Transformer", "TransformerEncoder", "TransformerDecoder"}
    covered |= {"TransformerEncoderLayer", "TransformerDecoderLayer"}
    shared = {
        name
        for name in dir(nn)
        if isinstance(getattr(nn, name), type)
        and issubclass(getattr(nn, name), nn.Module)
        and isinstance(getattr(torch.nn, name, None), type)
    }
    assert shared - covered == set()


def test_a_lazy_module_before_its_first_call_stays_lazy():
    theirs = to_torch(nn.Sequential(nn.LazyLinear(3), nn.Tanh()))
    fc = theirs[0]
    assert isinstance(fc, torch.nn.LazyLinear) and torch.nn.parameter.is_lazy(fc.weight)
    assert theirs(torch.ones(2, 5)).shape == (2, 3) and type(fc) is torch.nn.Linear and fc.weight.shape == (3, 5)
    back = from_torch(torch.nn.LazyConv2d(4, 3))
    assert isinstance(back, nn.LazyConv2d) and back.has_uninitialized_params()
    assert back(glassgrad.ones(1, 2, 5, 5)).shape == (1, 4, 3, 3) and type(back) is nn.Conv2d


def _masks(lib, batch, s, t):
    pad = np.zeros((batch, s), dtype=bool)
    pad[1, s - 2 :] = True  # the second sequence ends two steps early
    causal = np.triu(np.full((t, t), -np.inf), k=1)
    return lib.tensor(pad), lib.tensor(causal)


# (id, builder, batch_first); dropout and options away from the defaults.
TRANSFORMERS = [
    (
        "Transformer-postnorm",
        lambda: nn.Transformer(8, 2, 2, 1, dim_feedforward=16, dropout=0.3, layer_norm_eps=1e-4),
        False,
    ),
    (
        "Transformer-prenorm-gelu",
        lambda: nn.Transformer(
            8, 4, 1, 2, dim_feedforward=12, activation="gelu", batch_first=True, norm_first=True, bias=False
        ),
        True,
    ),
]


@pytest.mark.parametrize("name, make, batch_first", TRANSFORMERS, ids=[t[0] for t in TRANSFORMERS])
def test_transformer_round_trips_with_masks(name, make, batch_first):
    glassgrad.manual_seed(0)
    ours = make().double().eval()
    theirs = to_torch(ours)
    assert isinstance(theirs, torch.nn.Transformer) and list(theirs.state_dict()) == list(ours.state_dict())
    assert (theirs.encoder.layers[0].linear1.out_features, theirs.encoder.num_layers) == (
        ours.dim_feedforward,
        ours.num_encoder_layers,
    )
    batch, s, t = 2, 5, 3
    src, tgt = (_x(batch, s, 8), _x(batch, t, 8)) if batch_first else (_x(s, batch, 8), _x(t, batch, 8))

    def run(module, lib):
        pad, causal = _masks(lib, batch, s, t)
        with lib.no_grad():
            out = module(
                lib.tensor(src), lib.tensor(tgt), tgt_mask=causal, src_key_padding_mask=pad, memory_key_padding_mask=pad
            )
        return out.numpy()

    expected = run(ours, glassgrad)
    np.testing.assert_allclose(run(theirs, torch), expected, rtol=1e-10, atol=1e-12)
    back = from_torch(theirs)
    assert type(back) is nn.Transformer and list(back.state_dict()) == list(ours.state_dict())
    assert (back.dim_feedforward, back.num_decoder_layers, back.norm_first) == (
        ours.dim_feedforward,
        ours.num_decoder_layers,
        ours.norm_first,
    )
    np.testing.assert_array_equal(run(back, glassgrad), expected)


def test_transformer_stacks_and_layers_round_trip():
    glassgrad.manual_seed(0)
    layer = nn.TransformerEncoderLayer(6, 3, dim_feedforward=10, dropout=0.0, layer_norm_eps=1e-3)
    encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(6)).double().eval()
    decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(6, 2, 8, activation="gelu"), 2).double().eval()
    x, memory = _x(4, 2, 6), _x(5, 2, 6)
    pad = np.array([[False] * 4, [False, False, False, True]])
    for ours, inputs, kwargs in [
        (encoder, [x], {"src_key_padding_mask": pad}),
        (encoder.layers[1], [x], {"src_mask": np.triu(np.full((4, 4), -np.inf), k=1)}),
        (decoder, [x, memory], {"tgt_key_padding_mask": pad}),
        (decoder.layers[0], [x, memory], {}),
    ]:
        theirs = to_torch(ours)
        assert type(theirs).__name__ == type(ours).__name__ and list(theirs.state_dict()) == list(ours.state_dict())
        if isinstance(ours, nn.TransformerEncoder):
            assert isinstance(theirs.norm, torch.nn.LayerNorm)
        # With gradients on, torch takes its reference path (no fused fast path, no nested tensors).
        got = theirs(*[torch.tensor(a) for a in inputs], **{k: torch.tensor(v) for k, v in kwargs.items()})
        with glassgrad.no_grad():
            expected = ours(
                *[glassgrad.tensor(a) for a in inputs], **{k: glassgrad.tensor(v) for k, v in kwargs.items()}
            )
        np.testing.assert_allclose(got.detach().numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)
        back = from_torch(theirs)
        with glassgrad.no_grad():
            again = back(*[glassgrad.tensor(a) for a in inputs], **{k: glassgrad.tensor(v) for k, v in kwargs.items()})
        np.testing.assert_array_equal(again.numpy(), expected.numpy())
    assert from_torch(to_torch(decoder)).layers[0].activation is glassgrad.nn.functional.gelu


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: nn.utils.parametrizations.weight_norm(nn.Linear(4, 3)), (2, 4)),
        (lambda: nn.utils.parametrizations.weight_norm(nn.Conv2d(2, 3, 3), dim=None), (1, 2, 5, 5)),
        (lambda: nn.Sequential(nn.utils.parametrizations.weight_norm(nn.Linear(4, 4), dim=1), nn.Tanh()), (2, 4)),
        (lambda: nn.utils.parametrizations.spectral_norm(nn.Linear(4, 3)), (2, 4)),
        (lambda: nn.utils.parametrizations.spectral_norm(nn.Conv2d(2, 3, 3), n_power_iterations=2), (1, 2, 5, 5)),
    ],
    ids=["Linear", "Conv2d-dimNone", "in-Sequential", "spectral-Linear", "spectral-Conv2d"],
)
def test_parametrizations_round_trip(make, shape):
    glassgrad.manual_seed(0)
    ours = make().double().eval()
    theirs, back = _round_trip(ours, [_x(*shape)])
    parametrized = theirs[0] if isinstance(theirs, torch.nn.Sequential) else theirs
    assert torch.nn.utils.parametrize.is_parametrized(parametrized, "weight")
    step = parametrized.parametrizations.weight
    assert type(step[0]).__name__ == type(_unwrapped(ours).parametrizations.weight[0]).__name__
    # The torch module trains as a parametrized one: gradients reach the originals.
    parametrized.train()
    theirs(torch.tensor(_x(*shape))).sum().backward()
    assert all(p.grad is not None for p in step.parameters())


def test_a_spectral_norm_in_training_mode_keeps_its_vectors():
    glassgrad.manual_seed(0)
    ours = nn.utils.parametrizations.spectral_norm(nn.Linear(4, 3))  # training mode: forwards iterate u, v
    theirs = to_torch(ours)
    for key, value in ours.state_dict().items():
        np.testing.assert_array_equal(theirs.state_dict()[key].numpy(), value.numpy(), err_msg=key)
    x = _x(2, 4).astype(np.float32)
    expected = ours(glassgrad.tensor(x)).detach().numpy()  # one power iteration on each side
    np.testing.assert_allclose(theirs(torch.tensor(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def _unwrapped(module):
    return module[0] if isinstance(module, nn.Sequential) else module


def test_what_cannot_convert_is_named():
    with pytest.raises(TypeError, match=r"^0: Linear holds parameters .*weight_g.* use nn.utils.parametrizations"):
        to_torch(nn.Sequential(nn.utils.weight_norm(nn.Linear(3, 2))))
    with pytest.raises(TypeError, match=r"^parametrizations.weight.0: torch.nn._Orthogonal has no counterpart"):
        from_torch(torch.nn.utils.parametrizations.orthogonal(torch.nn.Linear(3, 3)))
    holder = torch.nn.Module()
    holder.shuffle = torch.nn.ChannelShuffle(2)
    with pytest.raises(TypeError, match=r"^shuffle: torch.nn.ChannelShuffle has no counterpart in glassgrad.nn"):
        from_torch(holder)
