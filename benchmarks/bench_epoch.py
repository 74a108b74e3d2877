"""One training epoch of the seed's CIFAR-10 script, glassgrad beside PyTorch.

The seed's script (SimpleCNN with sigmoid, CrossEntropyLoss, SGD lr 0.01, ToTensor + Normalize,
DataLoader batch 128 with shuffle, CIFAR-10 training split) is written once below, in
``seed_epoch``, as a function of the framework modules. It runs twice:

- glassgrad: ``import glassgrad as torch; import glassgrad.nn as nn; import glassgrad.optim as optim;
  import glassgrad.vision as torchvision; import glassgrad.vision.transforms as transforms``;
- PyTorch: ``torch``, ``torch.nn``, ``torch.optim`` and, because torchvision is not installed here,
  a minimal stand-in for ``torchvision.datasets.CIFAR10`` and ``transforms.Compose/ToTensor/Normalize``
  written in torch ops, one image at a time, over the same decoded uint8 CIFAR-10 arrays.

Each framework runs in its own child process (no shared thread pools or caches), PyTorch with
``torch.set_num_threads(glassgrad.get_num_threads())``. Timed: the seed's ``train(epoch)`` call, data
loading included; reported beside it is one pass over the loader alone, so that the share of the
epoch spent loading is visible.

Usage: python benchmarks/bench_epoch.py [--limit N] [--frameworks glassgrad,torch] [--workers 0[,2]]
                                       [--repeats R] [--data DIR] [--json PATH]
DIR holds cifar10-jpeg.tar.gz (default: $GLASSGRAD_DATA, else ../shared/datasets beside the repo).
"""

import argparse
import json
import os
import subprocess
import sys
import time
import types
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2023, 0.1994, 0.2010)


def seed_epoch(torch, nn, optim, torchvision, transforms, root, limit, workers):
    """The seed's script, imports aside, for one epoch; returns the epoch's seconds and its losses.

    The changes to the seed's text: ``root`` and ``download=False`` (the data are on disk, never
    fetched), an optional Subset of ``limit`` images, ``num_workers`` as given, the timer around
    ``train(1)`` and the 100-step losses collected instead of printed.
    """
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    mean = (0.4914, 0.4822, 0.4465)
    std = (0.2023, 0.1994, 0.2010)

    transform_train = transforms.Compose(
        [
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]
    )

    train_dataset = torchvision.datasets.CIFAR10(root=root, train=True, download=False, transform=transform_train)
    if limit < len(train_dataset):
        # The same images for both frameworks: a fixed draw over all classes (the JPEG copy is class-sorted).
        import numpy as np

        indices = np.random.default_rng(0).permutation(len(train_dataset))[:limit].tolist()
        train_dataset = torch.utils.data.Subset(train_dataset, indices)

    train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=128, shuffle=True, num_workers=workers)

    class SimpleCNN(nn.Module):
        def __init__(self):
            super(SimpleCNN, self).__init__()  # noqa: UP008  (the seed's text)
            self.conv1 = nn.Conv2d(3, 32, kernel_size=3, padding=1)
            self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
            self.conv3 = nn.Conv2d(64, 128, kernel_size=3, padding=1)
            self.pool = nn.MaxPool2d(2, 2)
            self.fc1 = nn.Linear(128 * 4 * 4, 256)
            self.fc2 = nn.Linear(256, 10)
            self.sigmoid = nn.Sigmoid()

        def forward(self, x):
            x = self.sigmoid(self.conv1(x))
            x = self.pool(x)  # 32x32 -> 16x16
            x = self.sigmoid(self.conv2(x))
            x = self.pool(x)  # 16x16 -> 8x8
            x = self.sigmoid(self.conv3(x))
            x = self.pool(x)  # 8x8 -> 4x4

            x = x.view(-1, 128 * 4 * 4)

            x = self.sigmoid(self.fc1(x))
            x = self.fc2(x)
            return x

    model = SimpleCNN().to(device)

    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01)

    losses = []

    def train(epoch):
        model.train()
        running_loss = 0.0
        steps = 0
        for batch_idx, (inputs, targets) in enumerate(train_loader):
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()

            running_loss += loss.item()
            steps += 1
            if (batch_idx + 1) % 100 == 0:
                losses.append((batch_idx + 1, running_loss / 100))
                running_loss = 0.0
                steps = 0
        if steps:  # the epoch's tail after the last full 100 steps (all of it when there are fewer)
            losses.append((batch_idx + 1, running_loss / steps))
        return batch_idx + 1

    start, cpu = time.perf_counter(), time.process_time()
    steps = train(1)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu

    start = time.perf_counter()
    images = sum(x.shape[0] for x, _ in train_loader)
    loader_seconds = time.perf_counter() - start
    return {
        "epoch_s": seconds,
        "cpu_s": cpu_seconds,
        "steps": steps,
        "images": images,
        "losses": losses,
        "loader_only_s": loader_seconds,
    }


