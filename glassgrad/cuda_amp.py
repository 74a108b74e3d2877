"""``torch.cuda.amp``: PyTorch's older CUDA spellings of autocast and GradScaler.

glassgrad has no GPU, so, as on a PyTorch machine without CUDA, both disable themselves with a
warning when enabled and every call passes through: ``with torch.cuda.amp.autocast(enabled=amp):``
and ``GradScaler(enabled=amp)`` run the float32 program unchanged.
"""

from glassgrad import _dtype
from glassgrad import amp as _amp

__all__ = ["GradScaler", "autocast"]


class autocast(_amp.autocast):
    """``torch.cuda.amp.autocast(enabled=True, dtype=torch.float16, cache_enabled=True)``: CUDA autocast, disabled."""

    def __init__(self, enabled: bool = True, dtype=_dtype.float16, cache_enabled: bool = True):
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_amp.GradScaler):
    """``torch.cuda.amp.GradScaler(...)``: a CUDA GradScaler, disabled (every call passes through)."""

    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ):
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)
