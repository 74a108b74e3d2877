"""A trainer callback that logs a run for TensorBoard (``glassgrad train --tensorboard``).

Per step: the loss and the learning rate. Per epoch: loss and accuracy (percent) of train and test,
a histogram of every parameter and of its gradient (taken at the epoch's last step), and the model's
predictions on the first test images (a grid and a table of predicted against true labels). At the
end: the run's hyperparameters beside its final test accuracy, for TensorBoard's HParams tab.
"""

import numpy as np

from glassgrad.autograd import no_grad
from glassgrad.train.trainer import Callback

# Configuration entries that make sense as hyperparameter columns.
_HPARAM_TYPES = (bool, int, float, str)


class TensorBoardLogger(Callback):
    """Writes TensorBoard event files into ``log_dir`` while a ``Trainer`` runs.

    ``samples`` test images are shown with their predictions after every epoch (0: none).
    """

    def __init__(self, log_dir, samples=16, class_names=None):
        from glassgrad.utils.tensorboard import SummaryWriter

        self.log_dir = str(log_dir)
        self.writer = SummaryWriter(self.log_dir)
        self.samples = int(samples)
        self.class_names = class_names
        self._gradients = {}
        self._sample_batch = None

    def on_fit_start(self, trainer):
        if self.class_names is None:
            self.class_names = trainer.class_names
        if trainer.config:
            lines = "\n".join(f"| {key} | {value} |" for key, value in sorted(trainer.config.items()))
            self.writer.add_text("config", "| setting | value |\n|---|---|\n" + lines, trainer.global_step)
        if self.samples and trainer.test_loader is not None:
            inputs, targets = next(iter(trainer.test_loader))[:2]
            self._sample_batch = (inputs[: self.samples], targets[: self.samples])

    def on_after_backward(self, trainer, step, loss):
        steps_per_epoch = len(trainer.train_loader)
        if steps_per_epoch and step % steps_per_epoch == 0:
            self._gradients = {
                name: p.grad.numpy().copy() for name, p in trainer.model.named_parameters() if p.grad is not None
            }

    def on_step_end(self, trainer, step, record):
        self.writer.add_scalar("train/loss", record["loss"], step)
        self.writer.add_scalar("train/lr", record["lr"], step)

    def on_epoch_end(self, trainer, epoch, record):
        for split in ("train", "test"):
            if record.get(f"{split}_loss") is not None:
                self.writer.add_scalar(f"loss/{split}", record[f"{split}_loss"], epoch)
                self.writer.add_scalar(f"accuracy_percent/{split}", 100.0 * record[f"{split}_top1"], epoch)
        self.writer.add_scalar("epoch/lr", record["lr"], epoch)
        if record.get("images_per_s"):
            self.writer.add_scalar("epoch/images_per_s", record["images_per_s"], epoch)
        for name, parameter in trainer.model.named_parameters():
            values = parameter.detach().numpy()
            if values.size and np.isfinite(values).all():
                self.writer.add_histogram(f"weights/{name}", values, epoch)
            gradient = self._gradients.get(name)
            if gradient is not None and gradient.size and np.isfinite(gradient).all():
                self.writer.add_histogram(f"gradients/{name}", gradient, epoch)
        if self._sample_batch is not None:
            self._log_predictions(trainer, epoch)
        self.writer.flush()

    def _log_predictions(self, trainer, epoch):
        inputs, targets = self._sample_batch
        was_training = trainer.model.training
        trainer.model.eval()
        try:
            with no_grad():
                predicted = trainer.model(inputs).numpy().argmax(axis=1)
        finally:
            trainer.model.train(was_training)
        images = inputs.numpy()
        if images.ndim == 4:
            # Normalised inputs are stretched back to [0, 1] per image so that they can be seen.
            low = images.min(axis=(1, 2, 3), keepdims=True)
            high = images.max(axis=(1, 2, 3), keepdims=True)
            self.writer.add_images("predictions", (images - low) / np.maximum(high - low, 1e-12), epoch)
        names = self.class_names or []

        def label(index):
            return names[index] if index < len(names) else str(index)

        rows = [
            f"| {i} | {label(int(p))} | {label(int(t))} | {'yes' if p == t else '**no**'} |"
            for i, (p, t) in enumerate(zip(predicted, targets.numpy()))
        ]
        table = "| image | predicted | true | right |\n|---|---|---|---|\n" + "\n".join(rows)
        self.writer.add_text("predictions", table, epoch)

    def on_fit_end(self, trainer):
        epochs = trainer.history["epochs"]
        if epochs:
            hparams = {k: v for k, v in trainer.config.items() if isinstance(v, _HPARAM_TYPES)}
            final = epochs[-1]
            metrics = {"hparam/train_loss": final["train_loss"]}
            if final.get("test_top1") is not None:
                metrics["hparam/test_accuracy_percent"] = 100.0 * final["test_top1"]
            if hparams:
                self.writer.add_hparams(hparams, metrics, run_name="hparams", global_step=trainer.global_step)
        self.writer.close()
