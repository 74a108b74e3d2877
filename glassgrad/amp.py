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
import math
import warnings

import numpy as np

from glassgrad import _dtype

__all__ = ["GradScaler", "autocast", "get_autocast_dtype", "is_autocast_available", "is_autocast_enabled"]

_DEVICES = ("cpu", "cuda", "mps", "xpu", "hpu", "mtia", "xla", "meta")
_state: dict = {}  # device type -> (enabled, dtype) while inside an autocast block
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


class GradScaler:
    """Loss scaling for float16 training: ``scaler.scale(loss).backward(); scaler.step(opt); scaler.update()``.

    As PyTorch's: ``scale`` multiplies the loss by the scale, ``unscale_``/``step`` divide the
    gradients back and skip the step when any is inf or NaN, ``update`` halves the scale after a
    skipped step and doubles it after ``growth_interval`` clean ones. For ``device="cuda"`` (the
    default) it disables itself with PyTorch's warning, so every call passes through unchanged.
    """

    def __init__(
        self,
        device: str = "cuda",
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ):
        if enabled and device != "cpu":
            warnings.warn(
                f"torch.{device}.amp.GradScaler is enabled, but {device.upper()} is not available (glassgrad computes "
                "on the CPU only).  Disabling.",
                UserWarning,
                stacklevel=2,
            )
            enabled = False
        if growth_factor <= 1.0 or not 0.0 < backoff_factor < 1.0:
            raise ValueError("GradScaler: growth_factor must be > 1 and backoff_factor in (0, 1)")
        self._device, self._enabled = device, enabled
        self._scale, self._growth_factor, self._backoff_factor = float(init_scale), growth_factor, backoff_factor
        self._growth_interval, self._growth_tracker = int(growth_interval), 0
        self._unscaled: dict = {}  # id(optimizer) -> whether inf/NaN was found when its gradients were unscaled

    def is_enabled(self) -> bool:
        return self._enabled

    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self):
        return self._growth_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def get_growth_interval(self):
        return self._growth_interval

    def scale(self, outputs):
        """``outputs`` (a tensor, or a list/tuple of them) times the current scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        return outputs * self._scale

    def unscale_(self, optimizer):
        """Divide ``optimizer``'s gradients by the scale (once per step), noting any inf or NaN."""
        if not self._enabled:
            return
        if id(optimizer) in self._unscaled:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        inverse = 1.0 / self._scale
        found = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    grad = p.grad.array
                    grad *= np.asarray(inverse, dtype=grad.dtype)
                    found = found or not bool(np.isfinite(grad).all())
        self._unscaled[id(optimizer)] = found

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step()`` unless the unscaled gradients hold inf or NaN (then nothing; returns None)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if id(optimizer) not in self._unscaled:
            self.unscale_(optimizer)
        if self._unscaled[id(optimizer)]:
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        """Back off after a skipped step, grow after ``growth_interval`` clean ones; or set ``new_scale``."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale.item() if hasattr(new_scale, "item") else new_scale)
        elif any(self._unscaled.values()):
            self._scale *= self._backoff_factor
            self._growth_tracker = 0
        elif self._unscaled:
            self._growth_tracker += 1
            if self._growth_tracker == self._growth_interval:
                grown = self._scale * self._growth_factor
                self._scale = grown if math.isfinite(grown) else self._scale
                self._growth_tracker = 0
        self._unscaled = {}

    def state_dict(self):
        if not self._enabled:
            return {}
        return {
            "scale": self._scale,
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if not state_dict:
            raise RuntimeError(
                "The source state dict is empty, possibly because it was saved from a disabled instance of GradScaler."
            )
        self._scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])
