"""The device and runtime idioms of PyTorch programs, answered as a CPU-only PyTorch answers them."""

import pytest

import glassgrad
from glassgrad import nn


def test_accelerator_reports_none_and_refuses_device_calls():
    assert glassgrad.accelerator.is_available() is False
    assert glassgrad.accelerator.current_accelerator() is None
    assert glassgrad.accelerator.device_count() == 0
    for call in (glassgrad.accelerator.current_device_index, glassgrad.accelerator.synchronize):
        with pytest.raises(RuntimeError, match="none is available"):
            call()
    with pytest.raises(RuntimeError, match="none is available"):
        glassgrad.accelerator.set_device_index(0)


def test_cuda_answers_quietly_where_pytorch_does_and_raises_where_a_gpu_is_needed():
    assert glassgrad.cuda.is_available() is False and glassgrad.cuda.device_count() == 0
    glassgrad.cuda.manual_seed_all(0)
    glassgrad.cuda.empty_cache()
    for name in ("set_device", "current_device", "get_device_name", "synchronize"):
        with pytest.raises(RuntimeError, match=f"cuda.{name}.*CPU"):
            getattr(glassgrad.cuda, name)(0) if name in ("set_device", "get_device_name") else getattr(
                glassgrad.cuda, name
            )()


def test_runtime_switches_are_recorded():
    assert glassgrad.get_float32_matmul_precision() == "highest"
    glassgrad.set_float32_matmul_precision("high")
    try:
        assert glassgrad.get_float32_matmul_precision() == "high"
    finally:
        glassgrad.set_float32_matmul_precision("highest")
    with pytest.raises(ValueError, match="'fastest'"):
        glassgrad.set_float32_matmul_precision("fastest")
    glassgrad.use_deterministic_algorithms(True, warn_only=True)
    try:
        assert glassgrad.are_deterministic_algorithms_enabled()
        assert glassgrad.is_deterministic_algorithms_warn_only_enabled()
    finally:
        glassgrad.use_deterministic_algorithms(False)
    assert not glassgrad.are_deterministic_algorithms_enabled()


def test_compile_and_jit_accept_pytorchs_arguments():
    model = nn.Linear(3, 2)
    assert glassgrad.compile(model, disable=True) is model
    compiled = glassgrad.compile(mode="max-autotune", backend="inductor")(model)
    assert compiled._orig_mod is model

    @glassgrad.compile
    def f(x):
        return x * 2

    assert f(glassgrad.ones(2)).tolist() == [2.0, 2.0]
    assert glassgrad.jit.script(model) is model
    assert glassgrad.jit.trace(model, glassgrad.ones(1, 3)) is model


def test_pytorch_gives_the_same_answers():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests skipped")
    if torch.cuda.is_available():
        pytest.skip("this PyTorch sees a GPU; the comparison is with a CPU-only PyTorch")
    assert torch.accelerator.is_available() == glassgrad.accelerator.is_available()
    assert torch.accelerator.current_accelerator() == glassgrad.accelerator.current_accelerator()
    assert torch.accelerator.device_count() == glassgrad.accelerator.device_count()
    assert torch.cuda.device_count() == glassgrad.cuda.device_count()
    assert torch.get_float32_matmul_precision() == glassgrad.get_float32_matmul_precision()
    assert torch.are_deterministic_algorithms_enabled() == glassgrad.are_deterministic_algorithms_enabled()


def test_backends_answer_like_a_cpu_only_pytorch():
    from glassgrad import backends

    assert backends.cudnn.is_available() is False and backends.mps.is_available() is False
    assert backends.mps.is_built() is False and backends.cuda.is_built() is False
    backends.cudnn.benchmark, backends.cudnn.deterministic = True, True
    try:
        assert backends.cudnn.benchmark and backends.cudnn.deterministic
    finally:
        backends.cudnn.benchmark, backends.cudnn.deterministic = False, False
    torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests skipped")
    if torch.cuda.is_available():
        pytest.skip("this PyTorch sees a GPU")
    assert torch.backends.cudnn.is_available() == backends.cudnn.is_available()
    assert torch.backends.mps.is_available() == backends.mps.is_available()
    assert torch.backends.cudnn.benchmark == backends.cudnn.benchmark
