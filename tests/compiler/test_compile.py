"""glassgrad.compile: replayed calls give eager mode's numbers, and fall back where they could not."""

import copy

import numpy as np
import pytest

import glassgrad
import glassgrad.nn.functional as F
from glassgrad import nn
from glassgrad.compiler import GraphBreak, fusion
from glassgrad.vision.models.cifar_resnet import CifarBasicBlock

TOL = {np.float32: 1e-6, np.float64: 1e-12}


def _close(a, b, dt):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=TOL[dt], atol=TOL[dt])


def _stats(compiled):
    return dict(compiled._compiled.stats)


def _train_twins(make, x_shape, steps=4, dtype=np.float32, seed=0, target=None):
    """Train an eager model and a compiled copy side by side; every output, gradient, parameter and
    buffer must agree after each step. Returns the compiled model."""
    glassgrad.manual_seed(seed)
    eager = make()
    if dtype == np.float64:
        eager = eager.double()
    twin = copy.deepcopy(eager)
    compiled = glassgrad.compile(twin)
    opts = [glassgrad.optim.SGD(m.parameters(), lr=0.05, momentum=0.9) for m in (eager, twin)]
    rng = np.random.default_rng(seed)
    for step in range(steps):
        x = glassgrad.tensor(rng.standard_normal(x_shape).astype(dtype))
        outs = []
        for model, opt in ((eager, opts[0]), (compiled, opts[1])):
            glassgrad.manual_seed(100 + step)  # dropout draws the same masks in both
            opt.zero_grad()
            out = model(x)
            loss = (out * out).mean() if target is None else F.cross_entropy(out, target)
            loss.backward()
            outs.append(out.detach().numpy().copy())
        _close(outs[1], outs[0], dtype)
        for p, q in zip(eager.parameters(), twin.parameters()):
            _close(q.grad.numpy(), p.grad.numpy(), dtype)
        for opt in opts:
            opt.step()
        for p, q in zip(eager.parameters(), twin.parameters()):
            _close(q.detach().numpy(), p.detach().numpy(), dtype)
        for a, b in zip(eager.buffers(), twin.buffers()):
            _close(b.numpy(), a.numpy(), dtype)
    return compiled


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_training_matches_eager(dtype):
    compiled = _train_twins(
        lambda: nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 5)),
        (8, 12),
        dtype=dtype,
        target=glassgrad.tensor(np.arange(8) % 5),
    )
    assert _stats(compiled) == {"recorded": 1, "replayed": 3}


def _small_cnn():
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 2 * 2, 4),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_cnn_with_batch_norm_in_training_matches_eager(dtype):
    compiled = _train_twins(_small_cnn, (4, 3, 8, 8), dtype=dtype)
    assert _stats(compiled) == {"recorded": 1, "replayed": 3}
    # The running statistics and the batch counter moved as in eager mode (compared in _train_twins).
    assert int(compiled._orig_mod[1].num_batches_tracked.item()) == 4


def test_small_cnn_in_eval_mode_matches_eager():
    glassgrad.manual_seed(1)
    model = _small_cnn()
    model.train()(glassgrad.randn(4, 3, 8, 8))  # running statistics away from their start
    model.eval()
    compiled = glassgrad.compile(copy.deepcopy(model))
    x = glassgrad.randn(2, 3, 8, 8)
    for _ in range(3):
        _close(compiled(x).detach().numpy(), model(x).detach().numpy(), np.float32)
        with glassgrad.no_grad():
            _close(compiled(x).numpy(), model(x).numpy(), np.float32)
    assert _stats(compiled) == {"recorded": 2, "replayed": 4}


@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_resnet_block_matches_eager(shortcut):
    compiled = _train_twins(lambda: CifarBasicBlock(4, 8, stride=2, shortcut=shortcut), (2, 4, 8, 8), steps=3)
    assert _stats(compiled)["replayed"] == 2
    compiled = _train_twins(lambda: CifarBasicBlock(4, 4), (2, 4, 6, 6), steps=3, dtype=np.float64)
    assert _stats(compiled)["replayed"] == 2


