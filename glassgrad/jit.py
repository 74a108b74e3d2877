"""``torch.jit``: glassgrad has no TorchScript; ``script`` and ``trace`` return what they are given.

Programs call them to speed up or export a model; under glassgrad the model runs eagerly, with the
same results, so the decorated function or module is returned unchanged.
"""


def script(obj=None, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Return ``obj`` unchanged (also usable as a bare decorator)."""
    return obj


def trace(func, example_inputs=None, *args, **kwargs):
    """Return ``func`` unchanged; ``example_inputs`` is not run."""
    return func


def ignore(drop=False, **kwargs):
    """A decorator that leaves the function as it is."""
    if callable(drop):
        return drop
    return lambda fn: fn


unused = export = ignore


def is_scripting():
    """False: glassgrad code always runs eagerly (torch code asks before TorchScript-only branches)."""
    return False


def is_tracing():
    """False: glassgrad never traces through torch.jit."""
    return False
