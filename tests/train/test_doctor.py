import math

import numpy as np
import pytest

import glassgrad
from glassgrad import nn, optim
from glassgrad.lessons import sigmoid_cnn
from glassgrad.train.doctor import Doctor


def _fit(model, optimizer, x, y, steps, criterion=None, doctor=None):
    doctor = doctor or Doctor().attach(model)
    criterion = criterion or nn.CrossEntropyLoss()
    xs, ys = glassgrad.from_numpy(x), glassgrad.from_numpy(y)
    for step in range(steps):
        optimizer.zero_grad()
        loss = criterion(model(xs), ys)
        loss.backward()
        doctor.observe(step, loss, optimizer)
        optimizer.step()
    return doctor


def _kinds(doctor):
    return [f.kind for f in doctor.report()]


@pytest.fixture(scope="module")
def digits():
    # 320 digits, one epoch of 10 steps of 32: enough for the doctor, a few seconds on one core.
    return sigmoid_cnn.load("digits", limit=320, test_limit=100, seed=0)


def _train_cnn(network, data):
    x, y, _, _, channels, size = data
    model, optimizer = sigmoid_cnn.build(network, channels, size, seed=0)
    doctor = Doctor().attach(model)
    criterion = nn.CrossEntropyLoss()
    for step in range(len(x) // 32):
        batch = slice(32 * step, 32 * (step + 1))
        optimizer.zero_grad()
        loss = criterion(model(glassgrad.from_numpy(x[batch])), glassgrad.from_numpy(y[batch]))
        loss.backward()
        doctor.observe(step, loss, optimizer)
        optimizer.step()
    return doctor


def test_diagnoses_the_seeds_sigmoid_cnn(digits, tmp_path):
    doctor = _train_cnn(sigmoid_cnn.NETWORKS[0], digits)
    findings = doctor.report()
    kinds = [f.kind for f in findings]
    assert kinds[0] == "vanishing-gradients" and "loss-stuck" in kinds
    assert doctor.gradient_ratio() < 1e-2
    advice = findings[0].advice
    for fix in ("ReLU", "He", "batch norm", "momentum", "Adam"):
        assert fix in advice
    assert "conv1" in findings[0].message and "fc2" in findings[0].message
    assert doctor.num_classes == 10  # read from the model's output
    path = doctor.plot(tmp_path / "norms.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_quiet_on_the_fixed_network(digits):
    doctor = _train_cnn(sigmoid_cnn.NETWORKS[1], digits)
    assert doctor.report() == []
    assert doctor.gradient_ratio() > 1e-1


class _Log(nn.Module):
    def forward(self, x):
        return (x * 2).log()


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_names_the_layer_and_op_where_nan_first_appears():
    glassgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), _Log(), nn.Linear(4, 2))
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    doctor = _fit(model, optim.SGD(model.parameters(), lr=0.1), x, np.zeros(8, np.int64), 1)
    first = doctor.report()[0]
    assert first.kind == "nonfinite-forward"
    assert "output of 1 (_Log), first in its Log op" in first.message


def test_dead_relus_and_saturated_tanh():
    glassgrad.manual_seed(0)
    x = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    dead = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    with glassgrad.no_grad():
        dead[0].bias.fill_(-50.0)
    assert "dead-relus" in _kinds(_fit(dead, optim.SGD(dead.parameters(), lr=0.01), x, y, 3))
    saturated = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    with glassgrad.no_grad():
        saturated[0].weight.mul_(200.0)
    doctor = _fit(saturated, optim.SGD(saturated.parameters(), lr=0.01), x, y, 3)
    message = next(f.message for f in doctor.report() if f.kind == "saturated-units")
    assert "1 after 0 (Tanh)" in message


