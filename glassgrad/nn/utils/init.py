"""``skip_init``: build a module without initialising its parameters (PyTorch's ``torch.nn.utils.skip_init``)."""

from glassgrad.nn import init


def skip_init(module_cls, *args, **kwargs):
    """``module_cls(*args, **kwargs)`` with every ``glassgrad.nn.init`` fill skipped: the parameters
    and buffers have their shapes but hold whatever memory they were given (initialise or load them
    before use). For counting parameters or loading a state dict without the cost of random draws."""
    init._skip.depth = getattr(init._skip, "depth", 0) + 1
    try:
        return module_cls(*args, **kwargs)
    finally:
        init._skip.depth -= 1