def torch_stand_ins(torch, images, labels):
    """``torchvision`` and ``torchvision.transforms`` for the seed's use, in torch ops, per image."""

    class CIFAR10(torch.utils.data.Dataset):
        """The decoded uint8 arrays (N, 32, 32, 3); ``dataset[i]`` is (HWC uint8 array, label) before transform."""

        def __init__(self, root, train=True, download=False, transform=None):
            self.data, self.targets, self.transform = images, labels.tolist(), transform

        def __len__(self):
            return len(self.data)

        def __getitem__(self, index):
            img, target = self.data[index], self.targets[index]
            if self.transform is not None:
                img = self.transform(img)
            return img, target

    class Compose:
        def __init__(self, transforms):
            self.transforms = transforms

        def __call__(self, img):
            for t in self.transforms:
                img = t(img)
            return img

    class ToTensor:
        """HWC uint8 -> CHW float32 in [0, 1], as torchvision's ToTensor does."""

        def __call__(self, img):
            return torch.from_numpy(img).permute(2, 0, 1).contiguous().to(torch.float32).div(255)

    class Normalize:
        def __init__(self, mean, std):
            self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
            self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

        def __call__(self, tensor):
            return tensor.sub(self.mean).div_(self.std)

    transforms = types.SimpleNamespace(Compose=Compose, ToTensor=ToTensor, Normalize=Normalize)
    torchvision = types.SimpleNamespace(datasets=types.SimpleNamespace(CIFAR10=CIFAR10), transforms=transforms)
    return torchvision, transforms


def child(framework, root, limit, workers, threads):
    if framework == "glassgrad":
        import glassgrad as torch
        import glassgrad.nn as nn
        import glassgrad.optim as optim
        import glassgrad.vision as torchvision
        import glassgrad.vision.transforms as transforms
    else:
        import torch
        import torch.nn as nn
        import torch.optim as optim

        torch.set_num_threads(threads)
        from glassgrad.vision.datasets.cifar_jpeg import find_cifar10_jpeg, load_cifar10_jpeg

        archive = find_cifar10_jpeg(root)
        if archive is None:
            raise SystemExit(f"bench_epoch: no cifar10-jpeg.tar.gz in {root}; pass --data DIR")
        images, labels, _ = load_cifar10_jpeg(archive, "train")
        torchvision, transforms = torch_stand_ins(torch, images, labels)
    with warnings.catch_warnings():
        # glassgrad's CIFAR10 says it is using the JPEG copy; the parent says so once.
        warnings.simplefilter("ignore")
        result = seed_epoch(torch, nn, optim, torchvision, transforms, root, limit, workers)
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result))


