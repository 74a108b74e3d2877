"""A PyTorch program's mixed-precision imports resolve under ``glassgrad run``, and run in float32."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = """
import warnings
warnings.simplefilter("ignore")
import torch
from torch.cuda.amp import GradScaler, autocast
from torch.utils.checkpoint import checkpoint
from torch.distributions import Normal
import torch.special

use_amp = torch.cuda.is_available()
scaler = GradScaler(enabled=use_amp)
model = torch.nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(16, 3), torch.randn(16, 1)
losses = []
for _ in range(20):
    opt.zero_grad()
    with autocast(enabled=use_amp), torch.autocast("cpu", dtype=torch.bfloat16):
        loss = torch.nn.functional.mse_loss(checkpoint(model, x, use_reentrant=False), y)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    losses.append(loss.item())
print(loss.dtype, losses[-1] < losses[0], Normal(0.0, 1.0).cdf(torch.tensor(0.0)).item(), torch.special.ndtr(torch.tensor(0.0)).item())
"""


def test_amp_checkpoint_distributions_program(tmp_path):
    (tmp_path / "amp.py").write_text(PROGRAM)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "glassgrad", "run", "amp.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["glassgrad.float32", "True", "0.5", "0.5"]
