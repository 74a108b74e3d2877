"""``torch.backends.cudnn`` on a machine without CUDA: not available, its switches settable.

Programs set ``cudnn.benchmark = True`` or ``cudnn.deterministic = True`` before training; the
values are kept (and read back) but change nothing, since glassgrad has no cuDNN.
"""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    return False


def version() -> None:
    return None
