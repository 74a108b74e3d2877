"""glassgrad computes on the CPU: these answer like PyTorch does on a machine without CUDA."""


def is_available():
    return False


def device_count():
    return 0


def manual_seed(seed):
    """Accepted and ignored (there is no CUDA generator); the CPU seed is ``glassgrad.manual_seed``."""


def manual_seed_all(seed):
    """Accepted and ignored, like ``manual_seed``."""


def synchronize(device=None):
    """Nothing to wait for on the CPU."""
