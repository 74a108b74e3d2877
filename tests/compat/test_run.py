"""``glassgrad run``: unmodified PyTorch programs, in a subprocess each (the real torch may be loaded here)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

HELPER = """
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.utils import _pair


class Net(nn.Module):
    def __init__(self, kernel=3):
        super().__init__()
        self.kernel = _pair(kernel)
        self.conv = nn.Conv2d(1, 4, self.kernel, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        return self.fc(torch.flatten(x, 1))


import torch  # noqa: E402  (a module-level global the forward reads, as many programs do)
"""

MAIN = """
import argparse
import sys

import torch
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset
from torchvision import transforms

from model import Net


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1)
    args = parser.parse_args()
    assert sys.argv[1:] == ["--steps", str(args.steps)], sys.argv
    torch.manual_seed(0)
    norm = transforms.Normalize((0.5,), (0.25,))
    images = norm(torch.rand(64, 1, 16, 16))
    labels = torch.randint(0, 10, (64,))
    loader = DataLoader(TensorDataset(images, labels), batch_size=64)
    model = Net()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    sched = StepLR(opt, step_size=10)
    losses = []
    for _ in range(args.steps):
        for x, y in loader:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sched.step()
    print("first", losses[0], "last", losses[-1])
    print("types", type(model).__module__, torch.__name__, isinstance(images, torch.Tensor))


if __name__ == "__main__":
    main()
"""


def _run(args, cwd, module=("glassgrad",)):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", *module, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _program(tmp_path):
    (tmp_path / "prog").mkdir()
    (tmp_path / "prog" / "model.py").write_text(textwrap.dedent(HELPER))
    (tmp_path / "prog" / "train.py").write_text(textwrap.dedent(MAIN))
    return tmp_path / "prog" / "train.py"


def test_multi_file_program_trains_and_loss_falls(tmp_path):
    script = _program(tmp_path)
    # Run from another folder: the script's own folder must come first on sys.path.
    result = _run(["run", str(script), "--steps", "15"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    first, last = float(words[words.index("first") + 1]), float(words[words.index("last") + 1])
    assert last < 0.5 * first, result.stdout
    assert "types model torch True" in result.stdout


def test_python_dash_m_glassgrad_run_is_the_same(tmp_path):
    script = _program(tmp_path)
    result = _run([str(script), "--steps", "1"], cwd=tmp_path, module=("glassgrad.run",))
    assert result.returncode == 0, result.stderr
    assert "types model torch True" in result.stdout


def test_missing_attribute_names_the_pytorch_api(tmp_path):
    (tmp_path / "p.py").write_text(
        "import torch.nn as nn\nimport torch.nn.functional as F\n"
        "print(hasattr(nn, 'NoSuchLayer'), hasattr(F, 'no_such_function'))\nnn.NoSuchLayer(4)\n"
    )
    result = _run(["run", "p.py"], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.split() == ["False", "False"]  # also inside a module that is no package
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("glassgrad.compat.MissingTorchAPI: torch.nn.NoSuchLayer: glassgrad does not provide")
    assert "glassgrad run --list" in last


def test_missing_module_and_from_import_name_the_pytorch_api(tmp_path):
    (tmp_path / "m.py").write_text("import torch.no_such_module\n")
    (tmp_path / "f.py").write_text("from torch.nn import NoSuchLayer\n")
    for script, api in (("m.py", "torch.no_such_module"), ("f.py", "torch.nn.NoSuchLayer")):
        result = _run(["run", script], cwd=tmp_path)
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("ModuleNotFoundError"), last
        assert api in last and "glassgrad does not provide" in last and "glassgrad run --list" in last


def test_glassgrad_only_modules_are_not_torch_names(tmp_path):
    (tmp_path / "t.py").write_text("import torch.train\n")
    result = _run(["run", "t.py"], cwd=tmp_path)
    assert "torch.train" in result.stderr and "glassgrad does not provide" in result.stderr


def test_settings_pass_through_and_plain_glassgrad_is_untouched(tmp_path):
    (tmp_path / "s.py").write_text(
        textwrap.dedent(
            """
            import torch
            import glassgrad
            torch.backends.cudnn.benchmark = True
            print(glassgrad.backends.cudnn.benchmark)
            print(type(glassgrad).__name__, type(torch).__name__, torch.nn.functional is not glassgrad.nn.functional)
            print(glassgrad.nn.functional.__name__, torch.nn.functional.relu is glassgrad.nn.functional.relu)
            """
        )
    )
    result = _run(["run", "s.py"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "module", "TorchAlias", "True", "glassgrad.nn.functional", "True"]


def test_list_prints_provided_torch_names(tmp_path):
    result = _run(["run", "--list", "torch.nn.modules.utils"], cwd=tmp_path)
    assert result.returncode == 0
    names = result.stdout.splitlines()
    assert "torch.nn.modules.utils._pair" in names and names[-1] == "(6 names)"
    everything = _run(["run", "--list"], cwd=tmp_path).stdout.splitlines()
    assert {"torch.nn.Linear", "torch.optim.SGD", "torchvision.transforms.ToTensor"} <= set(everything)
    assert not any(name.startswith("torch.np") for name in everything)
    # Every namespace glassgrad has is listed, with the names a program reaches in it.
    assert {
        "torchvision.transforms.v2.RandomResizedCrop",
        "torchvision.transforms.v2.functional.resize",
        "torch.linalg.vector_norm",
        "torch.serialization.add_safe_globals",
        "torch.nn.utils.rnn.pack_padded_sequence",
        "torch.nn.utils.parametrizations.weight_norm",
        "torch.nn.utils.fusion.fuse_conv_bn_eval",
        "torch.utils.data.distributed.DistributedSampler",
        "torch.nn.parallel.DistributedDataParallel",
    } <= set(everything)
    # A module imported for a file's own use, or typing's switch, is not an API.
    assert not {"torch.nn.functional.ops", "torch.nn.utils.rnn.creation", "torch.nn.functional.TYPE_CHECKING"} & set(
        everything
    )


def test_missing_script_is_a_clear_error(tmp_path):
    result = _run(["run", "nope.py"], cwd=tmp_path)
    assert result.returncode == 2
    assert "no such file 'nope.py'" in result.stderr


def test_install_refuses_after_real_torch():
    code = "import torch, glassgrad.compat as c\ntry:\n    c.install()\nexcept RuntimeError as e:\n    print(e)\n"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True)
    if probe.returncode != 0:
        import pytest

        pytest.skip("PyTorch is not installed: nothing to refuse")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "the real torch is already imported" in result.stdout
    assert "before the first `import torch`" in result.stdout


def test_install_then_uninstall_in_a_notebook_like_process():
    code = textwrap.dedent(
        """
        import sys, glassgrad.compat as c
        c.install()
        import torch, torchvision.transforms as T
        from torch.nn.modules.utils import _triple
        print(torch.zeros(2).shape == (2,), T.ToTensor.__module__.startswith("glassgrad"), _triple(2))
        c.uninstall()
        print("torch" in sys.modules, c.is_installed())
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "(2,", "2,", "2)", "False", "False"]


