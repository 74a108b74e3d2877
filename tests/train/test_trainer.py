"""The Trainer: metrics, callbacks, checkpoints, and a resumed run equal to an uninterrupted one."""

import csv
import json

import numpy as np
import pytest

import glassgrad
from glassgrad import nn
from glassgrad.train import Callback, Trainer, confusion_matrix, load_checkpoint, topk_correct
from glassgrad.train.data import load_data


def test_topk_correct_counts_hits():
    logits = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.05], [0.2, 0.3, 0.5]])
    targets = np.array([1, 2, 0])
    # Row 0: top-1 hit. Row 1: target 2 ranked third. Row 2: target 0 ranked third.
    assert topk_correct(logits, targets, ks=(1, 2, 3, 5)) == [1, 1, 3, 3]


def test_confusion_matrix_rows_are_truth():
    m = confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], 3)
    assert m.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]


def _setup(seed=0, out_dir=None, callbacks=()):
    """A small MLP with dropout on 320 augmented digits: every random stream matters to its weights."""
    glassgrad.manual_seed(seed)
    data = load_data("digits", batch_size=32, augment=True, limit=320, test_limit=100, seed=seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 48), nn.ReLU(), nn.Dropout(0.3), nn.Linear(48, 10))
    optimizer = glassgrad.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = glassgrad.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    trainer = Trainer(
        model,
        optimizer,
        nn.CrossEntropyLoss(),
        data.train_loader,
        data.test_loader,
        scheduler,
        out_dir=out_dir,
        progress=False,
        class_names=data.class_names,
        callbacks=callbacks,
        report=False,
    )
    return trainer


def _weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_history_and_metrics(tmp_path):
    trainer = _setup(out_dir=tmp_path)
    history = trainer.fit(2)
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]
    assert len(history["steps"]) == 2 * 10  # 320 images in batches of 32
    last = history["epochs"][-1]
    assert 0.3 < last["test_top1"] <= last["test_top5"] <= 1.0
    assert last["train_loss"] < history["epochs"][0]["train_loss"]
    assert history["epochs"][0]["lr"] == 0.05 and last["lr"] == 0.025  # StepLR stepped once per epoch
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert float(rows[1]["test_top1"]) == pytest.approx(last["test_top1"])
    assert json.loads((tmp_path / "metrics.json").read_text())["epochs"][1]["epoch"] == 2
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["epoch"] == 2 and state["global_step"] == 20
    assert np.asarray(state["confusion"]).sum() == 100


def test_callbacks_see_gradients_before_the_step():
    seen = []

    class Watch(Callback):
        def on_after_backward(self, trainer, step, loss):
            grads = [p.grad for p in trainer.model.parameters()]
            seen.append((step, all(g is not None for g in grads), float(loss.item())))

        def on_epoch_end(self, trainer, epoch, record):
            seen.append(("epoch", epoch))

    _setup(callbacks=[Watch()]).fit(1)
    assert seen[0][:2] == (1, True) and seen[-1] == ("epoch", 1) and len(seen) == 11


def test_resume_at_epoch_boundary_equals_uninterrupted(tmp_path):
    straight = _setup(out_dir=tmp_path / "a")
    straight.fit(2)

    first = _setup(out_dir=tmp_path / "b")
    first.fit(1)
    glassgrad.manual_seed(123)  # whatever happens in between must not matter
    np.random.seed(7)
    resumed = _setup(seed=0)
    resumed.out_dir = tmp_path / "b"
    resumed.resume(tmp_path / "b" / "checkpoint.pt")
    resumed.fit(2)

    a, b = _weights(straight.model), _weights(resumed.model)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert [e["train_loss"] for e in resumed.history["epochs"]] == [e["train_loss"] for e in straight.history["epochs"]]


def test_resume_after_ctrl_c_mid_epoch_equals_uninterrupted(tmp_path):
    straight = _setup(out_dir=tmp_path / "a")
    straight.fit(2)

    class CtrlC(Callback):
        def on_step_end(self, trainer, step, record):
            if step == 13:  # in the middle of epoch 2
                trainer._stop_requested = True  # what the SIGINT handler does

    interrupted = _setup(out_dir=tmp_path / "b", callbacks=[CtrlC()])
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(2)
    state = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert state["epoch"] == 1 and state["step_in_epoch"] == 3 and state["global_step"] == 13

    resumed = _setup(seed=0, out_dir=tmp_path / "b")
    resumed.resume(tmp_path / "b" / "checkpoint.pt")
    resumed.fit(2)
    a, b = _weights(straight.model), _weights(resumed.model)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert resumed.history["epochs"][-1]["train_loss"] == pytest.approx(
        straight.history["epochs"][-1]["train_loss"], rel=1e-12
    )


def test_same_seed_same_run():
    a = _setup(seed=3)
    a.fit(1)
    b = _setup(seed=3)
    b.fit(1)
    for key, value in _weights(a.model).items():
        np.testing.assert_array_equal(value, _weights(b.model)[key])


