"""The training loop: epochs over a DataLoader, evaluation, metrics, checkpoints, Ctrl-C, resume.

A ``Trainer`` drives any model, loss, optimizer and scheduler. Its per-step loop calls back into
``Callback`` objects (``on_after_backward`` sees the gradients before the optimizer uses them), so
tools such as a training doctor can watch a run without changing the loop.
"""

import signal
import threading
import time
from pathlib import Path

import numpy as np

from glassgrad.autograd import no_grad
from glassgrad.optim.lr_scheduler import ReduceLROnPlateau
from glassgrad.train import checkpoint as ckpt
from glassgrad.train.metrics import PredictionGallery, RunningMetrics, confusion_matrix, topk_correct


class Callback:
    """Hooks into ``Trainer.fit``; override the ones you need. ``trainer`` gives access to everything
    (``trainer.model``, ``trainer.optimizer``, ``trainer.history``, ``trainer.epoch``, ``trainer.global_step``)."""

    def on_fit_start(self, trainer):
        pass

    def on_epoch_start(self, trainer, epoch):
        pass

    def on_after_backward(self, trainer, step, loss):
        """Gradients are in ``p.grad``; the optimizer has not stepped yet."""

    def on_step_end(self, trainer, step, record):
        pass

    def on_epoch_end(self, trainer, epoch, record):
        pass

    def on_fit_end(self, trainer):
        pass

    def report_section(self, trainer):
        """A section for the run's report.html, or None: ``{"title": str, "lines": [str, ...],
        "images": [path of a PNG, ...]}``. Called after ``on_fit_end``, when the report is written."""
        return None


class _Stop(Exception):
    """Raised inside the loop, between two steps, after Ctrl-C."""


def _length(loader):
    try:
        return len(loader)
    except TypeError:  # an iterable dataset: a count without a total
        return None


def _world():
    """(rank, world size) of this process in data-parallel training; (0, 1) alone."""
    from glassgrad import distributed as dist

    return dist.get_rank(), dist.get_world_size()


