"""torchvision.transforms.v2.functional for images: v1's functional ops plus ``to_image`` and ``to_dtype``."""

import numpy as np
from PIL import Image

from glassgrad.tensor import Tensor
from glassgrad.vision.transforms._color import _np_dtype, max_value
from glassgrad.vision.transforms.functional import *  # noqa: F403
from glassgrad.vision.transforms.functional import pil_to_tensor


def to_image(inpt):
    """A PIL image, an HWC array or a Tensor as a CHW Tensor, values and dtype unchanged."""
    if isinstance(inpt, Image.Image):
        return pil_to_tensor(inpt)
    if isinstance(inpt, np.ndarray):
        a = inpt[:, :, None] if inpt.ndim == 2 else inpt
        if a.ndim != 3:
            raise ValueError(f"to_image: an array must be HW or HWC, got shape {inpt.shape}")
        return Tensor._wrap(np.ascontiguousarray(a.transpose(2, 0, 1)))
    if isinstance(inpt, Tensor):
        return inpt if inpt.ndim >= 3 else Tensor._wrap(inpt.array[None] if inpt.ndim == 2 else inpt.array)
    raise TypeError(f"to_image: expected a PIL image, an ndarray or a Tensor, got {type(inpt).__name__}")


def _value_bits(dtype):
    return {np.dtype(np.uint8): 8, np.dtype(np.int8): 7, np.dtype(np.int16): 15, np.dtype(np.uint16): 16,
            np.dtype(np.int32): 31, np.dtype(np.int64): 63}[dtype]  # fmt: skip


def to_dtype(inpt, dtype, scale=False):
    """``inpt`` cast to ``dtype``; with ``scale=True`` values are rescaled between value ranges.

    v2's scaling: integers to floats multiply by ``1 / max`` (v1 divides by max, which can differ in
    the last float bit), integers to integers shift bits, floats to integers as v1.
    """
    if not isinstance(inpt, Tensor):
        raise TypeError(f"to_dtype: expected a Tensor, got {type(inpt).__name__}; put ToImage() first")
    a, dt = inpt.array, _np_dtype(dtype)
    if a.dtype == dt:
        return inpt
    if not scale:
        return Tensor._wrap(a.astype(dt))
    if a.dtype.kind == "f":
        if dt.kind == "f":
            return Tensor._wrap(a.astype(dt))
        if (a.dtype == np.float32 and dt in (np.int32, np.int64)) or (a.dtype == np.float64 and dt == np.int64):
            raise RuntimeError(f"to_dtype: the conversion from {a.dtype} to {dt} cannot be done safely")
        return Tensor._wrap((a * a.dtype.type(max_value(dt) + 1.0 - 1e-3)).astype(dt))
    if dt.kind == "f":
        return Tensor._wrap(a.astype(dt) * dt.type(1.0 / max_value(a.dtype)))
    shift = _value_bits(a.dtype) - _value_bits(dt)
    if shift > 0:
        return Tensor._wrap((a >> shift).astype(dt))
    return Tensor._wrap(a.astype(dt) << -shift)


def to_pure_tensor(inpt):
    """The tensor itself: glassgrad has no tensor subclasses to strip."""
    return inpt
