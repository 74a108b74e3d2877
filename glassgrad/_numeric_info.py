"""``torch.finfo`` and ``torch.iinfo``: the limits of a dtype (``finfo(torch.float32).eps``).

Programs clamp by ``finfo(dtype).eps`` or ``.tiny``, and mask with ``finfo(dtype).min``; the
numbers are NumPy's for the same dtype, returned as Python numbers as PyTorch does.
"""

import numpy as np

from glassgrad import _dtype


class finfo:
    """Limits of a floating-point dtype (default: the default dtype): bits, eps, max, min, tiny,
    smallest_normal, resolution, dtype (the name, as ``'float32'``)."""

    def __init__(self, type=None):
        kind = _dtype.to_dtype(type) if type is not None else _dtype.get_default_dtype()
        if not kind.is_floating_point:
            raise TypeError(
                "torch.finfo() requires a floating point input type. Use torch.iinfo to handle 'torch.finfo'"
            )
        if kind is _dtype.bfloat16:
            # No NumPy type to ask: bfloat16 is float32 with 7 fraction bits (PyTorch's numbers).
            self.bits, self.eps, self.resolution = 16, 2.0**-7, 0.01
            self.max = float((2 - 2.0**-7) * 2.0**127)
            self.min, self.tiny, self.smallest_normal = -self.max, 2.0**-126, 2.0**-126
            self.dtype = kind.name
            return
        info = np.finfo(kind.numpy)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = float(str(info.resolution))  # 1e-06, not the float32 nearest to it widened
        self.dtype = kind.name

    def __repr__(self):
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
            f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})"
        )


class iinfo:
    """Limits of an integer dtype: bits, max, min, dtype (the name, as ``'int64'``)."""

    def __init__(self, type):
        kind = _dtype.to_dtype(type)
        if kind.is_floating_point or kind.name == "bool":
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to handle 'torch.iinfo'")
        info = np.iinfo(kind.numpy)
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = kind.name

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
