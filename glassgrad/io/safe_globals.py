"""The classes and functions a checkpoint may name: PyTorch's ``torch.serialization`` allowlist.

``glassgrad.save(model)`` stores a whole module as the name of its class and its attributes;
``glassgrad.load`` rebuilds it only if the program allowed that class (``add_safe_globals`` or
``with safe_globals([...])``, as PyTorch's ``weights_only`` load asks) or the class is glassgrad's
own. Nothing is imported on a file's say-so except glassgrad's own modules, and no code of the
file runs: the instance is made with ``cls.__new__`` and given the stored attributes.
"""

import contextlib
import importlib
import threading
from typing import Any

__all__ = ["add_safe_globals", "clear_safe_globals", "get_safe_globals", "global_name", "resolve", "safe_globals"]

_ALLOWED: dict[str, Any] = {}
_OWN = ("glassgrad.nn.", "glassgrad.ops.", "glassgrad.vision.models.")
_LOCAL = threading.local()


def global_name(obj: Any) -> str:
    """``module:qualname``, the name under which a class or function is stored."""
    return f"{obj.__module__}:{obj.__qualname__}"


def add_safe_globals(objects: Any) -> None:
    """Allow ``load`` to rebuild instances of these classes (and refer to these functions)."""
    for obj in objects:
        if isinstance(obj, tuple):  # PyTorch's (object, "module.name") form
            obj = obj[0]
        _ALLOWED[global_name(obj)] = obj


def get_safe_globals() -> list:
    return list(_ALLOWED.values()) + list(getattr(_LOCAL, "extra", {}).values())


def clear_safe_globals() -> None:
    _ALLOWED.clear()


@contextlib.contextmanager
def safe_globals(objects):
    """``with safe_globals([Net, ...]): model = glassgrad.load(f)``: allowed inside the block only."""
    previous = getattr(_LOCAL, "extra", {})
    extra = dict(previous)
    for obj in objects:
        obj = obj[0] if isinstance(obj, tuple) else obj
        extra[global_name(obj)] = obj
    _LOCAL.extra = extra
    try:
        yield
    finally:
        _LOCAL.extra = previous


def resolve(name: str) -> Any:
    """The allowed object stored as ``name``, or None when it is not allowed."""
    allowed = _ALLOWED.get(name) or getattr(_LOCAL, "extra", {}).get(name)
    if allowed is not None:
        return allowed
    module, _, qualname = name.partition(":")
    # glassgrad's layers, functionals and model builders only: a stored function may end up
    # called by a forward, and nothing there touches files or processes.
    if not module.startswith(_OWN):
        return None
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return obj if (getattr(obj, "__module__", None) or "").startswith(_OWN) else None
