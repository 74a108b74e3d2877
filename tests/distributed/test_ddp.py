import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from glassgrad.nn.sync_batchnorm import SyncBatchNormFunction
from tests.distributed._launch import launch, needs


@pytest.mark.parametrize("backend", ["mpi", "gloo"])
def test_ddp_two_processes_match_one_process_with_sync_batchnorm(backend):
    needs(backend)
    res = launch(backend, "_ddp_script.py", timeout=240)
    out = "".join(r.stdout for r in res)
    assert "OK rank 0" in out and "OK rank 1" in out, out


def test_sync_batchnorm_gradcheck_float64():
    gg.manual_seed(0)
    x = gg.randn(5, 3, 2, 2, dtype=gg.float64, requires_grad=True)
    w = gg.randn(3, dtype=gg.float64, requires_grad=True)
    b = gg.randn(3, dtype=gg.float64, requires_grad=True)
    assert gg.autograd.gradcheck(lambda x, w, b: SyncBatchNormFunction.apply(x, w, b, eps=1e-5, group=False), (x, w, b))


def test_sync_batchnorm_single_process_is_batchnorm():
    torch = pytest.importorskip("torch", reason="parity with torch.nn.BatchNorm2d")
    gg.manual_seed(1)
    bn = nn.BatchNorm2d(3)
    x = np.random.default_rng(0).standard_normal((4, 3, 5, 5)).astype(np.float32)
    out = gg.tensor(x, requires_grad=True)
    y = SyncBatchNormFunction.apply(out, bn.weight, bn.bias, eps=1e-5, group=False)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.batch_norm(tx, None, None, torch.ones(3), torch.zeros(3), training=True)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    y.backward(gg.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(out.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_convert_sync_batchnorm_shares_parameters_and_buffers():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(nn.BatchNorm1d(4)), nn.InstanceNorm2d(2))
    model.eval()
    w, rm = model[1].weight, model[1].running_mean
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert type(conv[1]) is nn.SyncBatchNorm and type(conv[2][0]) is nn.SyncBatchNorm
    assert type(conv[3]) is nn.InstanceNorm2d
    assert conv[1].weight is w and conv[1].running_mean is rm and not conv[1].training
    assert type(nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm2d(3))) is nn.SyncBatchNorm


def test_sync_batchnorm_rejects_wrong_channels():
    with pytest.raises(ValueError, match="num_features=3"):
        nn.SyncBatchNorm(3)(gg.randn(2, 4, 2, 2))


def test_ddp_needs_a_process_group():
    with pytest.raises(RuntimeError, match="init_process_group"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))