def test_dropout_with_the_same_seed_matches_eager():
    compiled = _train_twins(
        lambda: nn.Sequential(nn.Linear(10, 20), nn.Dropout(0.4), nn.ReLU(), nn.Dropout(0.2), nn.Linear(20, 3)),
        (6, 10),
    )
    assert _stats(compiled) == {"recorded": 1, "replayed": 3}
    glassgrad.manual_seed(7)
    x = glassgrad.randn(6, 10)
    first, second = compiled(x).detach().numpy(), compiled(x).detach().numpy()
    assert not np.array_equal(first, second)  # a new mask each call, not the recorded one


def test_gradient_reaches_an_input_and_an_outside_tensor():
    w = glassgrad.randn(4, 3, requires_grad=True)

    @glassgrad.compile
    def f(x):
        return (x @ w).sigmoid().sum()

    for _ in range(3):
        x = glassgrad.randn(5, 4, requires_grad=True)
        f(x).backward()
        gx, gw = x.grad.numpy().copy(), w.grad.numpy().copy()
        w.grad = None
        x2 = x.detach().requires_grad_()
        (x2 @ w).sigmoid().sum().backward()
        _close(gx, x2.grad.numpy(), np.float32)
        _close(gw, w.grad.numpy(), np.float32)
        w.grad = None
    assert _stats(f) == {"recorded": 1, "replayed": 2}


def test_two_forwards_then_one_backward_and_retain_graph():
    model = nn.Linear(3, 2)
    compiled = glassgrad.compile(model)
    x = glassgrad.randn(4, 3)
    compiled(x)  # recorded
    a, b = compiled(x), compiled(x * 2)
    (a.sum() + b.sum()).backward()
    got = model.weight.grad.numpy().copy()
    model.zero_grad()
    (model(x).sum() + model(x * 2).sum()).backward()
    _close(got, model.weight.grad.numpy(), np.float32)

    model.zero_grad()
    out = compiled(x).sum()
    out.backward(retain_graph=True)
    out.backward()
    _close(model.weight.grad.numpy(), _twice(model, x), np.float32)
    with pytest.raises(RuntimeError, match="second time"):
        out.backward()


def _twice(model, x):
    w = model.weight.detach().requires_grad_()
    (x @ w.T).sum().backward()
    return 2 * w.grad.numpy()


def test_a_new_shape_records_again_and_the_cache_is_small():
    model = nn.Linear(3, 2)
    compiled = glassgrad.compile(model)
    for n in (1, 2, 1, 2):
        with glassgrad.no_grad():
            _close(compiled(glassgrad.ones(n, 3)).numpy(), model(glassgrad.ones(n, 3)).numpy(), np.float32)
    assert _stats(compiled) == {"recorded": 2, "replayed": 2}
    for n in range(3, 15):
        with glassgrad.no_grad():
            compiled(glassgrad.ones(n, 3))
    assert len(compiled._compiled.cache) == glassgrad.compiler.CACHE_SIZE


def test_value_dependent_control_flow_runs_eagerly():
    calls = []

    def f(x):
        calls.append(1)
        return x * 2 if x.sum().item() > 0 else x * -3

    compiled = glassgrad.compile(f)
    for sign in (1, -1, 1):
        x = glassgrad.ones(3) * sign
        np.testing.assert_array_equal(compiled(x).numpy(), f(x).numpy())
    assert _stats(compiled) == {"recorded": 1, "eager": 2}
    with pytest.raises(GraphBreak, match=r"\.item\(\)"):
        glassgrad.compile(f, fullgraph=True)(glassgrad.ones(3))


def test_random_numbers_outside_dropout_run_eagerly():
    compiled = glassgrad.compile(lambda x: x + glassgrad.randn(3))
    x = glassgrad.zeros(3)
    values = [compiled(x).numpy().copy() for _ in range(3)]
    assert not np.array_equal(values[1], values[2])
    assert _stats(compiled) == {"recorded": 1, "eager": 2}


