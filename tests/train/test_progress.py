"""Progress where a person waits: bars in terminals, plain lines in logs, rates that skip replayed steps."""

import io

import pytest

import glassgrad
from glassgrad import nn
from glassgrad.train import Callback, Trainer
from glassgrad.train.data import load_data
from glassgrad.utils import progress as P


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_lines_at_each_tenth_and_every_interval_with_rates_that_skip_initial():
    clock, out = _Clock(), io.StringIO()
    bar = P.LineProgress(100, "epoch 2/3", unit="step", initial=40, stream=out, interval=60, clock=clock)
    for _ in range(20):
        clock.now += 1.0  # 1 step/s in this session; the 40 steps before it took no time here
        bar.update(1)
    lines = out.getvalue().splitlines()
    # 10% marks at 50 and 60 steps; the first is only 10 s in (>= 60/6), so both print.
    assert lines == [
        "epoch 2/3: 50/100 step (50%), 1 step/s, 50s left, 10s elapsed",
        "epoch 2/3: 60/100 step (60%), 1 step/s, 40s left, 20s elapsed",
    ]
    clock.now += 61.0  # a long pause inside a tenth: the interval alone prints a line
    bar.update(1)
    assert out.getvalue().splitlines()[-1].startswith("epoch 2/3: 61/100 step (61%)")
    assert "\r" not in out.getvalue()


def test_the_mode_follows_the_stream(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("GLASSGRAD_PROGRESS", raising=False)
    assert P.mode(Tty()) == "bar" and P.mode(io.StringIO()) == "lines" and P.mode(Tty(), enabled=False) == "off"
    monkeypatch.setenv("GLASSGRAD_PROGRESS", "off")
    assert P.mode(Tty()) == "off"
    monkeypatch.setenv("GLASSGRAD_PROGRESS", "lines")
    assert P.mode(Tty()) == "lines"
    assert isinstance(P.progress(10, "x", stream=io.StringIO()), P.LineProgress)


def _trainer(out_dir=None, callbacks=(), progress=None):
    glassgrad.manual_seed(0)
    data = load_data("digits", batch_size=32, limit=320, test_limit=100)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    optimizer = glassgrad.optim.SGD(model.parameters(), lr=0.05)
    return Trainer(model, optimizer, nn.CrossEntropyLoss(), data.train_loader, data.test_loader, out_dir=out_dir,
                   callbacks=callbacks, progress=progress, report=False)  # fmt: skip


def test_fit_from_python_writes_lines_to_a_log(capsys, monkeypatch):
    # stderr is not a terminal here (as in a log); with a 0 s interval every step would print a line.
    monkeypatch.delenv("GLASSGRAD_PROGRESS", raising=False)
    monkeypatch.setenv("GLASSGRAD_PROGRESS_INTERVAL", "0")
    _trainer().fit(1)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("epoch 1/1: 1/10 step (10%), ") and err[9].startswith("epoch 1/1: 10/10 step (100%)")
    assert [line.split(":")[0] for line in err[10:]] == ["evaluating"]  # 100 test images: one batch
    _trainer(progress=False).fit(1)
    assert capsys.readouterr().err == ""


def test_a_resumed_epoch_counts_only_the_steps_it_trains(tmp_path, monkeypatch):
    class CtrlC(Callback):
        def on_step_end(self, trainer, step, record):
            if step == 4:
                trainer._stop_requested = True

    with pytest.raises(KeyboardInterrupt):
        _trainer(tmp_path, [CtrlC()], progress=False).fit(1)
    made = []

    def recording(self, total, desc, initial=0, unit="step"):
        bar = P.LineProgress(total, desc, unit=unit, initial=initial, stream=io.StringIO())
        made.append(bar)
        return bar

    monkeypatch.setattr(Trainer, "_progress_bar", recording)
    resumed = _trainer(tmp_path)
    resumed.resume(tmp_path / "checkpoint.pt")
    resumed.fit(1)
    train_bar = made[0]
    # It starts at the 4 steps already done and counts the 6 trained now, not 10.
    assert (train_bar.desc, train_bar.initial, train_bar.n, train_bar.total) == ("epoch 1/1", 4, 10, 10)
    assert made[1].desc == "evaluating" and made[1].n == 1


def test_the_notebook_bar_redraws_in_place_and_ends_at_its_count(monkeypatch):
    display = pytest.importorskip("IPython.display", reason="IPython not installed: the notebook bar needs it")
    drawn = []

    class Handle:
        def update(self, bundle, raw):
            assert raw
            drawn.append(bundle)

    def fake_display(bundle, raw, display_id):
        assert raw and display_id is True
        drawn.append(bundle)
        return Handle()

    monkeypatch.setattr(display, "display", fake_display)
    clock = _Clock()
    bar = P.NotebookProgress(5, "epoch 1/1", unit="step", interval=1.0, clock=clock)
    for _ in range(5):
        clock.now += 0.4  # redrawn every 1 s, not at every step
        bar.update(1)
    bar.set_postfix(loss="0.5")
    bar.close()
    bar.close()  # closing twice draws once
    assert [b["text/plain"].split(",")[0] for b in drawn] == [
        "epoch 1/1: 0/5 step (0%)",
        "epoch 1/1: 3/5 step (60%)",
        "epoch 1/1: 5/5 step (100%)",
    ]
    assert '<progress value="5" max="5"' in drawn[-1]["text/html"] and drawn[-1]["text/plain"].endswith("loss=0.5")
