"""Data loading speed: CIFAR-10 augmentation through the DataLoader, glassgrad beside PyTorch.

Pipeline: RandomCrop(32, padding=4) + RandomHorizontalFlip + ToTensor + Normalize, batch 128.

1. images/second with 0 and 2 workers, on two paths:
   - per-sample: each image goes through the transforms alone, as a PIL image (torchvision's way);
   - batched: the dataset hands the DataLoader a stack of uint8 arrays, augmented in a few
     vectorised passes (same values as per-sample, bit for bit);
   and, where PyTorch is installed, its DataLoader over the same images with the same augmentation
   written in torch ops per sample (torchvision is not needed), as the reference.
2. One full epoch over the 50,000 training images (uint8 arrays, batched path), 0 and 2 workers.

Usage: python benchmarks/bench_loader.py [--data DIR] [--batches N] [--json PATH]
DIR holds cifar10-jpeg.tar.gz (default: $GLASSGRAD_DATA, else ../shared/datasets beside the repo).
The first run decodes the JPEGs once into a cache (GLASSGRAD_CACHE or ~/.cache/glassgrad).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import glassgrad  # noqa: E402
from glassgrad.utils.data import DataLoader, Dataset  # noqa: E402
from glassgrad.vision import datasets  # noqa: E402
from glassgrad.vision import transforms as T

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2023, 0.1994, 0.2010)
BATCH = 128


def pipeline():
    return T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])


class PerSample(Dataset):
    """The same dataset without ``__getitems__``: the DataLoader fetches image by image."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        return self.dataset[i]


def rate(loader, batches):
    """Images per second over ``batches`` batches, after the first (worker start-up) is delivered."""
    it = iter(loader)
    next(it)
    start, images = time.perf_counter(), 0
    for k, (x, _) in enumerate(it):
        images += x.shape[0]
        if k + 1 >= batches:
            break
    elapsed = time.perf_counter() - start
    del it
    return images / elapsed


def epoch_seconds(loader):
    """(wall seconds, CPU seconds of this process, images) for one pass over ``loader``."""
    start, cpu = time.perf_counter(), time.process_time()
    n = sum(x.shape[0] for x, _ in loader)
    return time.perf_counter() - start, time.process_time() - cpu, n


def torch_loader(images, labels, workers):
    import torch

    class TorchCIFAR(torch.utils.data.Dataset):
        def __init__(self):
            self.images, self.labels = images, labels
            self.mean = torch.tensor(MEAN).view(3, 1, 1)
            self.std = torch.tensor(STD).view(3, 1, 1)

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            x = torch.from_numpy(self.images[i]).permute(2, 0, 1).float().div(255)
            x = torch.nn.functional.pad(x, (4, 4, 4, 4))
            top, left = torch.randint(0, 9, (2,)).tolist()
            x = x[:, top : top + 32, left : left + 32]
            if torch.rand(1).item() < 0.5:
                x = x.flip(-1)
            return (x - self.mean) / self.std, int(self.labels[i])

    return torch.utils.data.DataLoader(TorchCIFAR(), batch_size=BATCH, shuffle=True, num_workers=workers)


def _autogroup():
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("GLASSGRAD_DATA") or os.path.join(
        os.path.dirname(__file__), "..", "..", "shared", "datasets"
    )
    parser.add_argument("--data", default=default)
    parser.add_argument("--batches", type=int, default=30, help="batches timed per images/second figure")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; figures are medians")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    try:
        from _common import machine, machine_line

        print(machine_line(machine()))
    except Exception as error:  # the shared helper is optional here
        print(f"machine: {os.cpu_count()} cores, NumPy {np.__version__} ({error})")
    print(f"load average: {' '.join(f'{v:.1f}' for v in os.getloadavg())} (other processes share these cores)")
    if _autogroup():
        print(
            "note: sched_autogroup is on, so all processes of this session (workers included) share one CPU slice "
            "with each other busy session; under load, workers can only take work off the training process"
        )

    start = time.perf_counter()
    train = datasets.CIFAR10JPEG(args.data, train=True, transform=pipeline())
    print(f"CIFAR-10 JPEG train split ready in {time.perf_counter() - start:.1f} s (decoded once, then cached)")

    g = glassgrad.Generator().manual_seed(0)
    configs = {}
    for workers in (0, 2):
        configs[f"per_sample_w{workers}"] = lambda w=workers: DataLoader(
            PerSample(train), batch_size=BATCH, shuffle=True, num_workers=w, generator=g
        )
        configs[f"batched_w{workers}"] = lambda w=workers: DataLoader(
            train, batch_size=BATCH, shuffle=True, num_workers=w, generator=g
        )
    try:
        import torch

        torch.set_num_threads(1)
        for workers in (0, 2):
            configs[f"torch_w{workers}"] = lambda w=workers: torch_loader(train.data, train._labels, w)
    except ImportError:
        print("PyTorch not installed: no reference figures")
    # Rounds alternate the configurations, so that load from other processes falls on all alike.
    samples = {key: [] for key in configs}
    for _ in range(args.rounds):
        for key, make in configs.items():
            samples[key].append(rate(make(), args.batches))
    results = {key: float(np.median(values)) for key, values in samples.items()}

    print(
        f"\nimages/second (median of {args.rounds} rounds), batch {BATCH}, RandomCrop(32, padding=4) + RandomHorizontalFlip + ToTensor + Normalize"
    )
    print(f"{'path':<44}{'0 workers':>12}{'2 workers':>12}{'2w / 0w':>9}")
    rows = [("glassgrad, per-sample (PIL images)", "per_sample"), ("glassgrad, batched (uint8 arrays)", "batched")]
    if "torch_w0" in results:
        rows.append(("PyTorch DataLoader, same augmentation in torch", "torch"))
    for label, key in rows:
        w0, w2 = results[f"{key}_w0"], results[f"{key}_w2"]
        print(f"{label:<44}{w0:>12.0f}{w2:>12.0f}{w2 / w0:>9.2f}")
    if "torch_w0" in results:
        for key in ("per_sample", "batched"):
            ratios = " ".join(f"{results[f'{key}_w{w}'] / results[f'torch_w{w}']:.2f}" for w in (0, 2))
            print(f"glassgrad {key} / PyTorch, images/second (0w 2w): {ratios}")

    print("\none epoch over the 50,000 training images (uint8 arrays, batched path); CPU = time the training")
    print("process itself spends on loading (what workers take off the training step)")
    for workers in (0, 2):
        loader = DataLoader(train, batch_size=BATCH, shuffle=True, num_workers=workers, generator=g)
        seconds, cpu, n = epoch_seconds(loader)
        results[f"epoch_s_w{workers}"], results[f"epoch_cpu_s_w{workers}"] = seconds, cpu
        print(
            f"  {workers} workers: {seconds:.2f} s wall, {cpu:.2f} s CPU in the training process, {n} images "
            f"({n / seconds:.0f} images/s); target < 15 s"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