def test_hooks_structure_flags_and_frozen_parameters_are_respected():
    glassgrad.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    compiled = glassgrad.compile(model)
    x = glassgrad.randn(2, 3)
    compiled(x), compiled(x)
    seen = []
    handle = model[2].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    compiled(x)
    assert seen == [(2, 2)] and _stats(compiled)["eager"] == 1
    handle.remove()
    model[2] = nn.Linear(4, 2)  # a new layer: recorded again, with its weights
    _close(compiled(x).detach().numpy(), model(x).detach().numpy(), np.float32)
    model[0].weight.requires_grad_(False)
    compiled(x).sum().backward()
    assert model[0].weight.grad is None and model[0].bias.grad is not None
    assert compiled.state_dict().keys() == {f"_orig_mod.{k}" for k in model.state_dict()}
    assert list(compiled.parameters()) == list(model.parameters())


def test_elementwise_chain_is_fused_with_the_same_numbers():
    def f(x, y):
        return F.relu(x + y) * 0.5 - y

    compiled = glassgrad.compile(f)
    x, y = glassgrad.randn(4, 5), glassgrad.randn(4, 5)
    with glassgrad.no_grad():
        compiled(x, y)
        out = compiled(x, y).numpy()
    graph = next(iter(compiled._compiled.cache.values()))
    assert len(graph.groups) == 1 and len(next(iter(graph.groups.values())).members) == 4
    np.testing.assert_array_equal(out, f(x, y).numpy())
    group = next(iter(graph.groups.values()))
    group.compiled = False  # the in-place NumPy chain, as without numba
    np.testing.assert_array_equal(group(x.numpy(), y.numpy()), out)
    assert fusion.OPS  # the table the chains are built from


def test_disable_and_decorator_forms():
    model = nn.Linear(2, 2)
    assert glassgrad.compile(model, disable=True) is model
    assert glassgrad.compile(mode="reduce-overhead", backend="inductor", dynamic=False)(model)._orig_mod is model

    @glassgrad.compile(fullgraph=True)
    def double(x):
        return x * 2

    assert double(glassgrad.ones(2)).tolist() == [2.0, 2.0]
    with pytest.raises(TypeError, match="Module or a callable"):
        glassgrad.compile(3)


def test_constants_written_in_place_and_detached_tensors():
    def f(x):
        h = glassgrad.zeros(3)  # a constant of the recording, written in place: copied at each call
        h += x
        return h * x.detach() + x

    compiled = glassgrad.compile(f)
    for k in range(3):
        x = glassgrad.full((3,), float(k + 1), requires_grad=True)
        out = compiled(x)
        out.sum().backward()
        x2 = x.detach().requires_grad_()
        f(x2).sum().backward()
        np.testing.assert_array_equal(out.detach().numpy(), f(x.detach()).numpy())
        np.testing.assert_array_equal(x.grad.numpy(), x2.grad.numpy())
    assert compiled.compile_stats == {"recorded": 1, "replayed": 2}


def test_resnet_block_inference_fuses_the_residual_add_and_relu():
    glassgrad.manual_seed(4)
    block = CifarBasicBlock(4, 4).eval()
    compiled = glassgrad.compile(block)
    x = glassgrad.randn(1, 4, 6, 6)
    with glassgrad.no_grad():
        compiled(x)
        out = compiled(x).numpy()
        expected = block(x).numpy()
    graph = next(iter(compiled._compiled.cache.values()))
    chains = [[graph.tape[i].cls.__name__ for i in g.members] for g in graph.groups.values()]
    assert chains == [["Add", "ReLU"]]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("use", ["all", "output only", "state only"])
