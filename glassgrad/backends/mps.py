"""``torch.backends.mps``: Apple's Metal backend, not built into glassgrad."""


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False
