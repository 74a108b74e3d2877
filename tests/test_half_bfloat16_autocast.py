"""float16 through factories, casts, arithmetic and autograd; bfloat16 as a name with a clear error;
autocast as a tracked context that computes in the inputs' dtype."""

import numpy as np
import pytest

import glassgrad

torch = pytest.importorskip("torch", reason="PyTorch is the oracle for float16 arithmetic")


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.zeros(2, 3, dtype=m.float16),
        lambda m: m.ones(2, 3, dtype=m.half),
        lambda m: m.full((2, 3), 1.5, dtype=m.float16),
        lambda m: m.arange(6, dtype=m.float16).reshape(2, 3),
        lambda m: m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).half(),
        lambda m: m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).to(m.float16),
        lambda m: m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).to(dtype=m.half),
    ],
)
def test_float16_factories_and_casts(make):
    mine, theirs = make(glassgrad), make(torch)
    assert mine.dtype == glassgrad.float16 and theirs.dtype == torch.float16
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_float16_arithmetic_and_autograd_match_pytorch():
    data = np.random.default_rng(0).standard_normal((3, 3)).astype(np.float16)
    a, ta = glassgrad.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, tout = ((a * 2 + 1) / 3).exp().sum(), ((ta * 2 + 1) / 3).exp().sum()
    assert out.dtype == glassgrad.float16
    np.testing.assert_allclose(out.item(), tout.item(), rtol=2e-3)
    out.backward()
    tout.backward()
    assert a.grad.dtype == glassgrad.float16
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=2e-3, atol=1e-3)
    assert (a.detach() + glassgrad.ones(3, 3)).dtype == glassgrad.float32  # promotion, as in PyTorch


def test_bfloat16_exists_and_says_what_to_do():
    assert repr(glassgrad.bfloat16) == "glassgrad.bfloat16" and glassgrad.bfloat16.is_floating_point
    assert glassgrad.bfloat16 != glassgrad.float32 and glassgrad.float16 != glassgrad.bfloat16
    dtype = glassgrad.bfloat16 if False else glassgrad.float32  # programs that only name it run
    assert glassgrad.zeros(1, dtype=dtype).dtype == glassgrad.float32
    x = glassgrad.ones(2)
    for make in (
        lambda: glassgrad.zeros(2, dtype=glassgrad.bfloat16),
        lambda: glassgrad.tensor([1.0], dtype=glassgrad.bfloat16),
        lambda: x.to(glassgrad.bfloat16),
        lambda: x.bfloat16(),
        lambda: glassgrad.nn.Linear(2, 2).to(glassgrad.bfloat16),
    ):
        with pytest.raises(TypeError, match="NumPy has no bfloat16 .* use glassgrad.float32"):
            make()


def test_bfloat16_finfo_is_pytorchs():
    mine, theirs = glassgrad.finfo(glassgrad.bfloat16), torch.finfo(torch.bfloat16)
    for name in ("bits", "eps", "max", "min", "tiny", "resolution"):
        assert getattr(mine, name) == getattr(theirs, name), name


def test_autocast_is_tracked_and_computes_in_float32():
    a, b = glassgrad.randn(2, 3), glassgrad.randn(3, 2)
    assert not glassgrad.is_autocast_enabled("cpu")
    with glassgrad.autocast(device_type="cpu", dtype=glassgrad.bfloat16):
        assert glassgrad.is_autocast_enabled("cpu") and glassgrad.get_autocast_dtype("cpu") == glassgrad.bfloat16
        out = a @ b
        with glassgrad.autocast("cpu", enabled=False):
            assert not glassgrad.is_autocast_enabled("cpu")
        assert glassgrad.is_autocast_enabled("cpu")
    assert not glassgrad.is_autocast_enabled("cpu")
    assert out.dtype == glassgrad.float32
    np.testing.assert_array_equal(out.numpy(), (a @ b).numpy())

    @glassgrad.autocast("cpu")
    def forward():
        return glassgrad.is_autocast_enabled("cpu")

    assert forward() and not glassgrad.is_autocast_enabled("cpu")


def test_autocast_warnings_as_pytorch():
    with pytest.warns(UserWarning, match="Disabling autocast"):
        with glassgrad.autocast("cuda"):
            assert not glassgrad.is_autocast_enabled("cuda")
    with pytest.warns(UserWarning, match="CPU Autocast only supports dtypes of torch.bfloat16, torch.float16"):
        glassgrad.autocast("cpu", dtype=glassgrad.float64)
    with pytest.raises(RuntimeError, match="unknown device type 'tpu'"):
        glassgrad.autocast("tpu")


def test_grad_scaler_follows_pytorchs_trajectory():
    data = np.array([1.0, -2.0, 0.5])
    mine_p, their_p = glassgrad.nn.Parameter(glassgrad.tensor(data)), torch.nn.Parameter(torch.tensor(data))
    mine_opt, their_opt = glassgrad.optim.SGD([mine_p], lr=0.1), torch.optim.SGD([their_p], lr=0.1)
    mine = glassgrad.amp.GradScaler("cpu", init_scale=8.0, growth_interval=2)
    theirs = torch.amp.GradScaler("cpu", init_scale=8.0, growth_interval=2)
    for step in range(6):
        for p, opt, scaler, lib in ((mine_p, mine_opt, mine, glassgrad), (their_p, their_opt, theirs, torch)):
            opt.zero_grad()
            loss = (p * p).sum() * (lib.tensor(float("inf")) if step == 3 else 1.0)  # step 3 overflows: skipped
            scaler.scale(loss).backward()
            if step == 1:
                scaler.unscale_(opt)  # e.g. to clip; step() must not unscale again
            scaler.step(opt)
            scaler.update()
        assert mine.get_scale() == theirs.get_scale(), step
        np.testing.assert_allclose(mine_p.detach().numpy(), their_p.detach().numpy(), rtol=1e-12)
    assert mine.state_dict() == {k: (v.item() if hasattr(v, "item") else v) for k, v in theirs.state_dict().items()}
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        mine_opt.zero_grad()
        mine.scale((mine_p * mine_p).sum()).backward()
        mine.unscale_(mine_opt)
        mine.unscale_(mine_opt)


def test_cuda_amp_spellings_disable_themselves():
    from glassgrad import cuda_amp

    with pytest.warns(UserWarning, match="Disabling"):
        scaler = cuda_amp.GradScaler()
    with pytest.warns(UserWarning, match="Disabling autocast"):
        with cuda_amp.autocast():
            assert not glassgrad.is_autocast_enabled("cuda")
    p = glassgrad.nn.Parameter(glassgrad.ones(2))
    loss = (p * p).sum()
    assert scaler.scale(loss) is loss and scaler.get_scale() == 1.0 and scaler.state_dict() == {}
    loss.backward()
    opt = glassgrad.optim.SGD([p], lr=0.5)
    scaler.step(opt)
    scaler.update()
    assert p.tolist() == [0.0, 0.0]
