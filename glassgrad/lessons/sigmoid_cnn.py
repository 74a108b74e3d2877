"""The seed's sigmoid SimpleCNN stays near 10% on CIFAR-10; ReLU + He init + batch norm + momentum learns."""

import os
from dataclasses import dataclass, field

import numpy as np

import glassgrad
from glassgrad import nn, optim
from glassgrad.lessons import output_folder
from glassgrad.train.doctor import Doctor
from glassgrad.viz import plots

OPTIONS = ("epochs", "limit", "data", "dataset")

# The seed's normalisation of CIFAR-10.
MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
STD = np.array([0.2023, 0.1994, 0.2010], dtype=np.float32)
NETWORKS = ("sigmoid (seed)", "ReLU + He + BN + momentum")


@dataclass
class CNNResult:
    dataset: str
    train_size: int
    test_size: int
    accuracy: dict  # network -> [test accuracy (%) after each epoch]
    loss: dict  # network -> [mean training loss of each epoch]
    findings: dict  # network -> [doctor findings]
    gradient_ratio: dict  # network -> first/last layer gradient ratio
    figures: list = field(default_factory=list)


def load(dataset, data=None, limit=None, test_limit=None, seed=0):
    """Normalised float32 arrays (x_train, y_train, x_test, y_test, in_channels, size), a random subset."""
    if dataset == "digits":
        from glassgrad.vision.datasets import Digits

        train, test = Digits(train=True), Digits(train=False)
        channels, size = 1, 8
    elif dataset == "cifar10":
        from glassgrad.vision.datasets import CIFAR10JPEG

        train, test = CIFAR10JPEG(data, train=True), CIFAR10JPEG(data, train=False)
        channels, size = 3, 32
    else:
        raise ValueError(f"sigmoid-cnn: unknown dataset {dataset!r}; use cifar10 or digits")
    # Pick the subset before converting, so a small --limit stays cheap in memory and time.
    keep, keep_test = _subset(train._labels, limit, seed), _subset(test._labels, test_limit, seed + 1)
    images = (train._images[keep], test._images[keep_test])
    if dataset == "digits":
        x, xt = (((im.astype(np.float32) / 255.0)[:, None] - 0.2) / 0.3 for im in images)
    else:
        x, xt = (((im.astype(np.float32) / 255.0 - MEAN) / STD).transpose(0, 3, 1, 2).copy() for im in images)
    return x, train._labels[keep], xt, test._labels[keep_test], channels, size


def _subset(labels, limit, seed):
    """Indices of a random subset of ``limit`` items (all when None); the archive is sorted by class."""
    order = np.random.default_rng(seed).permutation(len(labels))
    return np.sort(order[:limit]) if limit else order


def build(network, channels, size, seed=0):
    """The seed's network (sigmoid, PyTorch's default init, SGD lr 0.01) or its fix."""
    from glassgrad.vision.models.simple_cnn import SimpleCNN

    glassgrad.manual_seed(seed)
    if network == NETWORKS[0]:
        model = SimpleCNN(in_channels=channels, input_size=size)
        return model, optim.SGD(model.parameters(), lr=0.01)
    model = SimpleCNN(in_channels=channels, input_size=size, activation="relu", batch_norm=True)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    return model, optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def evaluate(model, x, y, batch_size=500):
    model.eval()
    correct = 0
    with glassgrad.no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(glassgrad.from_numpy(x[i : i + batch_size]))
            correct += int((logits.argmax(1).numpy() == y[i : i + batch_size]).sum())
    model.train()
    return 100.0 * correct / max(len(x), 1)


def train(network, data, epochs, batch_size, seed, progress=None):
    """Train one network; returns (accuracy per epoch, loss per epoch, doctor)."""
    x, y, xt, yt, channels, size = data
    model, optimizer = build(network, channels, size, seed)
    doctor = Doctor(num_classes=10).attach(model)
    criterion = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    accuracy, losses, step = [], [], 0
    for epoch in range(1, epochs + 1):
        order, running = rng.permutation(len(x)), []
        for i in range(0, len(x), batch_size):
            batch = order[i : i + batch_size]
            optimizer.zero_grad()
            loss = criterion(model(glassgrad.from_numpy(x[batch])), glassgrad.from_numpy(y[batch]))
            loss.backward()
            doctor.observe(step, loss, optimizer)
            optimizer.step()
            running.append(loss.item())
            step += 1
        accuracy.append(evaluate(model, xt, yt))
        losses.append(float(np.mean(running)))
        if progress:
            progress(f"{network}: epoch {epoch}, loss {losses[-1]:.4f}, test accuracy {accuracy[-1]:.2f}%")
    return accuracy, losses, doctor


def run(
    out="lesson-sigmoid-cnn",
    seed=0,
    epochs=3,
    limit=5000,
    data=None,
    dataset="cifar10",
    test_limit=None,
    batch_size=128,
    progress=None,
):
    folder = output_folder(out)
    data = data or os.environ.get("GLASSGRAD_DATA")
    if test_limit is None and limit:
        test_limit = max(limit // 5, 500)
    arrays = load(dataset, data, limit, test_limit, seed)
    result = CNNResult(dataset, len(arrays[0]), len(arrays[2]), {}, {}, {}, {})
    for network in NETWORKS:
        accuracy, losses, doctor = train(network, arrays, epochs, batch_size, seed, progress)
        result.accuracy[network], result.loss[network] = accuracy, losses
        result.findings[network] = doctor.report()
        result.gradient_ratio[network] = doctor.gradient_ratio()
        name = "sigmoid" if network == NETWORKS[0] else "fixed"
        result.figures.append(doctor.plot(f"{folder}/gradient_norms_{name}.png"))
    result.figures.insert(
        0,
        plots.training_curves(
            result.accuracy, f"{folder}/accuracy.png", "test accuracy (%)", f"SimpleCNN on {dataset}"
        ),
    )
    return result


def describe(result):
    a, b = NETWORKS
    lines = [f"SimpleCNN on {result.dataset}: {result.train_size} training images, {result.test_size} test images"]
    lines.append(f"{'epoch':>5}  {a + ' acc':>22}  {b + ' acc':>34}  {'losses':>16}")
    for epoch, (x, y) in enumerate(zip(result.accuracy[a], result.accuracy[b]), 1):
        lx, ly = result.loss[a][epoch - 1], result.loss[b][epoch - 1]
        lines.append(f"{epoch:>5}  {x:>21.2f}%  {y:>33.2f}%  {lx:>7.4f} {ly:>8.4f}")
    for network in NETWORKS:
        ratio = result.gradient_ratio[network]
        lines.append("")
        lines.append(f"Doctor on {network} (first/last layer gradient ratio {ratio:.1e}):")
        findings = result.findings[network]
        lines += [f"  - {finding}" for finding in findings] or ["  no problems found"]
    return lines