def test_star_import_gives_public_names_but_no_submodules(tmp_path):
    (tmp_path / "star.py").write_text(
        "from torch import *\nfrom torch.nn import *\nprint(zeros(2).shape == (2,), Linear.__name__, 'optim' in dir())\n"
    )
    result = _run(["run", "star.py"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "Linear", "False"]


def test_torch_compile_is_glassgrad_compile(tmp_path):
    script = tmp_path / "compiled.py"
    script.write_text(
        textwrap.dedent(
            """
            import torch

            model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
            fast = torch.compile(model, mode="max-autotune")
            opt = torch.optim.SGD(fast.parameters(), lr=0.1)
            x, y = torch.randn(16, 4), torch.randn(16, 1)
            for _ in range(5):
                opt.zero_grad()
                loss = torch.nn.functional.mse_loss(fast(x), y)
                loss.backward()
                opt.step()
            print(type(fast).__name__, fast._orig_mod is model, dict(fast.compile_stats))
            """
        )
    )
    result = _run(["run", str(script)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OptimizedModule True {'recorded': 1, 'replayed': 4}" in result.stdout


HOGWILD_WORKER = """
import torch
import torch.nn.functional as F
from torchvision import transforms


def train(rank, model, steps, queue):
    torch.manual_seed(rank)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = transforms.Normalize((0.0,), (1.0,))(torch.randn(32, 1, 1, 4)).flatten(1)
    y = x.sum(1, keepdim=True)
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()
    queue.put((rank, torch.__name__, type(model.weight).__module__.split(".")[0]))
"""

HOGWILD_MAIN = """
import torch
import torch.multiprocessing as mp
import torch.nn as nn

from worker import train

GLOBAL_SEEN_BY_CHILD = "module level code runs again in a spawned child, as __mp_main__"

if __name__ == "__main__":
    mp.set_start_method("spawn", force=True)
    model = nn.Linear(4, 1)
    with torch.no_grad():
        model.weight.zero_()
    model.share_memory()
    queue = mp.Queue()
    procs = [mp.Process(target=train, args=(rank, model, 30, queue)) for rank in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    print([p.exitcode for p in procs])
    print(sorted(queue.get(timeout=30) for _ in procs))
    print("weight", *[round(w, 2) for w in model.weight.flatten().tolist()])
"""


def test_spawned_children_import_glassgrad_as_torch_and_train_shared_weights(tmp_path):
    # mnist_hogwild's pattern: a fresh interpreter must see torch as glassgrad too, both in the
    # worker module it unpickles and in the main file it runs again as __mp_main__.
    (tmp_path / "worker.py").write_text(textwrap.dedent(HOGWILD_WORKER))
    (tmp_path / "main.py").write_text(textwrap.dedent(HOGWILD_MAIN))
    result = _run(["run", "main.py"], cwd=tmp_path)
    assert result.stdout.splitlines()[:1] == ["[0, 0]"], result.stderr
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "[(0, 'torch', 'glassgrad'), (1, 'torch', 'glassgrad')]"
    weights = [float(w) for w in lines[2].split()[1:]]
    # The target is the sum of the inputs: trained in the children through shared memory, the
    # parent's weights moved from zero towards ones.
    assert all(0.5 < w < 1.5 for w in weights), lines[2]


PROJECT = {
    "lib/__init__.py": '"""A typical project layout: the script beside a package of its own modules."""\n',
    "lib/models.py": """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        from torch.nn.modules.utils import _pair


        class SmallCNN(nn.Module):
            def __init__(self, classes=2, kernel=3):
                super().__init__()
                self.kernel = _pair(kernel)
                self.conv = nn.Conv2d(3, 8, self.kernel, padding=1)
                self.bn = nn.BatchNorm2d(8)
                self.fc = nn.Linear(8 * 4 * 4, classes)

            def forward(self, x):
                x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
                x = F.adaptive_avg_pool2d(x, (4, 4))
                return self.fc(torch.flatten(x, 1))
        """,
    "lib/data.py": """
        import torch
        from torch.utils.data import DataLoader, Dataset, random_split
        from torchvision import datasets, transforms


        class WithIndex(Dataset):
            def __init__(self, base):
                self.base = base

            def __len__(self):
                return len(self.base)

            def __getitem__(self, i):
                image, label = self.base[i]
                return image, label, i


        def loaders(root, batch_size):
            tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
            full = WithIndex(datasets.ImageFolder(root, transform=tf))
            train, val = random_split(full, [len(full) - 8, 8], generator=torch.Generator().manual_seed(0))
            return DataLoader(train, batch_size=batch_size, shuffle=True), DataLoader(val, batch_size=8)
        """,
    "train.py": """
        import argparse

        import torch
        import torch.nn as nn
        import torch.optim as optim

        from lib import data
        from lib.models import SmallCNN


        def main():
            parser = argparse.ArgumentParser()
            parser.add_argument("root")
            parser.add_argument("--epochs", type=int, default=1)
            args = parser.parse_args()
            torch.manual_seed(0)
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            train_loader, val_loader = data.loaders(args.root, batch_size=8)
            model = SmallCNN().to(device)
            opt = optim.Adam(model.parameters(), lr=1e-2)
            criterion = nn.CrossEntropyLoss()
            losses = []
            for _ in range(args.epochs):
                model.train()
                for images, labels, _ in train_loader:
                    images, labels = images.to(device), labels.to(device)
                    opt.zero_grad()
                    loss = criterion(model(images), labels)
                    loss.backward()
                    opt.step()
                    losses.append(loss.item())
            model.eval()
            with torch.no_grad():
                correct = sum((model(x).argmax(1) == y).sum().item() for x, y, _ in val_loader)
            print("first", losses[0], "last", sum(losses[-4:]) / 4, "val_correct", correct)


        if __name__ == "__main__":
            main()
        """,
}


def test_a_project_with_a_package_of_models_and_data_trains_from_an_image_folder(tmp_path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, level in (("dark", 60), ("light", 190)):
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(20):
            pixels = np.clip(rng.normal(level, 40, size=(16, 16, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / label / f"{i}.png")
    for name, text in PROJECT.items():
        (tmp_path / "proj" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "proj" / name).write_text(textwrap.dedent(text))
    result = _run(["run", str(tmp_path / "proj" / "train.py"), str(tmp_path / "images"), "--epochs", "4"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    first, last = float(words[words.index("first") + 1]), float(words[words.index("last") + 1])
    assert last < 0.5 * first, result.stdout
    assert int(words[words.index("val_correct") + 1]) >= 7, result.stdout


def test_module_dict_lists_glassgrad_names_as_the_imagenet_example_reads_them(tmp_path):
    (tmp_path / "d.py").write_text(
        textwrap.dedent(
            """
            import torch
            import torchvision.models as models
            import torch.backends.cudnn as cudnn

            names = sorted(n for n in models.__dict__ if n.islower() and not n.startswith("__")
                           and callable(models.__dict__[n]))
            print("resnet18" in names, "vgg16" in names, models.__dict__["resnet18"] is models.resnet18)
            cudnn.benchmark = True
            print(vars(cudnn)["benchmark"], "nn" in vars(torch), vars(torch)["nn"] is torch.nn)
            """
        )
    )
    result = _run(["run", "d.py"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True", "True", "True", "True"]
