"""Switches for recording the graph: no_grad, enable_grad, set_grad_enabled."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    _F = TypeVar("_F", bound=Callable[..., Any])

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad record a graph."""
    return _grad_enabled


class _GradMode:
    """Base of the grad-mode switches: a context manager and a decorator."""

    def __init__(self, mode: bool) -> None:
        self._mode = mode
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = self._mode

    def __exit__(self, *exc: object) -> Literal[False]:
        global _grad_enabled
        _grad_enabled = self._previous.pop()
        return False

    def __call__(self, func: _F) -> _F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__(*self._ctor_args()):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]  # same signature as func

    def _ctor_args(self) -> tuple[Any, ...]:
        return ()


class _BareDecoratable(_GradMode):
    """Also usable as ``@no_grad`` without parentheses, as PyTorch allows."""

    def __new__(cls, *args: Any) -> Any:
        if len(args) == 1 and callable(args[0]) and not isinstance(args[0], bool):
            return cls()(args[0])
        return super().__new__(cls)


class no_grad(_BareDecoratable):
    """Context manager and decorator under which no graph is recorded."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(_BareDecoratable):
    """Context manager and decorator that turns recording back on inside ``no_grad``."""

    def __init__(self) -> None:
        super().__init__(True)


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` switches recording off; usable as a call, a context or a decorator."""

    def __init__(self, mode: bool) -> None:
        global _grad_enabled
        super().__init__(bool(mode))
        # As a plain call it takes effect at once, like PyTorch's.
        self._previous.append(_grad_enabled)
        _grad_enabled = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> Literal[False]:
        global _grad_enabled
        _grad_enabled = self._previous.pop()
        return False

    def __call__(self, func: _F) -> _F:
        # Used as a decorator, the switch must not stay flipped from the decoration itself.
        global _grad_enabled
        _grad_enabled = self._previous.pop()
        return super().__call__(func)

    def _ctor_args(self) -> tuple[Any, ...]:
        return (self._mode,)


class inference_mode(_BareDecoratable):
    """Same as ``no_grad`` here (PyTorch's lighter variant of it); ``inference_mode(False)`` records."""

    def __init__(self, mode: bool = True) -> None:
        self._inference = bool(mode)
        _GradMode.__init__(self, not mode)

    def _ctor_args(self) -> tuple[Any, ...]:
        return (self._inference,)
