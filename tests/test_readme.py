"""Every Python snippet of README.md runs as written (each in a fresh process, in a temporary folder).

A snippet that is a fragment (it needs the reader's own objects) is listed in FRAGMENTS with the
reason, keyed by a line it contains, so a new snippet without an entry must run.
"""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")

FRAGMENTS = {
    "model.load_state_dict(torch_model.state_dict())": "needs the reader's PyTorch model and a partial state dict",
    "optimizer = glassgrad.optim.AdamW(model.parameters(), lr=1e-3)": "needs the reader's model and epoch counter",
}


def python_blocks(text):
    """(line number, code) of every ```python block; a <!-- no-run --> line just before skips one."""
    blocks = []
    for match in re.finditer(r"^( *)```python\n(.*?)^\1```", text, flags=re.S | re.M):
        before = text[: match.start()].rstrip().splitlines()[-1:] or [""]
        if before[0].strip() == "<!-- no-run -->":
            continue
        indent = len(match.group(1))
        code = "\n".join(line[indent:] for line in match.group(2).splitlines())
        blocks.append((text.count("\n", 0, match.start()) + 1, code))
    return blocks


with open(README, encoding="utf-8") as _f:
    BLOCKS = python_blocks(_f.read())


def test_the_readme_has_snippets():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("line, code", BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_readme_python_snippet_runs(tmp_path, line, code):
    for marker, reason in FRAGMENTS.items():
        if marker in code:
            pytest.skip(f"README.md:{line} is a fragment: {reason}")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), MPLBACKEND="Agg")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, f"README.md:{line} failed:\n{out.stderr[-3000:]}"


def test_every_fragment_entry_is_still_in_the_readme():
    codes = [code for _, code in BLOCKS]
    for marker in FRAGMENTS:
        assert any(marker in code for code in codes), f"FRAGMENTS entry {marker!r} matches no README snippet"


