"""Process-wide switches PyTorch programs set: matmul precision, determinism (compile is glassgrad.compiler)."""

_precision = "highest"
_deterministic = False
_deterministic_warn_only = False


def set_float32_matmul_precision(precision: str) -> None:
    """Accepts 'highest', 'high' or 'medium'; glassgrad's float32 products are always full precision."""
    global _precision
    if precision not in ("highest", "high", "medium"):
        raise ValueError(f"set_float32_matmul_precision: {precision!r} is not one of 'highest', 'high', 'medium'")
    _precision = precision


def get_float32_matmul_precision() -> str:
    return _precision


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Recorded; glassgrad's ops are deterministic already (the same bits whatever the thread count)."""
    global _deterministic, _deterministic_warn_only
    _deterministic, _deterministic_warn_only = bool(mode), bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _deterministic_warn_only
