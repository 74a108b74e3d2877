"""``DataParallel`` as PyTorch behaves with no GPU: a wrapper that calls its module.

Code written for several GPUs wraps its model (``model = nn.DataParallel(model)``) and later
reads ``model.module`` or saves ``model.state_dict()`` whose keys start with ``module.``; on a
CPU-only PyTorch the wrapper splits nothing and forwards every call, and so does this one.
"""

from __future__ import annotations

from typing import Any

from glassgrad.nn.module import Module


class DataParallel(Module):
    """Wraps ``module``; ``forward`` calls it with the same arguments.

    ``device_ids``, ``output_device`` and ``dim`` are accepted for PyTorch's signature and, with no
    GPU to spread over, unused: ``device_ids`` is ``[]`` as in a CPU-only PyTorch.

    Input: whatever ``module`` takes. Output: what ``module`` returns.
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None, dim: int = 0) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: module must be an nn.Module, got {type(module).__name__}")
        self.module = module
        self.device_ids: list = []

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """PyTorch's functional form needs a GPU; without one it raises as PyTorch's does."""
    raise RuntimeError(
        "data_parallel: device type could not be determined: glassgrad has no GPU to spread the module "
        "over; call the module directly (or wrap it in nn.DataParallel, which does)"
    )
