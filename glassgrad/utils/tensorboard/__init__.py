"""TensorBoard logging with ``torch.utils.tensorboard``'s API: ``SummaryWriter``.

The event files are written by the ``tensorboard`` package's own writer and protocol buffers
(``pip install 'glassgrad[tensorboard]'``); glassgrad only turns its tensors, modules and figures into
those records. View a run with ``tensorboard --logdir runs``.
"""

from glassgrad.utils.tensorboard.writer import SummaryWriter

__all__ = ["SummaryWriter"]
