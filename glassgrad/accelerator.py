"""``torch.accelerator`` as a CPU-only PyTorch answers it: no accelerator is available.

Programs written for any device ask here first (``torch.accelerator.is_available()``) and fall
back to the CPU; the calls that need a device raise as PyTorch's do without one.
"""


def is_available() -> bool:
    return False


def current_accelerator(check_available: bool = False):
    """None: glassgrad computes on the CPU, which PyTorch does not count as an accelerator."""
    return None


def device_count() -> int:
    return 0


def _no_device(*args, **kwargs):
    raise RuntimeError(
        "Cannot access accelerator device when none is available: glassgrad runs on the CPU; "
        "guard the call with torch.accelerator.is_available()"
    )


current_device_index = current_device_idx = _no_device
set_device_index = set_device_idx = _no_device
synchronize = _no_device
current_stream = set_stream = _no_device


def empty_cache() -> None:
    """Nothing to free: there is no accelerator memory."""
