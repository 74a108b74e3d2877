"""glassgrad computes on the CPU: these answer like PyTorch does on a machine without CUDA.

Queries (``is_available``, ``device_count``, ``is_initialized``) and housekeeping
(``manual_seed``, ``manual_seed_all``, ``empty_cache``) answer quietly; calls that need a GPU
(``set_device``, ``current_device``, ``get_device_name``, ``synchronize``) raise a RuntimeError
that says so.
"""


def is_available() -> bool:
    return False


def is_initialized() -> bool:
    return False


def device_count() -> int:
    return 0


def manual_seed(seed) -> None:
    """Accepted and ignored (there is no CUDA generator); the CPU seed is ``glassgrad.manual_seed``."""


def manual_seed_all(seed) -> None:
    """Accepted and ignored, like ``manual_seed``."""


def empty_cache() -> None:
    """Nothing to free on the CPU (glassgrad's own array cache: ``glassgrad.backend.memory``)."""


def _no_gpu(name):
    def call(*args, **kwargs):
        raise RuntimeError(
            f"torch.cuda.{name}: glassgrad runs on the CPU and has no CUDA device; guard GPU code with "
            "torch.cuda.is_available(), or use device='cpu'"
        )

    call.__name__ = name
    call.__doc__ = f"Raises: glassgrad has no CUDA device ({name} needs one)."
    return call


set_device = _no_gpu("set_device")
current_device = _no_gpu("current_device")
get_device_name = _no_gpu("get_device_name")
get_device_properties = _no_gpu("get_device_properties")
synchronize = _no_gpu("synchronize")
