"""``torch.backends.cuda``: not built into glassgrad; ``matmul.allow_tf32`` is settable."""

from types import SimpleNamespace

matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True)


def is_built() -> bool:
    return False