def run_child(framework, args, workers, threads):
    command = [sys.executable, os.path.abspath(__file__), "--child", framework, "--data", args.data]
    command += ["--limit", str(args.limit), "--workers", str(workers), "--threads", str(threads)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:]) or "no error output"
        raise SystemExit(f"bench_epoch: the {framework} run failed (exit {result.returncode}):\n{tail}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def default_data_dir():
    if os.environ.get("GLASSGRAD_DATA"):
        return os.environ["GLASSGRAD_DATA"]
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "datasets")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=50_000, help="images in the epoch (default: all 50,000)")
    parser.add_argument("--frameworks", default="glassgrad,torch", help="comma-separated: glassgrad, torch")
    parser.add_argument("--workers", default="0", help="DataLoader num_workers, comma-separated (e.g. 0,2)")
    parser.add_argument("--repeats", type=int, default=1, help="epochs per framework, alternating (default 1)")
    parser.add_argument("--data", default=default_data_dir(), help="folder holding cifar10-jpeg.tar.gz")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        child(args.child, args.data, args.limit, int(args.workers), args.threads)
        return 0

    from _common import machine, machine_line

    import glassgrad

    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = set(frameworks) - {"glassgrad", "torch"}
    if unknown or not frameworks:
        parser.error(f"--frameworks takes glassgrad and/or torch, got {args.frameworks!r}")
    workers_list = [int(w) for w in args.workers.split(",")]
    threads = glassgrad.get_num_threads()

    # Decode (or load the cached decode of) the JPEG archive once, before anything is timed.
    from glassgrad.vision.datasets.cifar_jpeg import find_cifar10_jpeg, load_cifar10_jpeg

    archive = find_cifar10_jpeg(args.data)
    if archive is None:
        parser.error(f"no cifar10-jpeg.tar.gz in {args.data}; pass --data DIR or set GLASSGRAD_DATA")
    load_cifar10_jpeg(archive, "train")

    info = machine()
    print(machine_line(info))
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"data: CIFAR-10 training split from {archive} (the JPEG copy, decoded once into uint8 arrays); "
        f"{min(args.limit, 50_000):,} images, batch 128, shuffle"
    )
    if "torch" in frameworks:
        print(
            "PyTorch side: torchvision is not installed here, so its CIFAR10 and ToTensor+Normalize are a minimal "
            "torch Dataset over the same uint8 arrays, transforming one image at a time in torch ops"
        )

    results = {"machine": info, "limit": args.limit, "runs": []}
    for workers in workers_list:
        times = {f: [] for f in frameworks}
        cpu = {f: [] for f in frameworks}
        for rep in range(args.repeats):
            order = frameworks if rep % 2 == 0 else frameworks[::-1]
            for framework in order:
                load = os.getloadavg()[0]
                r = run_child(framework, args, workers, threads)
                r["load_before"] = load
                times[framework].append(r["epoch_s"])
                cpu[framework].append(r["cpu_s"])
                results["runs"].append({"framework": framework, "workers": workers, **r})
                final = r["losses"][-1] if r["losses"] else (0, float("nan"))
                print(
                    f"  num_workers={workers} {framework:9s} epoch {r['epoch_s']:7.1f} s "
                    f"({r['epoch_s'] / r['steps'] * 1000:6.1f} ms/step over {r['steps']} steps, "
                    f"{r['images']:,} images, {r['threads']} threads, CPU {r['cpu_s']:.1f} s; "
                    f"loader alone {r['loader_only_s']:.1f} s; load average {load:.2f} before); "
                    f"running loss at step {final[0]}: {final[1]:.4f}",
                    flush=True,
                )
        line = f"num_workers={workers}: " + ", ".join(f"{f} {min(t):.1f} s/epoch" for f, t in times.items())
        if len(frameworks) == 2:
            ratio = min(times["glassgrad"]) / min(times["torch"])
            # CPU seconds of the main process (workers' not counted) say less about load from other jobs.
            cpu_ratio = min(cpu["glassgrad"]) / min(cpu["torch"])
            line += f"; ratio glassgrad/PyTorch {ratio:.2f}" + (" (best of each)" if args.repeats > 1 else "")
            line += f" (main-process CPU time ratio {cpu_ratio:.2f})"
            results.setdefault("ratios", {})[str(workers)] = {"wall": ratio, "cpu": cpu_ratio}
        print(line)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
