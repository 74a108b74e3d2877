"""Modules across the border with PyTorch: ``to_torch(module)`` and ``from_torch(torch_module)``.

A layer both libraries have (``Conv2d``, ``BatchNorm2d``, ``Sequential``, ...) is rebuilt on the other
side from its constructor attributes, found by class name. A class of your own becomes, on the other
side, a subclass made on the fly: its methods keep their code, with the module-level names they use
(``torch``/``glassgrad``, ``nn``, ``F``, functions imported from either) bound to the other library, so
``forward`` runs there unchanged. Parameters and buffers are copied, in the same order, under the same
names; the training flag follows. A layer the other side lacks is an error naming it.

torch is imported here only, when a function is called: glassgrad itself never needs it.
"""

import importlib
import inspect
import types

import numpy as np

import glassgrad
from glassgrad import nn

# Kept: a constructor argument's default when the instance has no attribute of that name.
_SKIP_ARGS = {"self", "device", "dtype"}
_PLAIN = (bool, int, float, complex, str, bytes, type(None))


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("glassgrad.interop needs PyTorch: pip install torch") from None
    return torch


class _Side:
    """One library as seen from the converter: its root package, ``nn``, and how tensors cross into it."""

    def __init__(self, root):
        self.root = root
        self.name = root.__name__
        self.nn = importlib.import_module(self.name + ".nn")
        self.Module = self.nn.Module
        self.base_keys = set(self.Module().__dict__)
        self.classes = {}  # source class -> class made on this side

    def owns(self, cls):
        return cls.__module__ == self.name + ".nn" or cls.__module__.startswith(self.name + ".nn.")


def _sides():
    torch = _torch()
    global _SIDES
    if _SIDES is None:
        _SIDES = {"torch": _Side(torch), "glassgrad": _Side(glassgrad)}
    return _SIDES


_SIDES = None


def _tensor_to(value, dst, parameter=False):
    array = np.array(value.detach().cpu().numpy() if dst.name == "glassgrad" else value.detach().numpy())
    if dst.name == "torch":
        torch = dst.root
        out = torch.from_numpy(array)
        return torch.nn.Parameter(out, requires_grad=value.requires_grad) if parameter else out
    out = glassgrad.from_numpy(array)
    return nn.Parameter(out, requires_grad=value.requires_grad) if parameter else out


def _counterpart(obj, src, dst):
    """The object named like ``obj`` on the other side (a module, function or class), or ``obj``."""
    if isinstance(obj, types.ModuleType):
        name = obj.__name__
        if name == src.name or name.startswith(src.name + "."):
            try:
                return importlib.import_module(dst.name + name[len(src.name) :])
            except ImportError:
                return obj
        return obj
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__name__", None)
    if not isinstance(module, str) or not isinstance(name, str) or not module.startswith(src.name):
        return obj
    original = _original(obj, src, dst)
    if original is not None:
        return original
    candidates = [dst.name + module[len(src.name) :], dst.name, dst.name + ".nn", dst.name + ".nn.functional"]
    for candidate in candidates:
        try:
            found = getattr(importlib.import_module(candidate), name, None)
        except Exception:  # e.g. torch.ops.* are not importable modules
            continue
        if found is not None:
            return found
    return obj


def _original(cls, src, dst):
    """The class on ``dst``'s side that ``cls`` was made from by an earlier conversion, or None."""
    for source, made in src.classes.items():
        if made is cls:
            return source
    return None


def _rebound(function, src, dst):
    """``function`` with its code unchanged and its module-level names pointing to the other side."""
    scope = {k: _counterpart(v, src, dst) for k, v in function.__globals__.items()}
    clone = types.FunctionType(function.__code__, scope, function.__name__, function.__defaults__, function.__closure__)
    clone.__kwdefaults__ = function.__kwdefaults__
    clone.__qualname__, clone.__doc__ = function.__qualname__, function.__doc__
    return clone


def _value_to(value, src, dst):
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (tuple, list)):
        items = [_value_to(v, src, dst) for v in value]
        return type(value)(items) if not hasattr(value, "_fields") else type(value)(*items)
    if isinstance(value, dict):
        return {k: _value_to(v, src, dst) for k, v in value.items()}
    if isinstance(value, src.root.Tensor):
        return _tensor_to(value, dst)
    if isinstance(value, type) and src.owns(value):
        return getattr(dst.nn, value.__name__, value)
    return value


# The settings of the recurrent layers, which both libraries keep as attributes of those names.
_RNN_SETTINGS = ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional")
_RECURRENT = {"RNN": (*_RNN_SETTINGS, "nonlinearity"), "LSTM": _RNN_SETTINGS, "GRU": _RNN_SETTINGS}
# Layers that live beside Linear without an nn-level name (MultiheadAttention's out_proj).
_LINEAR_MODULE_ONLY = ("NonDynamicallyQuantizableLinear",)
_LINEAR_MODULE = {"torch": "torch.nn.modules.linear", "glassgrad": "glassgrad.nn.linear"}


def _leaf_class(cls, src, dst, path):
    """The class on the other side standing for the library class in ``cls``'s ancestry."""
    base = next(k for k in cls.__mro__ if src.owns(k))
    target = getattr(dst.nn, base.__name__, None)
    if target is None and base.__name__ in _LINEAR_MODULE_ONLY:
        # Not exported under nn, but both libraries define it beside Linear.
        module = importlib.import_module(_LINEAR_MODULE[dst.name])
        target = getattr(module, base.__name__, None)
    if not isinstance(target, type) or not issubclass(target, dst.Module):
        raise TypeError(
            f"{path or 'the module'}: {src.name}.nn.{base.__name__} has no counterpart in {dst.name}.nn; "
            "replace that layer with one both libraries have"
        )
    return base, target


