"""Optimizers and learning-rate schedulers with PyTorch's names, defaults and update rules."""

from glassgrad.optim import lr_scheduler
from glassgrad.optim.adagrad import Adagrad
from glassgrad.optim.adam import Adam
from glassgrad.optim.adamw import AdamW
from glassgrad.optim.optimizer import Optimizer
from glassgrad.optim.rmsprop import RMSprop
from glassgrad.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