def test_lstm_with_several_outputs_needing_gradients(use):
    glassgrad.manual_seed(5)
    eager = nn.LSTM(3, 4, batch_first=True).double()
    twin = copy.deepcopy(eager)
    compiled = glassgrad.compile(twin)

    def loss(result):
        out, (h, c) = result
        terms = {"all": [out.sum(), (h * h).sum(), c.mean()], "output only": [out.sum()], "state only": [h.sum()]}
        return sum(terms[use][1:], terms[use][0])

    for _ in range(3):
        x = glassgrad.randn(2, 5, 3).double().requires_grad_()
        x2 = x.detach().requires_grad_()
        loss(compiled(x)).backward()
        loss(eager(x2)).backward()
        _close(x.grad.numpy(), x2.grad.numpy(), np.float64)
        for p, q in zip(eager.parameters(), twin.parameters()):
            _close(q.grad.numpy(), p.grad.numpy(), np.float64)
            p.grad = q.grad = None
    assert compiled.compile_stats == {"recorded": 1, "replayed": 2}


def test_self_attention_passes_the_same_tensor_three_times():
    glassgrad.manual_seed(6)
    eager = nn.MultiheadAttention(8, 2, batch_first=True)
    twin = copy.deepcopy(eager)
    compiled = glassgrad.compile(twin)
    x, y = glassgrad.randn(2, 3, 8), glassgrad.randn(2, 3, 8)
    for q, k in ((x, x), (x, x), (x, y), (x, y)):  # self- and cross-attention: two signatures
        out, _ = compiled(q, k, k)
        expected, _ = eager(q, k, k)
        out.sum().backward()
        expected.sum().backward()
        _close(out.detach().numpy(), expected.detach().numpy(), np.float32)
        for p, r in zip(eager.parameters(), twin.parameters()):
            _close(r.grad.numpy(), p.grad.numpy(), np.float32)
    assert compiled.compile_stats == {"recorded": 2, "replayed": 2}


@pytest.mark.parametrize("name", ["simple_cnn", "lenet5", "nin", "cifar_googlenet", "cifar_densenet121"])
def test_zoo_models_train_and_infer_as_eager_in_float64(name):
    from glassgrad.vision import models

    glassgrad.manual_seed(0)
    eager = models.get_model(name, num_classes=5, in_channels=3, input_size=32).double()
    twin = copy.deepcopy(eager)
    compiled = glassgrad.compile(twin)
    x = glassgrad.randn(2, 3, 32, 32).double()
    for step in range(2):
        outs = []
        for model in (eager, compiled):
            glassgrad.manual_seed(step)
            out = model(x)
            (out * out).sum().backward()
            outs.append(out.detach().numpy())
        _close(outs[1], outs[0], np.float64)
        for p, q in zip(eager.parameters(), twin.parameters()):
            _close(q.grad.numpy(), p.grad.numpy(), np.float64)
            p.grad = q.grad = None
    eager.eval(), twin.eval()
    with glassgrad.no_grad():
        _close(compiled(x).numpy(), eager(x).numpy(), np.float64)
        _close(compiled(x).numpy(), eager(x).numpy(), np.float64)
    assert compiled.compile_stats == {"recorded": 2, "replayed": 2}


def test_the_recorded_calls_activations_are_not_kept():
    import gc
    import weakref

    seen = []

    def f(x):
        hidden = (x * 2).relu()
        seen.append(weakref.ref(hidden))
        return hidden.sum()

    compiled = glassgrad.compile(f)
    out = compiled(glassgrad.randn(1000))
    assert compiled.compile_stats == {"recorded": 1}
    del out
    gc.collect()
    assert seen[0]() is None  # the cached graph holds slots and kernels, not the first call's tensors


def test_a_tracer_watching_the_ops_sees_them_through_a_compiled_module():
    from glassgrad.autograd.function import observe_ops

    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    compiled = glassgrad.compile(model)
    x = glassgrad.randn(2, 3)
    compiled(x), compiled(x)
    seen = []
    with observe_ops(lambda cls, inputs, options, result: seen.append(cls.__name__)):
        compiled(x)
    assert seen and "ReLU" in seen  # run eagerly, so ONNX export of a compiled model traces its ops