def test_learning_rate_too_large_and_too_small():
    x = np.random.default_rng(1).normal(size=(32, 5)).astype(np.float32)
    y = np.random.default_rng(2).integers(0, 3, 32)
    for lr, kind in ((50.0, "lr-too-large"), (1e-7, "lr-too-small"), (0.05, None)):
        glassgrad.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
        kinds = _kinds(_fit(model, optim.SGD(model.parameters(), lr=lr), x, y, 6))
        lr_kinds = [k for k in kinds if k.startswith("lr-")]
        assert lr_kinds == ([kind] if kind else []), (lr, kinds)


def test_loss_stuck_at_log_num_classes():
    model = nn.Linear(2, 10)
    doctor = Doctor(num_classes=10).attach(model)
    for step in range(12):
        doctor.observe(step, math.log(10) + 0.001 * (-1) ** step)
    assert [f.kind for f in doctor.report()] == ["loss-stuck"]
    doctor = Doctor(num_classes=10).attach(model)
    for step in range(12):
        doctor.observe(step, 2.3 - 0.1 * step)
    assert doctor.report() == []


def test_works_as_a_trainer_callback(tmp_path):
    from glassgrad.train import Trainer
    from glassgrad.utils.data import DataLoader, TensorDataset

    glassgrad.manual_seed(0)
    x = glassgrad.randn(64, 4)
    y = (x[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 2))
    doctor = Doctor()
    trainer = Trainer(
        model,
        optim.SGD(model.parameters(), lr=0.1),
        nn.CrossEntropyLoss(),
        DataLoader(TensorDataset(x, y), batch_size=16),
        callbacks=[doctor],
        progress=False,
        report=False,
    )
    trainer.fit(2)
    assert doctor.model is model and len(doctor.losses) == 8
    assert doctor.order == ["0", "2"] and len(doctor.layers["0"].grad_norms) == 8


def test_diagnoses_the_sigmoid_cnn_on_cifar10_images():
    import os

    if not os.environ.get("GLASSGRAD_DATA"):
        pytest.skip("GLASSGRAD_DATA not set: the CIFAR-10 doctor test needs cifar10-jpeg.tar.gz")
    data = sigmoid_cnn.load("cifar10", limit=128, test_limit=10, seed=0)
    assert data[0].shape == (128, 3, 32, 32) and len(set(data[1].tolist())) == 10
    doctor = _train_cnn(sigmoid_cnn.NETWORKS[0], data)
    assert doctor.report()[0].kind == "vanishing-gradients" and doctor.gradient_ratio() < 1e-2


def test_glassgrad_train_doctor_flag(tmp_path, capsys):
    from glassgrad.cli import build_parser, main

    try:
        build_parser().parse_args(["train", "--doctor"])
    except (SystemExit, ImportError):
        pytest.skip("glassgrad train has no --doctor flag in this checkout")
    args = ["train", "--activation", "sigmoid", "--batch-norm", "off", "--optimizer", "sgd", "--lr", "0.01"]
    args += ["--momentum", "0", "--weight-decay", "0", "--schedule", "none", "--epochs", "1", "--limit", "64"]
    assert main([*args, "--batch-size", "8", "--doctor", "--quiet", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "doctor: " in out and "Vanishing gradients" in out
    assert (tmp_path / "doctor_gradient_norms.png").exists()
    page = (tmp_path / "report.html").read_text()
    assert ">Doctor: " in page and "Vanishing gradients" in page
    # loss, accuracy, learning rate, confusion, test images, mistakes and the gradient norms
    assert page.count("data:image/png;base64,") == 7


def test_exploding_gradients():
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    doctor = Doctor(num_classes=2).attach(model)
    model(glassgrad.randn(4, 3))  # the doctor learns the layer order from a forward pass
    for step in range(12):
        for p in model.parameters():
            p.grad = glassgrad.full(tuple(p.shape), 10.0**step)
        doctor.observe(step, 0.1)
    findings = doctor.report()
    # the weights never move here (no optimizer), which the doctor also notices
    assert [f.kind for f in findings] == ["exploding-gradients", "lr-too-small"]
    assert "gradient norm of 0 grew from" in findings[0].message
