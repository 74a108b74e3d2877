"""Training: the ``Trainer`` loop, metrics, checkpoints, reports and dataset loaders.

from glassgrad.train import Trainer
trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), train_loader, test_loader, out_dir="runs/x")
trainer.fit(10)
"""

from glassgrad.train.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from glassgrad.train.metrics import RunningMetrics, confusion_matrix, topk_correct
from glassgrad.train.trainer import Callback, Trainer

__all__ = [
    "Callback",
    "RunningMetrics",
    "Trainer",
    "confusion_matrix",
    "load_checkpoint",
    "model_from_checkpoint",
    "save_checkpoint",
    "topk_correct",
]