# Every shell command of README.md, as written (comments stripped), and what the test runs for it:
# "run" (as written), another command (the same command with a small budget), or SKIP + reason.
SKIP = "skip"
_INSTALLED = "the test runs from an installed or PYTHONPATH checkout already"
_MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")
_DATA = "needs the real datasets ($GLASSGRAD_DATA); tests/vision and tests/cli cover the readers"
COMMANDS = {
    "pip install . && glassgrad train": "glassgrad train --epochs 1 --limit 200 --out runs/quick",
    "pip install '.[test]' && python -m pytest -q -n 2": (SKIP, "this is the test suite itself"),
    "glassgrad train": "glassgrad train --epochs 1 --limit 200 --out runs/quick2",
    "glassgrad train --model lenet5 --epochs 3 --limit 500 --out runs/lenet": (
        "glassgrad train --model lenet5 --epochs 1 --limit 200 --out runs/lenet"
    ),
    "glassgrad train --resume runs/lenet/checkpoint.pt --epochs 5": (
        "glassgrad train --resume runs/lenet/checkpoint.pt --epochs 2"
    ),
    "export GLASSGRAD_DATA=/path/to/datasets": (SKIP, "a placeholder path for the reader's datasets"),
    "glassgrad train --dataset fashion-mnist --model simple_cnn --epochs 2": (SKIP, _DATA),
    "glassgrad train --dataset cifar10 --model resnet20 --optimizer sgd --lr 0.1 --schedule cosine --augment "
    "--epochs 30": (SKIP, _DATA),
    "glassgrad train --model lenet5 --epochs 3 --out runs/lenet --overwrite": (
        "glassgrad train --model lenet5 --epochs 1 --limit 200 --out runs/lenet --overwrite"
    ),
    "glassgrad eval runs/lenet/checkpoint.pt": "run",
    "python -c \"from glassgrad.vision.datasets import Digits; Digits(train=False)[0][0].save('digit.png')\"": "run",
    "glassgrad predict runs/lenet/checkpoint.pt digit.png --top 3": "run",
    "glassgrad run train.py --epochs 1": (SKIP, "the reader's own PyTorch program; tests/compat/test_run.py runs one"),
    "glassgrad run --list torch.nn.modules.utils": "run",
    "glassgrad models": "run",
    "pip install tensorboard": (SKIP, _INSTALLED),
    "pip install onnx onnxruntime": (SKIP, _INSTALLED),
    "glassgrad train --model resnet20 --epochs 1 --limit 200 --out runs/onnx": "run",
    "glassgrad export runs/onnx/checkpoint.pt --format onnx": "run",
    "glassgrad train --model lenet5 --epochs 1 --limit 200 --tensorboard --out runs/tb": "run",
    "tensorboard --logdir runs/tb/tensorboard": (SKIP, "starts TensorBoard's web server, which runs until stopped"),
    "glassgrad summary resnet20": "run",
    "glassgrad summary lenet5 --input-size 1 28 28": "run",
    "glassgrad summary resnet50": "run",
    "GLASSGRAD_DATA=/path/to/datasets glassgrad lineage --dataset fashion-mnist --epochs 1 --limit 2000": (SKIP, _DATA),
    "glassgrad lineage --dataset digits --models lenet5,simple_cnn,resnet20 --epochs 3": (
        "glassgrad lineage --dataset digits --models lenet5,simple_cnn --epochs 1 --limit 200"
    ),
    'glassgrad explain "(a*x + b*y) * (c*z)" --set a=2 b=5 c=1 x=1 y=2 z=1 --target 15 --out explain': "run",
    "glassgrad lesson gradient-descent --steps 20": "run",
    "glassgrad lesson numerical-gradient": "run",
    "glassgrad lesson backprop": "run",
    "glassgrad lesson xor --epochs 300": "run",
    "glassgrad lesson convolution": "run",
    "glassgrad lesson sigmoid-cnn --dataset digits --limit 600 --epochs 2": (
        "glassgrad lesson sigmoid-cnn --dataset digits --limit 200 --epochs 1"
    ),
    "GLASSGRAD_DATA=/work/shared/datasets glassgrad lesson sigmoid-cnn --limit 5000 --epochs 3": (SKIP, _DATA),
    "python examples/xor.py --epochs 300 --out lesson-xor": f"python {ROOT}/examples/xor.py --epochs 300 --out lesson-xor",
    "glassgrad train --activation sigmoid --batch-norm off --optimizer sgd --lr 0.01 --momentum 0 --weight-decay 0 "
    "--schedule none --epochs 2 --limit 320 --doctor --out runs/sigmoid": "run",
    "pip install -e '.[fast]'": (SKIP, _INSTALLED),
    "glassgrad bench": (SKIP, "minutes of benchmarks; the one below runs with a small budget"),
    "glassgrad bench --only train,memory --reps 20 --json bench.json": (
        "glassgrad bench --only train --reps 1 --json bench.json"
    ),
    "GLASSGRAD_DATA=/path/to/datasets glassgrad bench --only data": (SKIP, _DATA),
    # Distributed training (tests/distributed and tests/cli/test_train_distributed.py cover the same code).
    "glassgrad train --nproc 2 --epochs 2 --out runs/ddp": "glassgrad train --nproc 2 --epochs 1 --limit 200 --out runs/ddp",
    "mpirun -n 2 glassgrad train --epochs 2 --out runs/ddp-mpi": (
        f"{_MPIEXEC} -n 2 glassgrad train --epochs 1 --limit 200 --out runs/ddp-mpi"
        if os.path.exists(_MPIEXEC)
        else (SKIP, "no mpiexec beside Python: pip install 'glassgrad[mpi]'")
    ),
    "torchrun --nproc-per-node 2 --no-python glassgrad train --epochs 2 --out runs/ddp-torchrun": (
        f"{sys.executable} -m torch.distributed.run --nproc-per-node 2 --no-python glassgrad train --epochs 1 "
        "--limit 200 --out runs/ddp-torchrun"
    ),
    "srun glassgrad train --backend mpi --dataset cifar10 --model resnet20 --epochs 30": (
        SKIP,
        "needs a Slurm cluster",
    ),
}


def shell_commands(text):
    """Every command line of the ```bash blocks, continuation lines joined, comments stripped."""
    commands = []
    for match in re.finditer(r"^( *)```bash\n(.*?)^\1```", text, flags=re.S | re.M):
        body = re.sub(r"\\\n\s*", " ", match.group(2))
        for line in body.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(" ".join(line.split()))
    return commands


with open(README, encoding="utf-8") as _f:
    SHELL = shell_commands(_f.read())


def test_every_readme_command_has_an_entry():
    missing = [c for c in SHELL if c not in COMMANDS]
    assert not missing, f"README commands without an entry in tests/test_readme.py COMMANDS: {missing}"
    stale = [c for c in COMMANDS if c not in SHELL]
    assert not stale, f"COMMANDS entries no longer in README.md: {stale}"


def test_readme_commands_run_in_order(tmp_path):
    """The README's commands, in its order, in one folder (later ones use what earlier ones wrote)."""
    if os.environ.get("GLASSGRAD_README_COMMANDS", "1") == "0":
        pytest.skip("GLASSGRAD_README_COMMANDS=0")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "glassgrad"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m glassgrad "$@"\n')
    shim.chmod(0o755)
    python = bin_dir / "python"  # a script, not a symlink: a venv's python finds its packages by its path
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), MPLBACKEND="Agg")
    env["PATH"] = str(bin_dir) + os.pathsep + env.get("PATH", "")
    work = tmp_path / "work"
    work.mkdir()
    for command in SHELL:
        action = COMMANDS[command]
        if isinstance(action, tuple):
            continue
        line = command if action == "run" else action
        out = subprocess.run(line, shell=True, cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, f"README command {command!r} (run as {line!r}) failed:\n{out.stderr[-3000:]}"
