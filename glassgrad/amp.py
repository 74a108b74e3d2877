"""``torch.autocast`` / ``torch.amp``: mixed precision, as far as a NumPy framework goes.

PyTorch programs wrap their forward in ``with torch.autocast(device_type=..., dtype=...)`` to run
matrix products in bfloat16 or float16. NumPy has no bfloat16 and its float16 products are
slower than float32, so here autocast changes nothing: inside the block every op computes in its
inputs' dtype (float32 for a float32 model), which is what a program without autocast computes,
to more digits. The state is still tracked (``is_autocast_enabled``, ``get_autocast_dtype``) and
the checks PyTorch makes are made, with its warnings: CUDA autocast is disabled (there is no
GPU), CPU autocast accepts only bfloat16 and float16.
"""

import functools
import warnings

from glassgrad import _dtype

__all__ = ["autocast", "get_autocast_dtype", "is_autocast_available", "is_autocast_enabled"]

_DEVICES = ("cpu", "cuda", "mps", "xpu", "hpu", "mtia", "xla", "meta")
_state = {}  # device type -> (enabled, dtype) while inside an autocast block
_DEFAULT_DTYPE = {"cpu": "bfloat16", "cuda": "float16"}


def is_autocast_available(device_type: str) -> bool:
    return device_type == "cpu"


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether an autocast block for ``device_type`` is open (PyTorch's default asks about CUDA)."""
    return _state.get(device_type, (False, None))[0]


def get_autocast_dtype(device_type: str):
    enabled, dtype = _state.get(device_type, (False, None))
    return dtype if dtype is not None else _dtype.to_dtype(_DEFAULT_DTYPE.get(device_type, "bfloat16"))


class autocast:
    """``with autocast(device_type="cpu", dtype=torch.bfloat16):`` (or as a decorator).

    Accepted and tracked, but ops keep computing in their inputs' dtype (float32 in, float32 out):
    NumPy has no bfloat16, so float32 is what glassgrad can do. See the module docstring.
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type not in _DEVICES:
            raise RuntimeError(f"autocast: unknown device type {device_type!r}; expected one of {', '.join(_DEVICES)}")
        self.device = device_type
        self.fast_dtype = _dtype.to_dtype(dtype if dtype is not None else _DEFAULT_DTYPE.get(device_type, "bfloat16"))
        self._enabled = bool(enabled)
        self._cache_enabled = cache_enabled
        if self._enabled and device_type != "cpu":
            warnings.warn(
                f"User provided device_type of '{device_type}', but it is not available (glassgrad computes on "
                "the CPU only). Disabling autocast.",
                UserWarning,
                stacklevel=2,
            )
            self._enabled = False
        if self._enabled and self.fast_dtype not in (_dtype.bfloat16, _dtype.float16):
            warnings.warn(
                "In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                UserWarning,
                stacklevel=2,
            )
            self._enabled = False

    def __enter__(self):
        self._previous = _state.get(self.device)
        _state[self.device] = (self._enabled, self.fast_dtype)
        return self

    def __exit__(self, *exc):
        if self._previous is None:
            _state.pop(self.device, None)
        else:
            _state[self.device] = self._previous
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled):
                return fn(*args, **kwargs)

        return wrapped
