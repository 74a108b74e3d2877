"""One home for the training defaults: the dataset registry, the optimizer table and RunConfig."""

import dataclasses
import json
import re

import pytest

import glassgrad
from glassgrad import nn
from glassgrad.cli import build_parser, main
from glassgrad.train import Trainer, load_checkpoint, report
from glassgrad.train import config as C
from glassgrad.train.data import load_data


def _help(command):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return " ".join(sub.format_help().split())


def test_help_texts_come_from_the_registries(monkeypatch):
    text = _help("train")
    assert "epochs to train (default: 15 for digits, else 10)" in text
    assert "batch size (default: 32 for digits, else 128)" in text and "adam 0.002 for digits" in text
    monkeypatch.setitem(C.DATASETS, "digits", dataclasses.replace(C.DATASETS["digits"], epochs=7, batch_size=16))
    text = _help("train")
    assert "(default: 7 for digits, else 10)" in text and "(default: 16 for digits, else 128)" in text
    import glassgrad.cli.train as cli_train

    assert not re.search(r"\d+ epochs|\d+-\d+%", cli_train.__doc__), "the docstring states a default"
    assert "--resume CHECKPOINT continue the run saved in CHECKPOINT; it takes back " + ", ".join(
        C.RunConfig.resumed_fields()
    ) in _help("train")


def test_resolved_defaults_follow_dataset_then_optimizer():
    digits = C.RunConfig(dataset="digits").resolved()
    assert (digits.epochs, digits.batch_size, digits.lr, digits.label_smoothing, digits.augment) == (
        15, 32, 2e-3, 0.1, True)  # fmt: skip
    sgd = C.RunConfig(dataset="mnist", optimizer="SGD").resolved()
    assert (sgd.optimizer, sgd.epochs, sgd.batch_size, sgd.lr, sgd.weight_decay, sgd.augment) == (
        "sgd", 10, 128, 0.05, 5e-4, False)  # fmt: skip
    assert C.RunConfig(dataset="digits", lr=0.3, epochs=2).resolved().lr == 0.3
    assert "epochs" not in C.RunConfig.resumed_fields() and "workers" not in C.RunConfig.resumed_fields()
    assert {"model", "dataset", "lr", "schedule", "seed", "batch_size"} <= set(C.RunConfig.resumed_fields())


def test_config_json_is_the_run_config_written_once(tmp_path, monkeypatch):
    writes = []
    real_json, real_metrics = report.write_json, report.write_metrics
    monkeypatch.setattr(report, "write_json", lambda path, obj: (writes.append(str(path)), real_json(path, obj)))
    monkeypatch.setattr(report, "write_metrics", lambda out, h: (writes.append("metrics"), real_metrics(out, h)))
    out = tmp_path / "run"
    assert main(["train", "--model", "lenet5", "--epochs", "2", "--limit", "64", "--quiet", "--out", str(out)]) == 0
    written = [w for w in writes if w == "metrics" or w.endswith("config.json")]
    assert written == [str(out / "config.json"), "metrics", "metrics"]  # once, and once per epoch
    saved = json.loads((out / "config.json").read_text())
    assert list(saved) == [f.name for f in dataclasses.fields(C.RunConfig)]
    assert C.RunConfig.from_dict(saved).to_dict() == saved
    # --resume takes back the resumed fields even where the command line says otherwise.
    assert main(["train", "--resume", str(out / "checkpoint.pt"), "--epochs", "3", "--lr", "0.5", "--quiet"]) == 0
    again = json.loads((out / "config.json").read_text())
    assert again["lr"] == saved["lr"] and again["epochs"] == 3


def test_check_input_starts_no_worker(monkeypatch):
    from glassgrad.cli.train import check_input
    from glassgrad.utils.data import DataLoader

    data = load_data("digits", batch_size=16, limit=32, workers=2)

    def no_iteration(self):
        raise AssertionError("check_input iterated a DataLoader (with workers, that starts processes)")

    monkeypatch.setattr(DataLoader, "__iter__", no_iteration)
    model = glassgrad.vision.models.get_model("lenet5", in_channels=1, input_size=8)
    check_input(model, data, "lenet5")


def _trainer(out_dir, scheduler_factory=None, **kwargs):
    glassgrad.manual_seed(0)
    data = load_data("digits", batch_size=32, limit=96, test_limit=32)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    optimizer = glassgrad.optim.SGD(model.parameters(), lr=0.1)
    scheduler = scheduler_factory(optimizer) if scheduler_factory else None
    return Trainer(model, optimizer, nn.CrossEntropyLoss(), data.train_loader, data.test_loader, scheduler,
                   out_dir=out_dir, progress=False, **kwargs)  # fmt: skip


def test_trainer_takes_summary_text_and_resume_state(tmp_path):
    first = _trainer(tmp_path / "a", summary_text="MY SUMMARY TABLE")
    first.fit(1)
    assert "MY SUMMARY TABLE" in (tmp_path / "a" / "report.html").read_text()
    state = load_checkpoint(tmp_path / "a" / "checkpoint.pt")
    resumed = _trainer(tmp_path / "a", resume_state=state)
    assert resumed.epoch == 1 and resumed.global_step == 3 and not resumed.resuming_mid_epoch
    resumed.fit(2)
    assert [e["epoch"] for e in resumed.history["epochs"]] == [1, 2]


def test_a_plateau_scheduler_is_recognised_by_type(tmp_path):
    from glassgrad.optim.lr_scheduler import ReduceLROnPlateau

    seen = []

    class Watching(ReduceLROnPlateau):  # another class name: only its type says it wants the loss
        def step(self, metrics, epoch=None):
            seen.append(metrics)
            return super().step(metrics)

    trainer = _trainer(None, lambda optimizer: Watching(optimizer, patience=0))
    trainer.fit(2)
    assert len(seen) == 2 and seen == pytest.approx([e["test_loss"] for e in trainer.history["epochs"]])
