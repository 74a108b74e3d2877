"""Switches for recording the graph: no_grad, enable_grad, set_grad_enabled."""

import functools

_grad_enabled = True


def is_grad_enabled():
    """True when operations on tensors that require grad record a graph."""
    return _grad_enabled


class _GradMode:
    """Base of the grad-mode switches: a context manager and a decorator."""

    def __init__(self, mode):
        self._mode = mode
        self._previous = []

    def __enter__(self):
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = self._mode

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous.pop()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._ctor_args()):
                return func(*args, **kwargs)

        return wrapper

    def _ctor_args(self):
        return ()


class _BareDecoratable(_GradMode):
    """Also usable as ``@no_grad`` without parentheses, as PyTorch allows."""

    def __new__(cls, *args):
        if len(args) == 1 and callable(args[0]) and not isinstance(args[0], bool):
            return cls()(args[0])
        return super().__new__(cls)


class no_grad(_BareDecoratable):
    """Context manager and decorator under which no graph is recorded."""

    def __init__(self):
        super().__init__(False)


class enable_grad(_BareDecoratable):
    """Context manager and decorator that turns recording back on inside ``no_grad``."""

    def __init__(self):
        super().__init__(True)


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` switches recording off; usable as a call, a context or a decorator."""

    def __init__(self, mode):
        global _grad_enabled
        super().__init__(bool(mode))
        # As a plain call it takes effect at once, like PyTorch's.
        self._previous.append(_grad_enabled)
        _grad_enabled = bool(mode)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous.pop()
        return False

    def __call__(self, func):
        # Used as a decorator, the switch must not stay flipped from the decoration itself.
        global _grad_enabled
        _grad_enabled = self._previous.pop()
        return super().__call__(func)

    def _ctor_args(self):
        return (self._mode,)


class inference_mode(_BareDecoratable):
    """Same as ``no_grad`` here (PyTorch's lighter variant of it); ``inference_mode(False)`` records."""

    def __init__(self, mode=True):
        self._inference = bool(mode)
        _GradMode.__init__(self, not mode)

    def _ctor_args(self):
        return (self._inference,)