def _split_batch(batch):
    if isinstance(batch, (list, tuple)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise ValueError(f"Trainer: a batch must be (inputs, targets), got {type(batch).__name__}")


class Trainer:
    """Train ``model`` with ``optimizer`` on ``loss_fn(model(inputs), targets)``.

    Args:
        train_loader, test_loader: DataLoaders yielding ``(inputs, targets)``; ``test_loader`` may be
            None (no evaluation).
        scheduler: an lr scheduler, stepped once per epoch (``scheduler_interval='epoch'``) or once
            per batch (``'step'``, e.g. OneCycleLR); ReduceLROnPlateau gets the test loss.
        out_dir: where ``checkpoint.pt`` (after every epoch and on Ctrl-C), ``metrics.csv``,
            ``steps.csv`` and ``metrics.json`` go, and, at the end, the report (plots and report.html).
        callbacks: ``Callback`` objects.
        progress: None shows progress on stderr as ``glassgrad.utils.progress`` decides (a bar in
            terminals and notebooks, a plain line now and then in logs); False shows none.
        class_names, config, model_info: stored in checkpoints and the report; ``model_info``
            (``{"name": ..., "kwargs": {...}}``) lets ``glassgrad eval`` rebuild the model.
            ``config`` is written to ``out_dir/config.json`` when ``fit`` starts.
        summary_text: a model summary table for the report.
        resume_state: a checkpoint (as ``load_checkpoint`` returns it) to continue from, as ``resume``.
        checkpoint_every: also write ``checkpoint.pt`` every this many steps, inside epochs (None: only
            after each epoch and on Ctrl-C). A mid-epoch checkpoint names the samples the epoch has left,
            so it resumes under any number of processes or batch size, training each of them once.

    Under several processes (``parallel``, ``metrics_reducer``) every rank runs ``fit`` together: checkpoints
    keep each rank's random streams (see ``_own_rng`` for a resume under another world size), and a Ctrl-C on
    any rank is agreed on after every training and test batch, so ``test_loader`` must have as many batches
    on every rank.

    ``history`` holds ``{"steps": [...], "epochs": [...]}``: per step the loss, top-1, top-5, lr,
    images/s and time; per epoch the train and test loss/top-1/top-5, lr, images/s and times.
    """

    def __init__(
        self,
        model,
        optimizer,
        loss_fn,
        train_loader,
        test_loader=None,
        scheduler=None,
        *,
        scheduler_interval="epoch",
        out_dir=None,
        callbacks=(),
        progress=None,
        class_names=None,
        config=None,
        model_info=None,
        report=True,
        summary_text=None,
        resume_state=None,
        checkpoint_every=None,
    ):
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.train_loader = train_loader
        self.test_loader = test_loader
        self.scheduler = scheduler
        self.scheduler_interval = scheduler_interval
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.callbacks = list(callbacks)
        self.progress = None if progress is None else bool(progress)
        self.class_names = list(class_names) if class_names is not None else None
        self.config = dict(config or {})
        self.model_info = model_info
        self.report = report
        self.summary_text = summary_text
        self.history = {"steps": [], "epochs": []}
        self.epoch = 0  # completed epochs
        self.global_step = 0
        self.last_confusion = None
        self.last_gallery = None  # test images with their predictions, from the last evaluation
        self.checkpoint_path = None
        self._resume = None  # mid-epoch position from a checkpoint
        if checkpoint_every is not None and int(checkpoint_every) < 1:
            raise ValueError(f"Trainer: checkpoint_every must be a positive number of steps, got {checkpoint_every}")
        self.checkpoint_every = None if checkpoint_every is None else int(checkpoint_every)
        self._epoch_loader = train_loader  # this epoch's: train_loader, or the rest of an interrupted epoch
        self._stop_requested = False
        # Data parallel (glassgrad.train.distributed): the DistributedDataParallel wrapping ``model``
        # that training steps call, and a function turning an epoch's RunningMetrics into global sums.
        self.parallel = None
        self.metrics_reducer = None
        if resume_state is not None:
            self.load_state_dict(resume_state)

    @property
    def resuming_mid_epoch(self):
        """True when a loaded checkpoint stopped inside an epoch (``fit`` finishes that epoch first)."""
        return self._resume is not None

    # ----- state -----
    def state_dict(self, step_in_epoch=0, running=None, epoch_start_rng=None, rank_rng=None):
        """The run as a checkpoint. ``rank_rng``: every rank's ``{"rng", "epoch_start_rng"}`` in rank order
        (``ckpt.gather_rng_states``); None stores this process's alone."""
        if rank_rng is None and _world()[1] == 1:
            rank_rng = [{"rng": ckpt.rng_states(self.train_loader), "epoch_start_rng": epoch_start_rng}]
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch": self.epoch,
            "global_step": self.global_step,
            "step_in_epoch": step_in_epoch,
            "running": running.state_dict() if running is not None else None,
            "rng": ckpt.rng_states(self.train_loader),
            "epoch_start_rng": epoch_start_rng,
            # Each rank's own streams, so that a run of the same world size carries on with each of them.
            "rank_rng": rank_rng,
            # Which samples the epoch has left, in its global order, and the run that wrote it: a run with
            # another world size or batch continues from these (a run like this one replays the epoch).
            "remaining": self._remaining(step_in_epoch) if step_in_epoch else None,
            "world_size": _world()[1],
            "per_process_batch": getattr(self.train_loader, "batch_size", None),
            "replayable": self._epoch_loader is self.train_loader,
            "history": self.history,
            "confusion": self.last_confusion,
            "class_names": self.class_names,
            "config": self.config,
            "model_info": self.model_info,
        }
        return state

    def load_state_dict(self, state):
        state = self._own_rng(dict(state))
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.history = {"steps": list(state["history"]["steps"]), "epochs": list(state["history"]["epochs"])}
        self.last_confusion = state.get("confusion")
        ckpt.set_rng_states(state["rng"], self.train_loader)
        if state.get("step_in_epoch"):
            if not self._replays(state) and state.get("remaining") is None:
                raise ValueError(
                    f"the checkpoint stopped inside an epoch, with {state.get('world_size', 1)} processes and batch "
                    f"{state.get('per_process_batch')}, but does not say which samples were left (its loader's "
                    "order is unknown); resume it with the same number of processes and batch size"
                )
            self._resume = state
        return self

    def _own_rng(self, state):
        """``state`` with this rank's random streams as its ``rng`` and ``epoch_start_rng``.

        A checkpoint of the same world size holds every rank's streams (``rank_rng``): each rank takes its
        own, and the run goes on as if it had not stopped. One from another world size (or one that kept
        rank 0's alone) gives each rank streams derived from (the run's seed, rank, epoch, global step), see
        ``checkpoint.derived_rng_states``: deterministic and different on every rank.
        """
        rank, size = _world()
        per_rank = state.get("rank_rng")
        if per_rank is not None and len(per_rank) == size:
            state["rng"] = per_rank[rank]["rng"]
            state["epoch_start_rng"] = per_rank[rank]["epoch_start_rng"]
        elif size > 1 or state.get("world_size", 1) != size:
            seed = ckpt.state_seed(state)
            state["rng"] = ckpt.derived_rng_states(seed, rank, state["epoch"], state["global_step"], self.train_loader)
            # Replaying an epoch (an old checkpoint of this world size) starts from the same derived streams.
            state["epoch_start_rng"] = state["rng"]
        return state

    def _gathered_rng(self, epoch_start_rng):
        """Every rank's streams now and at the epoch's start, on rank 0 (a collective, called by every rank)."""
        mine = {"rng": ckpt.rng_states(self.train_loader), "epoch_start_rng": epoch_start_rng}
        return ckpt.gather_rng_states(mine) if _world()[1] > 1 else None

    def _stop_agreed(self):
        """Whether to stop after this step. Several processes agree (any rank's Ctrl-C stops all at the
        same step), so that they checkpoint together and none waits alone in the next step's all-reduce."""
        if _world()[1] > 1:
            from glassgrad import distributed as dist
            from glassgrad.tensor import Tensor

            flag = Tensor(np.array([1.0 if self._stop_requested else 0.0]))
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            self._stop_requested = bool(flag.numpy()[0] > 0)
        return self._stop_requested

    def _remaining(self, steps):
        """The epoch's samples not yet trained after ``steps`` steps of every rank, or None when unknown."""
        order = getattr(getattr(self._epoch_loader, "sampler", None), "epoch_order", None)
        order = order() if order is not None else None
        if order is None:
            return None
        done = steps * int(self._epoch_loader.batch_size) * _world()[1]
        return np.asarray(order[done:], dtype=np.int64)

    def _rest_of_epoch_loader(self, resume):
        """This rank's loader over the samples a checkpoint from another world size or batch had left."""
        from glassgrad.train.distributed import remainder_loader

        remaining = resume["remaining"]  # present: load_state_dict checked
        rank, size = _world()
        return remainder_loader(self.train_loader, np.asarray(remaining).tolist(), size, rank)

    def _replays(self, resume):
        """Whether the interrupted epoch can be replayed as it was (same loader, world size and batch)."""
        return (
            resume.get("replayable", True)
            and resume.get("world_size", 1) == _world()[1]
            and resume.get("per_process_batch", self.train_loader.batch_size) == self.train_loader.batch_size
        )

    def save_checkpoint(self, path=None, **position):
        path = Path(path) if path is not None else self.out_dir / "checkpoint.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        ckpt.save_checkpoint(self.state_dict(**position), path)
        self.checkpoint_path = path
        return path

    def resume(self, path):
        """Continue from a checkpoint: the run goes on exactly as if it had not stopped."""
        return self.load_state_dict(ckpt.load_checkpoint(path))

    # ----- loop -----
    def _call(self, event, *args):
        for callback in self.callbacks:
            getattr(callback, event)(self, *args)

    def _current_lr(self):
        return float(self.optimizer.param_groups[0]["lr"])

    def _install_sigint(self):
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum, frame):
            if self._stop_requested:  # a second Ctrl-C stops at once
                raise KeyboardInterrupt
            self._stop_requested = True

        return signal.signal(signal.SIGINT, handler)

    def fit(self, epochs):
        """Train until ``epochs`` epochs are complete (counting those of a resumed run); returns ``history``.

        Ctrl-C finishes the current step, saves ``checkpoint.pt`` (if ``out_dir``) and raises
        ``KeyboardInterrupt``; ``resume`` on that file continues as if nothing had happened.
        """
        self._stop_requested = False
        if self.out_dir is not None:
            from glassgrad.train.report import write_json

            self.out_dir.mkdir(parents=True, exist_ok=True)
            write_json(self.out_dir / "config.json", self.config)
        previous = self._install_sigint()
        self._call("on_fit_start")
        try:
            while self.epoch < epochs:
                self._run_epoch(epochs)
        except _Stop:
            raise KeyboardInterrupt(f"training interrupted; checkpoint: {self.checkpoint_path}") from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        self._call("on_fit_end")
        if self.out_dir is not None and self.report:
            from glassgrad.train.report import write_report

            write_report(self)
        return self.history

    def _progress_bar(self, total, desc, initial=0, unit="step"):
        from glassgrad.utils.progress import progress

        return progress(total, desc, unit=unit, initial=initial, enabled=False if self.progress is False else None)

    def _run_epoch(self, epochs):
        resume, self._resume = self._resume, None
        running = RunningMetrics()
        skip = 0
        loader = self.train_loader
        if resume is not None:
            epoch_start_rng = resume["epoch_start_rng"]
            if self._replays(resume):
                skip = int(resume["step_in_epoch"])
                ckpt.set_rng_states(epoch_start_rng, self.train_loader)
            else:
                loader = self._rest_of_epoch_loader(resume)
                ckpt.set_rng_states(resume["rng"], self.train_loader)
            # The sums so far count every rank's samples (see _checkpoint_mid_epoch): one rank holds them.
            if resume.get("running") and _world()[0] == 0:
                running.load_state_dict(resume["running"])
        else:
            epoch_start_rng = ckpt.rng_states(self.train_loader)
        self._epoch_loader = loader
        epoch = self.epoch + 1
        self._call("on_epoch_start", epoch)
        self.model.train()
        started = time.perf_counter()
        train_time = 0.0
        images_now = 0  # images trained in this session (a resumed epoch counts only its remaining steps)
        bar = None
        position = 0
        try:
            tick = time.perf_counter()
            for position, batch in enumerate(loader, 1):
                if position <= skip:
                    # Replaying the loader from the epoch's start gives the same order; the streams
                    # as they were after the last finished step come back before the next batch.
                    if position == skip:
                        ckpt.set_rng_states(resume["rng"], self.train_loader)
                    tick = time.perf_counter()
                    continue
                if bar is None:
                    # Made after the replay, starting at the steps already done: its rate and time
                    # left count only the steps this session trains.
                    bar = self._progress_bar(_length(loader), f"epoch {epoch}/{epochs}", initial=skip)
                record = self._train_step(batch, running, epoch, tick)
                train_time += record["time"]
                images_now += record["images"]
                tick = time.perf_counter()
                bar.update(1)
                bar.set_postfix(
                    loss=f"{record['loss']:.4f}",
                    acc=f"{record['top1']:.3f}",
                    img_s=f"{record['images_per_s'] or 0:.0f}",
                )
                self._interrupt(position, running, epoch_start_rng)
                if self.checkpoint_every and self.global_step % self.checkpoint_every == 0:
                    if position != _length(loader):  # the epoch's own checkpoint comes next
                        self._checkpoint_mid_epoch(position, running, epoch_start_rng)
        finally:
            if bar is not None:
                bar.close()
        epoch_time = time.perf_counter() - started
        if self.metrics_reducer is not None:
            self.metrics_reducer(running)
        train = running.result()
        lr_used = self._current_lr()
        test = {}
        eval_time = 0.0
        if self.test_loader is not None:
            t0 = time.perf_counter()
            test = self.evaluate(
                self.test_loader,
                stop_check=lambda: self._interrupt(position, running, epoch_start_rng, reduced=True),
            )
            eval_time = time.perf_counter() - t0
            self.last_confusion = test.pop("confusion").tolist()
        if self.scheduler is not None and self.scheduler_interval == "epoch":
            if isinstance(self.scheduler, ReduceLROnPlateau):
                self.scheduler.step(test.get("loss", train["loss"]))
            else:
                self.scheduler.step()
        record = {
            "epoch": epoch,
            "train_loss": train["loss"],
            "train_top1": train["top1"],
            "train_top5": train["top5"],
            "test_loss": test.get("loss"),
            "test_top1": test.get("top1"),
            "test_top5": test.get("top5"),
            "lr": lr_used,
            "images_per_s": images_now / train_time if train_time > 0 else None,
            "epoch_time": epoch_time,
            "eval_time": eval_time,
        }
        self.history["epochs"].append(record)
        self.epoch = epoch
        rank_rng = self._gathered_rng(None)
        if self.out_dir is not None:
            self.save_checkpoint(rank_rng=rank_rng)
            from glassgrad.train.report import write_metrics

            write_metrics(self.out_dir, self.history)
        self._call("on_epoch_end", epoch, record)
        return record

    def _train_step(self, batch, running, epoch, tick):
        inputs, targets = _split_batch(batch)
        lr = self._current_lr()
        self.optimizer.zero_grad()
        outputs = (self.model if self.parallel is None else self.parallel)(inputs)
        loss = self.loss_fn(outputs, targets)
        loss.backward()
        self.global_step += 1
        self._call("on_after_backward", self.global_step, loss)
        self.optimizer.step()
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()
        loss_value = float(loss.item())
        n = int(targets.shape[0])
        top1, top5 = topk_correct(outputs.detach().numpy(), targets.numpy())
        running.update(loss_value, n, top1, top5)
        elapsed = time.perf_counter() - tick
        record = {
            "step": self.global_step,
            "epoch": epoch,
            "images": n,
            "loss": loss_value,
            "top1": top1 / n,
            "top5": top5 / n,
            "lr": lr,
            "images_per_s": n / elapsed if elapsed > 0 else None,
            "time": elapsed,
        }
        self.history["steps"].append(record)
        self._call("on_step_end", self.global_step, record)
        return record

    def _checkpoint_mid_epoch(self, position, running, epoch_start_rng, reduced=False):
        # Every rank reaches this step together: the metrics so far are summed over ranks, and the
        # rank that writes (the one with out_dir) stores those, so any world size can carry on from them;
        # every rank's random streams go with them.
        if self.metrics_reducer is not None and not reduced:
            total = RunningMetrics()
            total.load_state_dict(running.state_dict())
            self.metrics_reducer(total)
            running = total
        rank_rng = self._gathered_rng(epoch_start_rng)
        if self.out_dir is not None:
            self.save_checkpoint(
                step_in_epoch=position, running=running, epoch_start_rng=epoch_start_rng, rank_rng=rank_rng
            )

    def _interrupt(self, position, running, epoch_start_rng, reduced=False):
        """After Ctrl-C on any rank, every rank checkpoints at the same step and stops (``reduced``: the
        epoch's metrics are already global, as during evaluation)."""
        if not self._stop_agreed():
            return
        self._checkpoint_mid_epoch(position, running, epoch_start_rng, reduced=reduced)
        raise _Stop

    def evaluate(self, loader=None, stop_check=None):
        """Loss, top-1, top-5, images/s and the confusion matrix of the model on ``loader`` (eval mode, no grad)."""
        loader = loader if loader is not None else self.test_loader
        was_training = self.model.training
        self.model.eval()
        running = RunningMetrics()
        predictions, labels = [], []
        gallery = PredictionGallery()
        started = time.perf_counter()
        num_classes = 0
        bar = self._progress_bar(_length(loader), "evaluating", unit="batch")
        try:
            with no_grad():
                for batch in loader:
                    inputs, targets = _split_batch(batch)
                    outputs = self.model(inputs)
                    loss = float(self.loss_fn(outputs, targets).item())
                    logits = outputs.numpy()
                    target_array = targets.numpy()
                    top1, top5 = topk_correct(logits, target_array)
                    running.update(loss, int(target_array.shape[0]), top1, top5)
                    predictions.append(logits.argmax(axis=1))
                    gallery.add(inputs.numpy(), logits, target_array)
                    labels.append(target_array)
                    num_classes = max(num_classes, logits.shape[1])
                    bar.update(1)
                    if stop_check is not None:  # agreed between ranks, so asked after every batch
                        stop_check()
        finally:
            bar.close()
            self.model.train(was_training)
        elapsed = time.perf_counter() - started
        result = running.result()
        if self.class_names:
            num_classes = max(num_classes, len(self.class_names))
        preds = np.concatenate(predictions) if predictions else np.zeros(0, np.int64)
        truth = np.concatenate(labels) if labels else np.zeros(0, np.int64)
        result["confusion"] = confusion_matrix(preds, truth, num_classes)
        self.last_gallery = gallery
        result["images_per_s"] = result["images"] / elapsed if elapsed > 0 else None
        result["time"] = elapsed
        return result
