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
import warnings

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


class _Array:
    """A NumPy array dressed as a tensor for ``_tensor_to``."""

    def __init__(self, array, requires_grad):
        self.array, self.requires_grad = array, requires_grad

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.array


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
    if callable(value) and not isinstance(value, type):
        return _counterpart(value, src, dst)  # a library function kept as an attribute (F.relu)
    return value


# The settings of the recurrent layers, which both libraries keep as attributes of those names.
_RNN_SETTINGS = ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional")
_RECURRENT = {"RNN": (*_RNN_SETTINGS, "nonlinearity"), "LSTM": _RNN_SETTINGS, "GRU": _RNN_SETTINGS}
# Constructor arguments that both libraries keep under another attribute name.
_ALIASES = {"PairwiseDistance": {"p": "norm"}}
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
    if target is None and base.__module__.startswith(src.name + ".nn.utils."):
        # Kept under the same module path on both sides (parametrizations' _WeightNorm, _SpectralNorm).
        try:
            module = importlib.import_module(dst.name + base.__module__[len(src.name) :])
        except ImportError:
            module = None
        target = getattr(module, base.__name__, None)
    if not isinstance(target, type) or not issubclass(target, dst.Module):
        raise TypeError(
            f"{path or 'the module'}: {src.name}.nn.{base.__name__} has no counterpart in {dst.name}.nn; "
            "replace that layer with one both libraries have"
        )
    return base, target


def _activation_name(activation, src, dst, path):
    """What a transformer layer's ``activation`` becomes on the other side: "relu"/"gelu" for the
    library functions, a placeholder module for a module (replaced with the converted child), or
    the same-named function there."""
    if isinstance(activation, src.Module):
        return dst.Module()
    name = getattr(activation, "__name__", None)
    if name in ("relu", "gelu") and getattr(activation, "__module__", "").startswith(src.name):
        return name
    counterpart = _counterpart(activation, src, dst)
    if counterpart is activation and getattr(activation, "__module__", "").startswith(src.name):
        raise TypeError(f"{path or 'the module'}: activation {name!r} has no counterpart in {dst.name}")
    return counterpart if counterpart is not activation else _rebound(activation, src, dst)


def _transformer_layer_settings(layer, src, dst, path):
    """A TransformerEncoderLayer's or TransformerDecoderLayer's constructor arguments, read from its
    submodules, which both libraries name alike (torch keeps no ``d_model`` attribute)."""
    return dict(
        d_model=layer.linear1.in_features,
        nhead=layer.self_attn.num_heads,
        dim_feedforward=layer.linear1.out_features,
        dropout=layer.dropout.p,
        activation=_activation_name(layer.activation, src, dst, path),
        layer_norm_eps=layer.norm1.eps,
        batch_first=layer.self_attn.batch_first,
        norm_first=layer.norm_first,
        bias=layer.linear1.bias is not None,
    )


def _transformer(module, base, target, src, dst, path):
    """A transformer block on the other side. Its children are converted afterwards by ``_convert``;
    the stacks get a converted first layer here because torch's constructor inspects it (its
    nested-tensor fast path)."""
    name = base.__name__
    if name in ("TransformerEncoderLayer", "TransformerDecoderLayer"):
        return target(**_transformer_layer_settings(module, src, dst, path))
    if name == "TransformerEncoder" or name == "TransformerDecoder":
        layers = list(module.layers)
        if not layers:
            raise TypeError(f"{path or 'the module'}: cannot rebuild {type(module).__name__} without layers")
        first = _convert(layers[0], src, dst, f"{path}.layers.0" if path else "layers.0")
        if name == "TransformerDecoder":
            return target(first, module.num_layers)
        options = {key: getattr(module, key) for key in ("enable_nested_tensor", "mask_check") if hasattr(module, key)}
        with warnings.catch_warnings():
            # torch's note that its nested-tensor fast path is off for these settings: not the user's doing here.
            warnings.filterwarnings("ignore", message="enable_nested_tensor is True")
            return target(first, module.num_layers, **options)
    # Transformer: the encoder and decoder are placeholders until their converted selves replace them;
    # the settings torch does not keep are read from the first encoder layer, where there is one.
    options = dict(d_model=module.d_model, nhead=module.nhead, batch_first=module.batch_first)
    encoder, decoder = module.encoder, module.decoder
    if type(encoder).__name__ == "TransformerEncoder" and len(encoder.layers):
        settings = _transformer_layer_settings(encoder.layers[0], src, dst, path)
        for key in ("dim_feedforward", "dropout", "activation", "layer_norm_eps", "norm_first", "bias"):
            options[key] = settings[key]
        options["num_encoder_layers"] = encoder.num_layers
    if type(decoder).__name__ == "TransformerDecoder":
        options["num_decoder_layers"] = decoder.num_layers
    return target(custom_encoder=dst.Module(), custom_decoder=dst.Module(), **options)


_TRANSFORMERS = (
    "Transformer",
    "TransformerEncoder",
    "TransformerDecoder",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
)


def _constructed(module, base, target, path, src, dst, given=None):
    """An instance of the library class ``target`` built from ``module``'s constructor attributes (or
    ``given``, for arguments kept nowhere on the module, as _SpectralNorm's ``weight``)."""
    signature = inspect.signature(target.__init__)
    if base.__name__ in ("Module", "Sequential", "ModuleList", "ModuleDict"):
        return target()  # the children, parameters and buffers are added by name afterwards
    if base.__name__ == "ParameterList":  # built full, so that its length is right; replaced after
        return target([_tensor_to(p, dst, parameter=True) for p in module])
    if base.__name__ == "ParameterDict":
        return target({key: _tensor_to(p, dst, parameter=True) for key, p in module.items()})
    if base.__name__ in _TRANSFORMERS:
        return _transformer(module, base, target, src, dst, path)
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
        attribute = _ALIASES.get(base.__name__, {}).get(name, name)
        if hasattr(module, attribute):
            value = getattr(module, attribute)
            if isinstance(value, (glassgrad.Tensor,)) or type(value).__name__ == "Tensor":
                continue
            if isinstance(value, src.Module):  # a wrapped module (DataParallel's): converted, replaced after
                value = _convert(value, src, dst, f"{path}.{attribute}" if path else attribute)
            kwargs[name] = value
        elif given and name in given:
            kwargs[name] = given[name]
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