def _constructed(module, base, target, path):
    """An instance of the library class ``target`` built from ``module``'s constructor attributes."""
    signature = inspect.signature(target.__init__)
    if base.__name__ in ("Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"):
        return target()  # the children, parameters and buffers are added by name afterwards
    kwargs = {}
    parameters = dict(signature.parameters)
    if base.__name__ in _RECURRENT:
        # RNN, LSTM and GRU take (*args, **kwargs) on both sides; their settings are attributes.
        names = _RECURRENT[base.__name__] + (("proj_size",) if getattr(module, "proj_size", 0) else ())
        return target(**{name: getattr(module, name) for name in names})
    for name, p in parameters.items():
        if name in _SKIP_ARGS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if name in ("bias", "affine", "elementwise_affine") and name not in module.__dict__:
            # Stored as a parameter (or None), not as the flag the constructor took.
            tensor = module._parameters.get("bias" if name == "bias" else "weight")
            kwargs[name] = tensor is not None
            continue
        if hasattr(module, name):
            value = getattr(module, name)
            if isinstance(value, (glassgrad.Tensor,)) or type(value).__name__ == "Tensor":
                continue
            kwargs[name] = value
        elif p.default is p.empty:
            raise TypeError(
                f"{path or 'the module'}: cannot rebuild {type(module).__name__}: it has no attribute {name!r}, "
                f"which {target.__module__}.{target.__name__} requires"
            )
    try:
        return target(**kwargs)
    except Exception as error:
        raise TypeError(f"{path or 'the module'}: cannot rebuild {type(module).__name__}({kwargs}): {error}") from None


def _custom_class(cls, base_target, src, dst):
    """A subclass of ``base_target`` with ``cls``'s own methods, rebound to the other side."""
    if cls in dst.classes:
        return dst.classes[cls]
    namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__}
    for klass in reversed(cls.__mro__):
        if klass is object or src.owns(klass):
            continue
        for key, value in vars(klass).items():
            if key in ("__init__", "__dict__", "__weakref__", "__module__", "__qualname__", "__doc__"):
                continue
            if key.startswith("__") and key.endswith("__") and not isinstance(value, types.FunctionType):
                continue
            if isinstance(value, types.FunctionType):
                value = _rebound(value, src, dst)
            namespace[key] = value

    def __init__(self, *args, **kwargs):
        raise TypeError(
            f"{cls.__name__} was made by glassgrad.interop from a {src.name} module; build it on its own side "
            "and convert it, or call the original class"
        )

    namespace["__init__"] = __init__
    made = type(cls.__name__, (base_target,), namespace)
    dst.classes[cls] = made
    return made


def _convert(module, src, dst, path=""):
    if not isinstance(module, src.Module):
        raise TypeError(f"expected a {src.name}.nn.Module, got {type(module).__name__}")
    cls = type(module)
    base, target = _leaf_class(cls, src, dst, path)
    out = _constructed(module, base, target, path)
    if not src.owns(cls):
        out.__class__ = _original(cls, src, dst) or _custom_class(cls, target, src, dst)
    # Plain attributes (flags, sizes, class references) first: registration below must win.
    for key, value in module.__dict__.items():
        if key in src.base_keys or key in out.__dict__.get("_modules", {}):
            continue
        if isinstance(getattr(type(out), key, None), property):
            continue  # computed on this side (LSTM's _flat_weights): nothing to carry over
        if key not in out.__dict__ or not src.owns(cls):
            object.__setattr__(out, key, _value_to(value, src, dst))
    if src.owns(cls) and set(module._parameters) != set(out._parameters):
        raise TypeError(
            f"{path or 'the module'}: {cls.__name__} holds parameters {sorted(module._parameters)} here and "
            f"{sorted(out._parameters)} in {dst.name}"
        )
    out._parameters.clear()
    for name, p in module._parameters.items():
        out._parameters[name] = None if p is None else _tensor_to(p, dst, parameter=True)
    out._buffers.clear()
    out._non_persistent_buffers_set.clear()
    for name, b in module._buffers.items():
        out._buffers[name] = None if b is None else _tensor_to(b, dst)
    out._non_persistent_buffers_set.update(module._non_persistent_buffers_set)
    out._modules.clear()
    for name, child in module._modules.items():
        out._modules[name] = None if child is None else _convert(child, src, dst, f"{path}.{name}" if path else name)
    out.training = module.training
    return out


def to_torch(module):
    """A ``torch.nn.Module`` with ``module``'s structure, names, weights (copied) and training flag.

    Layers both libraries have are rebuilt by class name; your own classes become torch subclasses
    whose methods run their glassgrad code against torch. Raises TypeError naming a layer torch lacks.
    """
    sides = _sides()
    return _convert(module, sides["glassgrad"], sides["torch"])


def from_torch(torch_module):
    """A glassgrad ``nn.Module`` from a ``torch.nn.Module``: the reverse of ``to_torch`` (weights copied
    to the CPU). Raises TypeError naming a layer glassgrad lacks."""
    sides = _sides()
    return _convert(torch_module, sides["torch"], sides["glassgrad"])


__all__ = ["from_torch", "to_torch"]
