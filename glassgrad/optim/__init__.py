"""Optimizers and learning-rate schedulers with PyTorch's names, defaults and update rules."""

from glassgrad.optim import lr_scheduler, swa_utils
from glassgrad.optim.adadelta import Adadelta
from glassgrad.optim.adagrad import Adagrad
from glassgrad.optim.adam import Adam
from glassgrad.optim.adamax import Adamax
from glassgrad.optim.adamw import AdamW
from glassgrad.optim.asgd import ASGD
from glassgrad.optim.lbfgs import LBFGS
from glassgrad.optim.nadam import NAdam
from glassgrad.optim.optimizer import Optimizer
from glassgrad.optim.radam import RAdam
from glassgrad.optim.rmsprop import RMSprop
from glassgrad.optim.rprop import Rprop
from glassgrad.optim.sgd import SGD

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Rprop",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "NAdam",
    "RAdam",
    "ASGD",
    "LBFGS",
    "lr_scheduler",
    "swa_utils",
]