def test_checkpoint_that_is_not_a_training_checkpoint(tmp_path):
    glassgrad.save({"weights": glassgrad.ones(2)}, str(tmp_path / "other.pt"))
    with pytest.raises(ValueError, match="not a glassgrad training checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_real_sigint_finishes_the_step_and_saves(tmp_path):
    import os
    import signal

    class Press(Callback):
        def on_step_end(self, trainer, step, record):
            if step == 3:
                os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    trainer = _setup(out_dir=tmp_path, callbacks=[Press()])
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(2)
    assert signal.getsignal(signal.SIGINT) is before  # the trainer's handler is gone again
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["global_step"] == 3 and state["step_in_epoch"] == 3 and state["epoch"] == 0


@pytest.mark.parametrize("name", ["cosine", "step", "multistep", "onecycle"])
def test_replanned_schedule_is_the_one_planned_for_the_new_length(name):
    from glassgrad.train.recipes import build_optimizer, build_scheduler, replan_scheduler

    def fresh():
        return build_optimizer("sgd", [glassgrad.nn.Parameter(glassgrad.zeros(2))], lr=0.1)

    steps_per_epoch, done = 5, 3
    old = fresh()
    scheduler, interval = build_scheduler(name, old, 4, steps_per_epoch)
    for _ in range(done * steps_per_epoch if interval == "step" else done):
        old.step()
        scheduler.step()
    replanned, _ = replan_scheduler(name, old, 12, steps_per_epoch, done, done * steps_per_epoch)
    planned = fresh()
    reference, _ = build_scheduler(name, planned, 12, steps_per_epoch)
    for _ in range(done * steps_per_epoch if interval == "step" else done):
        planned.step()
        reference.step()
    for _ in range(4):
        assert old.param_groups[0]["lr"] == pytest.approx(planned.param_groups[0]["lr"], rel=1e-9, abs=1e-12)
        replanned.step()
        reference.step()
    assert replan_scheduler("exponential", old, 12, steps_per_epoch, done, 15) is None


class _KeepAt(Callback):
    """Copies checkpoint.pt aside once the periodic checkpoint of step ``step`` is on disk."""

    def __init__(self, step, to):
        self.step, self.to = step, to

    def on_step_end(self, trainer, step, record):
        if step == self.step + 1:
            import shutil

            shutil.copy(trainer.out_dir / "checkpoint.pt", self.to)


def test_checkpoint_every_writes_inside_epochs_and_resumes_exactly(tmp_path):
    from glassgrad.train.distributed import recorded_loader

    straight = _setup(out_dir=tmp_path / "a")
    straight.fit(2)
    writer = _setup(out_dir=tmp_path / "b", callbacks=[_KeepAt(14, tmp_path / "mid.pt")])
    writer.train_loader = recorded_loader(writer.train_loader)
    writer.checkpoint_every = 7
    writer.fit(2)
    state = load_checkpoint(tmp_path / "mid.pt")
    assert (state["epoch"], state["step_in_epoch"], state["global_step"]) == (1, 4, 14)
    order = writer.train_loader.sampler.epoch_order()  # the last epoch's (2), as its sampler drew it
    assert state["remaining"].tolist() == order[4 * 32 :] and state["world_size"] == 1
    resumed = _setup(out_dir=tmp_path / "b")
    resumed.train_loader = recorded_loader(resumed.train_loader)
    resumed.resume(tmp_path / "mid.pt")
    resumed.fit(2)
    a, b = _weights(straight.model), _weights(resumed.model)
    for key in a:  # the same world and batch: the epoch is replayed, bit for bit
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_a_mid_epoch_checkpoint_without_its_order_refuses_another_batch(tmp_path):
    writer = _setup(out_dir=tmp_path / "b", callbacks=[_KeepAt(4, tmp_path / "mid.pt")])
    writer.checkpoint_every = 4
    writer.fit(1)
    state = load_checkpoint(tmp_path / "mid.pt")
    assert state["step_in_epoch"] == 4 and state["remaining"] is None  # a plain DataLoader: order unknown
    other = _setup()
    other.train_loader = glassgrad.utils.data.DataLoader(other.train_loader.dataset, batch_size=16, shuffle=True)
    with pytest.raises(ValueError, match="does not say which samples were left"):
        other.load_state_dict(state)


def test_remainder_sampler_shares_like_distributed_sampler():
    from glassgrad.train.distributed import RemainderSampler

    shares = [list(RemainderSampler([5, 3, 9, 1, 0, 7, 2], 2, r)) for r in range(2)]
    assert shares == [[5, 9, 0, 2], [3, 1, 7, 5]]  # padded by the start, as DistributedSampler pads
    assert list(RemainderSampler([], 2, 1)) == [] and len(RemainderSampler([4, 6], 1, 0)) == 2