def _is_lazy(tensor, side):
    return side.nn.parameter.is_lazy(tensor)


def _tensor_or_lazy(tensor, made, src, dst, path, name, parameter=False):
    """``tensor`` copied to ``dst``; a lazy module's uninitialized one stays the fresh one ``made`` by the
    lazy module built on the other side (materialized there by its first call)."""
    if tensor is None:
        return None
    if not _is_lazy(tensor, src):
        return _tensor_to(tensor, dst, parameter=parameter)
    if made is None or not _is_lazy(made, dst):
        raise TypeError(f"{path or 'the module'}: {name} is uninitialized and has no lazy counterpart in {dst.name}")
    return made


def _parametrizations(module, side):
    """``module``'s ParametrizationLists by tensor name ({} when it has none)."""
    parametrize = importlib.import_module(side.name + ".nn.utils.parametrize")
    return dict(module.parametrizations.items()) if parametrize.is_parametrized(module) else {}


def _parametrize(out, plists, made, src, dst, path):
    """Register ``plists`` (from the source module) on ``out``, then give them the source's originals.
    ``made`` holds ``out``'s own (parameters, buffers), which registration starts from."""
    parametrize = importlib.import_module(dst.name + ".nn.utils.parametrize")
    for name, plist in plists.items():
        where = f"{path}.parametrizations.{name}" if path else f"parametrizations.{name}"
        table = out._parameters if name in made[0] else out._buffers
        if {**made[0], **made[1]}.get(name) is None:
            raise TypeError(f"{where}: {type(out).__name__} in {dst.name} has no tensor {name!r} to parametrize")
        fresh = made[0].get(name, made[1].get(name))
        originals = [*plist._parameters.values(), *plist._buffers.values()]
        # In the source's dtype (a double model's steps hold double buffers), values to be replaced after.
        dtype = originals[0].detach().cpu().numpy().dtype if originals else None
        array = fresh.detach().cpu().numpy().astype(dtype)
        table[name] = _tensor_to(_Array(array, fresh.requires_grad), dst, parameter=name in made[0])
        for i, step in enumerate(plist):
            # The tensor the step starts from (its shape is what _SpectralNorm's constructor reads).
            step = _convert(step, src, dst, f"{where}.{i}", given={"weight": getattr(out, name)})
            parametrize.register_parametrization(out, name, step, unsafe=plist.unsafe)
        mine = out.parametrizations[name]
        for key, tensor in plist._parameters.items():
            mine._parameters[key] = _tensor_to(tensor, dst, parameter=True)
        for key, tensor in plist._buffers.items():
            mine._buffers[key] = _tensor_to(tensor, dst)
        for step, made_step in zip(plist, mine):
            # Again: registration ran the steps once, and in training mode _SpectralNorm iterated its _u/_v.
            for key, tensor in step._buffers.items():
                made_step._buffers[key] = None if tensor is None else _tensor_to(tensor, dst)


def _convert(module, src, dst, path="", given=None):
    if not isinstance(module, src.Module):
        raise TypeError(f"expected a {src.name}.nn.Module, got {type(module).__name__}")
    plists = _parametrizations(module, src)
    # A parametrized module's class is made on the fly (ParametrizedLinear); the one under it is rebuilt,
    # and the parametrizations are registered again on the other side.
    cls = type(module).__bases__[0] if plists else type(module)
    base, target = _leaf_class(cls, src, dst, path)
    out = _constructed(module, base, target, path, src, dst, given)
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
    if src.owns(cls) and set(module._parameters) | set(plists) != set(out._parameters):
        raise TypeError(
            f"{path or 'the module'}: {cls.__name__} holds parameters {sorted(module._parameters)} here and "
            f"{sorted(out._parameters)} in {dst.name}"
            + (
                " (the hook-based nn.utils.weight_norm does not convert: use nn.utils.parametrizations.weight_norm)"
                if any(k.endswith("_g") for k in module._parameters)
                else ""
            )
        )
    own = dict(out._parameters), dict(out._buffers)
    out._parameters.clear()
    for name, p in module._parameters.items():
        out._parameters[name] = _tensor_or_lazy(p, own[0].get(name), src, dst, path, name, parameter=True)
    out._buffers.clear()
    out._non_persistent_buffers_set.clear()
    for name, b in module._buffers.items():
        out._buffers[name] = _tensor_or_lazy(b, own[1].get(name), src, dst, path, name)
    out._non_persistent_buffers_set.update(module._non_persistent_buffers_set)
    out._modules.clear()
    for name, child in module._modules.items():
        if plists and name == "parametrizations":
            continue
        out._modules[name] = None if child is None else _convert(child, src, dst, f"{path}.{name}" if path else name)
    if plists:
        out.training = module.training  # registration runs each step once, in the module's mode
        _parametrize(out, plists, own, src, dst, path)
    for key in (*out._parameters, *out._buffers, *out._modules):
        # A plain attribute set by the constructor (TransformerEncoder's norm=None) would hide it.
        out.__dict__.pop(key, None)
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
