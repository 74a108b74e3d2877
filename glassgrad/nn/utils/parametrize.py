"""Parametrizations: a module's tensor computed from other tensors at each access, as
``torch.nn.utils.parametrize``.

``register_parametrization(module, "weight", P)`` moves the weight into
``module.parametrizations.weight.original`` (or ``original0``, ``original1``, ... where
``P.right_inverse`` returns several tensors) and gives the module a subclass of its class,
``Parametrized<Name>``, whose ``weight`` property returns ``P(original)``: gradients reach the
originals through P. State-dict keys are PyTorch's.
"""

import contextlib

from glassgrad.autograd import grad_mode
from glassgrad.nn.container import ModuleDict, ModuleList
from glassgrad.nn.module import Module
from glassgrad.nn.parameter import Parameter
from glassgrad.tensor import Tensor

__all__ = ["ParametrizationList", "cached", "is_parametrized", "register_parametrization", "remove_parametrizations"]


@contextlib.contextmanager
def cached():
    """PyTorch's cache of parametrized tensors within a block. glassgrad recomputes them at each
    access: the values are the same, only the work is repeated."""
    yield


def _as_original(value, like):
    if isinstance(like, Parameter) or (isinstance(like, Tensor) and like.requires_grad):
        return Parameter(value.detach(), like.requires_grad)
    return value.detach()


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the original tensor(s) they start from."""

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        first = modules[0]
        with grad_mode.no_grad():
            new = first.right_inverse(original) if hasattr(first, "right_inverse") else original
        self.is_tensor = isinstance(new, Tensor)
        if self.is_tensor:
            if not unsafe and (tuple(new.shape) != tuple(original.shape) or new.dtype != original.dtype):
                raise ValueError(
                    f"When `right_inverse` outputs one tensor, it may not change the shape or dtype: original "
                    f"{tuple(original.shape)} {original.dtype}, right_inverse(original) {tuple(new.shape)} {new.dtype}"
                )
            self.original = _as_original(new, original) if new is not original else original
        else:
            self.ntensors = len(new)
            for i, t in enumerate(new):
                setattr(self, f"original{i}", _as_original(t, original))
        if not unsafe:
            out = self()
            if tuple(out.shape) != tuple(original.shape) or out.dtype != original.dtype:
                raise ValueError(
                    "Registering a parametrization may not change the shape or dtype of the tensor: "
                    f"{tuple(original.shape)} {original.dtype} became {tuple(out.shape)} {out.dtype}; "
                    "pass unsafe=True to allow it"
                )

    def right_inverse(self, value):
        """Set the originals so that the parametrized tensor becomes ``value``."""
        with grad_mode.no_grad():
            for module in reversed(list(self)[1:]):
                value = module.right_inverse(value) if hasattr(module, "right_inverse") else value
            first = self[0]
            value = first.right_inverse(value) if hasattr(first, "right_inverse") else value
            if self.is_tensor:
                self.original.copy_(value)
            else:
                for i, t in enumerate(value):
                    getattr(self, f"original{i}").copy_(t)

    def forward(self):
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in list(self)[1:]:
            x = module(x)
        return x


def _inject_class(module):
    cls = module.__class__

    def setattr_(self, name, value):
        if is_parametrized(self, name):
            self.parametrizations[name].right_inverse(value)
        else:
            cls.__setattr__(self, name, value)

    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {"__setattr__": setattr_, "_unparametrized": cls})


def _inject_property(module, name):
    def get(self):
        return self.parametrizations[name]()

    setattr(module.__class__, name, property(get))


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Make ``module.<tensor_name>`` be ``parametrization(original)``; returns ``module``."""
    if not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization: the parametrization must be a Module, got {type(parametrization)}")
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            current = plist()
            out = parametrization(current)
            if tuple(out.shape) != tuple(current.shape) or out.dtype != current.dtype:
                raise ValueError("Registering a parametrization may not change the shape or dtype of the tensor")
        plist.append(parametrization)
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(
            f"Module '{module._get_name()}' does not have a parameter, a buffer, or a parametrized element "
            f"with name '{tensor_name}'"
        )
    original = getattr(module, tensor_name)
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        _inject_class(module)
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = plist
    _inject_property(module, tensor_name)
    return module


def is_parametrized(module, tensor_name=None):
    """Whether ``module`` has any parametrization (or one on ``tensor_name``)."""
    plists = module.__dict__.get("_modules", {}).get("parametrizations")
    if plists is None or not isinstance(plists, ModuleDict):
        return False
    return len(plists) > 0 if tensor_name is None else tensor_name in plists


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo ``register_parametrization``: the tensor becomes a plain parameter again, holding its
    parametrized value (``leave_parametrized``) or the original (only where there is one)."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module._get_name()} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if leave_parametrized:
        with grad_mode.no_grad():
            value = plist()
        original = plist.original if plist.is_tensor else None
        if original is not None:
            with grad_mode.no_grad():
                original.copy_(value)
            kept = original
        else:
            kept = Parameter(value.detach())
    else:
        if not plist.is_tensor:
            raise ValueError(
                "Cannot leave unparametrized (`leave_parametrized=False`) a tensor parametrized in "
                "terms of a sequence of tensors."
            )
        kept = plist.original
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    if isinstance(kept, Parameter):
        module.register_parameter(tensor_name, kept)
    else:
        module.register_buffer(tensor_name, kept)
    if not is_parametrized(module):
        del module.parametrizations
        module.__class__ = module.__class__._unparametrized
    return module
