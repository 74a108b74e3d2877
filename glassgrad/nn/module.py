"""Module: the base class of every layer, holding parameters, buffers and submodules.

Assigning a Parameter, a Module or a registered buffer to an attribute files it in
``_parameters``, ``_modules`` or ``_buffers``; everything else (``parameters()``,
``state_dict()``, ``to()``, ``train()``...) walks those three dictionaries. Keys and
semantics are PyTorch's, so a state dict moves between the two frameworks unchanged.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from glassgrad import _dtype
from glassgrad.autograd import grad_mode
from glassgrad.nn.hooks import BackwardHookTracker, add_hook
from glassgrad.nn.parameter import Parameter
from glassgrad.tensor import Tensor, to_arguments

if TYPE_CHECKING:
    from typing_extensions import Self

    from glassgrad._dtype import DTypeLike
    from glassgrad.nn.hooks import RemovableHandle


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it could not fill and those it did not use."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class Module:
    """Base class of all layers and models.

    A subclass calls ``super().__init__()`` first, assigns its parameters and
    submodules as attributes, and defines ``forward``. Calling the module runs the
    forward pre-hooks, ``forward``, the forward hooks, and arranges the backward hooks.
    """

    training: bool

    def __init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "training", True)
        set_(self, "_parameters", OrderedDict())
        set_(self, "_buffers", OrderedDict())
        set_(self, "_non_persistent_buffers_set", set())
        set_(self, "_modules", OrderedDict())
        set_(self, "_forward_pre_hooks", OrderedDict())
        set_(self, "_forward_pre_hooks_with_kwargs", {})
        set_(self, "_forward_hooks", OrderedDict())
        set_(self, "_forward_hooks_with_kwargs", {})
        set_(self, "_backward_hooks", OrderedDict())
        set_(self, "_backward_pre_hooks", OrderedDict())

    if TYPE_CHECKING:
        # Declared as a callable attribute, so that a subclass's forward(self, x: Tensor) -> Tensor
        # is not an incompatible override of forward(*args, **kwargs).
        forward: Callable[..., Any]
    else:

        def forward(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(
                f'Module [{type(self).__name__}] is missing the required "forward" function; '
                "define forward(self, ...) in the subclass"
            )

    # -- attribute registration -----------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    "(glassgrad.nn.Parameter or None expected)"
                )
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            modules = self.__dict__.get("_modules")
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            modules[name] = value
        elif name in self.__dict__.get("_modules", ()):
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' "
                    "(glassgrad.nn.Module or None expected)"
                )
            self._modules[name] = None
        elif name in self.__dict__.get("_buffers", ()):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' (glassgrad.Tensor or None expected)"
                )
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        # The table being assigned keeps its entry, so replacing a child keeps its place.
        self.__dict__.pop(name, None)
        for table in ("_parameters", "_buffers", "_modules"):
            if table != keep:
                self.__dict__[table].pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name: str) -> Any:
        # Only called when ordinary lookup fails: the registered tensors and children live here.
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for table in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(table, ()):
                del self.__dict__[table][name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = list(super().__dir__()) + list(self._parameters) + list(self._modules) + list(self._buffers)
        return sorted(set(k for k in keys if not k[0].isdigit()))

    def _check_name(self, name: str, kind: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if hasattr(self, name) and not any(name in getattr(self, t) for t in ("_parameters", "_buffers", "_modules")):
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add ``param`` (a Parameter, or None for an absent one such as ``bias=False``) as ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name(name, "parameter")
        if name in self._buffers or name in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(glassgrad.nn.Parameter or None required); wrap it: nn.Parameter(tensor)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (``running_mean``); saved when ``persistent``."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name(name, "buffer")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add ``module`` as the child ``name`` (what attribute assignment does)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "module")
        if name in self._parameters or name in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The module at dotted path ``target`` (``"layer1.0.conv1"``)."""
        module = self
        if target == "":
            return module
        for item in target.split("."):
            if item not in module._modules:
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = module._modules[item]
        return module

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._parameters:
            raise AttributeError(f"{module._get_name()} has no parameter `{name}`")
        return module._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._buffers:
            raise AttributeError(f"{module._get_name()} has no buffer `{name}`")
        return module._buffers[name]

    # -- walking the tree -------------------------------------------------------------

    def _named_members(
        self,
        get_members: Callable[[Module], Iterable[tuple[str, Any]]],
        prefix: str = "",
        recurse: bool = True,
        remove_duplicate: bool = True,
    ) -> Iterator[tuple[str, Any]]:
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in get_members(module):
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield (module_prefix + "." if module_prefix else "") + name, value

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter of this module and (with ``recurse``) its descendants, each once."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs: ``("fc.weight", Parameter)``."""
        yield from self._named_members(
            lambda m: m._parameters.items(), prefix=prefix, recurse=recurse, remove_duplicate=remove_duplicate
        )

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members(
            lambda m: m._buffers.items(), prefix=prefix, recurse=recurse, remove_duplicate=remove_duplicate
        )

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module and every descendant, depth first, as ``(dotted name, module)``; self is ``""``."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    # -- modes and gradients ----------------------------------------------------------

    def train(self, mode: bool = True) -> Self:
        """Switch this module and its descendants to training mode (``mode=False``: eval)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Self:
        """Evaluation mode: dropout off, batch norm uses its running statistics."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Self:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters (to None by default, as PyTorch does)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = Tensor._wrap(np.zeros_like(p.grad.array))

    def apply(self, fn: Callable[[Module], object]) -> Self:
        """Call ``fn(module)`` on every descendant (children first) and on self; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- dtype and device ---------------------------------------------------------------

    def _apply(self, fn: Callable[[np.ndarray], np.ndarray]) -> Self:
        """Replace each parameter's and buffer's array by ``fn(array)``, keeping the objects
        (optimizers hold references to the Parameters, so identity must survive ``to()``)."""
        for module in self.children():
            module._apply(fn)
        for param in self._parameters.values():
            if param is None:
                continue
            param.array = fn(param.array)
            if param.grad is not None:
                param.grad = Tensor._wrap(fn(param.grad.array))
        for buf in self._buffers.values():
            if buf is not None:
                buf.array = fn(buf.array)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Self:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(tensor)``: casts floating
        point parameters and buffers; only the CPU exists, so devices are validated and kept."""
        target = to_arguments(args, kwargs, "Module.to")
        if target is None:
            return self
        np_dtype = _dtype.to_dtype(target).numpy
        if np.dtype(np_dtype).kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={target}")
        return self._apply(lambda a: a.astype(np_dtype, copy=False) if a.dtype.kind == "f" else a)

    def float(self) -> Self:
        return self.to(_dtype.float32)

    def double(self) -> Self:
        return self.to(_dtype.float64)

    def half(self) -> Self:
        return self.to(_dtype.float16)

    def type(self, dst_type: DTypeLike) -> Self:
        return self._apply(lambda a: a.astype(_dtype.to_dtype(dst_type).numpy))

    def cpu(self) -> Self:
        return self

    def cuda(self, device: Any = None) -> Self:
        raise RuntimeError(
            "glassgrad runs on the CPU only: glassgrad.cuda.is_available() is False; "
            "use model.to(device) with device = 'cuda' if glassgrad.cuda.is_available() else 'cpu'"
        )

    def share_memory(self) -> Self:
        """Move every parameter and buffer into shared memory (see ``Tensor.share_memory_``)."""
        for t in itertools.chain(self.parameters(), self.buffers()):
            t.share_memory_()
        return self

    # -- state dict -----------------------------------------------------------------

    def _save_to_state_dict(self, destination: dict[str, Any], prefix: str, keep_vars: bool) -> None:
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()

    def state_dict(
        self, *args: Any, destination: dict[str, Any] | None = None, prefix: str = "", keep_vars: bool = False
    ) -> dict[str, Any]:
        """An ordered dict of every parameter and persistent buffer by dotted name
        (``conv1.weight``, ``bn.running_mean``), sharing memory with the module."""
        if args:
            destination = args[0] if len(args) > 0 else destination
            prefix = args[1] if len(args) > 1 else prefix
            keep_vars = args[2] if len(args) > 2 else keep_vars
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        return destination

    def _load_from_state_dict(
        self,
        state_dict: Mapping[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        """Copy this module's own entries (not its children's) from ``state_dict``."""
        persistent_buffers = {k: v for k, v in self._buffers.items() if k not in self._non_persistent_buffers_set}
        local = {
            k: v for k, v in itertools.chain(self._parameters.items(), persistent_buffers.items()) if v is not None
        }
        for name, target in local.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            array = value.array if isinstance(value, Tensor) else np.asarray(value)
            if array.shape != target.array.shape:
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {_size(array.shape)} from checkpoint, "
                    f"the shape in current model is {_size(target.array.shape)}."
                )
                continue
            if local_metadata.get("assign_to_params_buffers", False):
                # assign=True: the module takes the state dict's tensor itself (its dtype too).
                if name in self._parameters:
                    self._parameters[name] = Parameter(Tensor._wrap(array), target.requires_grad)
                else:
                    self._buffers[name] = value if isinstance(value, Tensor) else Tensor._wrap(array)
                continue
            with grad_mode.no_grad():
                target.copy_(Tensor._wrap(array))
        if strict:
            for key in state_dict:
                if not key.startswith(prefix):
                    continue
                name = key[len(prefix) :].split(".", 1)[0]
                if name not in self._modules and name not in local:
                    unexpected_keys.append(key)

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> _IncompatibleKeys:
        """Copy parameters and buffers from ``state_dict`` into this module, in place.

        Returns ``(missing_keys, unexpected_keys)``. With ``strict`` (the default) any
        missing or unexpected key raises a RuntimeError that lists them; a shape that
        differs from the module's always raises. With ``assign`` the module takes the state
        dict's tensors (and their dtypes) instead of copying into its own.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}.")
        missing: list[str] = []
        unexpected: list[str] = []
        errors: list[str] = []

        def load(module: Module, prefix: str) -> None:
            metadata = {"assign_to_params_buffers": assign}
            module._load_from_state_dict(state_dict, prefix, metadata, True, missing, unexpected, errors)
            for name, child in module._modules.items():
                if child is not None:
                    load(child, prefix + name + ".")

        load(self, "")
        if strict:
            if unexpected:
                errors.insert(
                    0, "Unexpected key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in unexpected))
                )
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError(
                "Error(s) in loading state_dict for {}:\n\t{}".format(self._get_name(), "\n\t".join(errors))
            )
        return _IncompatibleKeys(missing, unexpected)

    # -- calling, with hooks -----------------------------------------------------------

    def register_forward_pre_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """``hook(module, args)`` runs before ``forward``; it may return new args (a tuple or one value).
        With ``with_kwargs``: ``hook(module, args, kwargs)`` returning ``None`` or ``(args, kwargs)``."""
        return add_hook(
            self._forward_pre_hooks, hook, prepend, self._forward_pre_hooks_with_kwargs if with_kwargs else None, True
        )

    def register_forward_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False, always_call: bool = False
    ) -> RemovableHandle:
        """``hook(module, args, output)`` runs after ``forward``; it may return a replacement output.
        With ``with_kwargs``: ``hook(module, args, kwargs, output)``. With ``always_call`` it runs
        even when ``forward`` raises (with ``output=None``), before the exception goes on."""
        handle = add_hook(
            self._forward_hooks, hook, prepend, self._forward_hooks_with_kwargs if with_kwargs else None, True
        )
        if always_call:
            self.__dict__.setdefault("_forward_hooks_always_called", {})[handle.id] = True
        return handle

    def register_full_backward_pre_hook(self, hook: Callable[..., Any], prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_output)`` runs when the gradients of the module's outputs are known;
        it may return a replacement ``grad_output`` tuple."""
        return add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook: Callable[..., Any], prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` runs once the gradients with respect to the
        module's tensor inputs are computed (``None`` for inputs that need none). It may return a
        replacement ``grad_input`` tuple."""
        return add_hook(self._backward_hooks, hook, prepend)

    def register_backward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """PyTorch's deprecated spelling; glassgrad gives it the full hook's well-defined
        gradients (those of the module's inputs and outputs, not of its last op)."""
        return self.register_full_backward_hook(hook)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks or self._backward_pre_hooks):
            return self.forward(*args, **kwargs)
        for hook_id, hook in list(self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            f"forward pre-hook must return None or a tuple of (new_args, new_kwargs), but got {result}."
                        )
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        tracker = None
        if (self._backward_hooks or self._backward_pre_hooks) and grad_mode.is_grad_enabled():
            tracker = BackwardHookTracker(self)
            args = tracker.wrap_inputs(args)
        try:
            output = self.forward(*args, **kwargs)
        except Exception:
            always = self.__dict__.get("_forward_hooks_always_called", {})
            for hook_id, hook in list(self._forward_hooks.items()):
                if hook_id in always:
                    if hook_id in self._forward_hooks_with_kwargs:
                        hook(self, args, kwargs, None)
                    else:
                        hook(self, args, None)
            raise
        for hook_id, hook in list(self._forward_hooks.items()):
            if hook_id in self._forward_hooks_with_kwargs:
                result = hook(self, args, kwargs, output)
            else:
                result = hook(self, args, output)
            if result is not None:
                output = result
        if tracker is not None:
            output = tracker.wrap_outputs(output)
        return output

    # -- printing -------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The layer's own settings for ``repr`` (``in_features=4, out_features=2, bias=True``)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, module in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(module), 2))
        head = self._get_name() + "("
        if not lines:
            return head + ")"
        if len(lines) == 1 and not self._modules:
            return head + lines[0] + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def _repr_html_(self) -> str:
        """Jupyter's view: a table of every submodule with its settings and parameter counts."""
        import html

        rows = []
        for name, module in self.named_modules():
            depth = name.count(".") + 1 if name else 0
            own = sum(p.numel() for p in module._parameters.values() if p is not None)
            label = html.escape(name.rsplit(".", 1)[-1] or module._get_name())
            rows.append(
                f'<tr><td style="padding-left:{depth * 1.2:.1f}em;text-align:left">{label}</td>'
                f'<td style="text-align:left">{html.escape(module._get_name())}</td>'
                f'<td style="text-align:left"><code>{html.escape(module.extra_repr())}</code></td>'
                f"<td>{own:,}</td></tr>"
            )
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return (
            "<table><thead><tr><th>Module</th><th>Type</th><th>Settings</th><th>Own parameters</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            f"<p>{total:,} parameters ({trainable:,} trainable)</p>"
        )


def _size(shape: Iterable[int]) -> str:
    return f"glassgrad.Size({list(shape)})"
