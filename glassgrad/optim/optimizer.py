"""Optimizer: parameter groups, per-parameter state, and PyTorch's state_dict layout.

Subclasses implement ``_update(group)``: an in-place NumPy update of ``p.array`` for every
parameter of the group that has a gradient. The update never records a graph and keeps the
parameter's dtype (float32 stays float32: Python floats are weak scalars under NumPy 2).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from glassgrad.autograd.grad_mode import enable_grad
from glassgrad.autograd.graph import increment_version
from glassgrad.tensor import Tensor

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import TypeAlias

    # What an optimizer takes: tensors (``model.parameters()``), ``(name, tensor)`` pairs
    # (``named_parameters()``), or dicts each defining a parameter group.
    ParamsT: TypeAlias = "Iterable[Tensor] | Iterable[tuple[str, Tensor]] | Iterable[dict[str, Any]]"


class Optimizer:
    """Base class of the optimizers: holds ``param_groups`` and ``state``.

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs (``named_parameters()``),
            or of dicts each defining a parameter group (``{'params': [...], 'lr': ...}``).
        defaults: the options a group takes when it does not set them itself.

    Options that pick PyTorch's kernels (foreach, fused, capturable, differentiable) are kept in
    the groups so that state dicts and reprs match PyTorch's; glassgrad has one NumPy
    implementation of each rule, equal to PyTorch's default (for-loop) one.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        if self.defaults.get("fused"):
            raise ValueError(
                f"{type(self).__name__}: fused=True needs a CUDA kernel and glassgrad runs on the CPU; leave fused=None"
            )
        if self.defaults.get("differentiable"):
            raise ValueError(
                f"{type(self).__name__}: differentiable=True is not supported (glassgrad updates p.array "
                "outside the graph); leave differentiable=False"
            )
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._step_pre_hooks: dict[int, Callable[..., Any]] = {}
        self._step_post_hooks: dict[int, Callable[..., Any]] = {}
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                f"but got a single {type(params).__name__}; wrap it in a list: [param]"
            )
        if isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering of "
                "tensors in sets will change between runs; use a list instead"
            )
        param_groups: list[Any] = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list; pass model.parameters() of a model with weights")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("_step_pre_hooks", {})
        self.__dict__.setdefault("_step_post_hooks", {})

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    # -- parameter groups -------------------------------------------------------------

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (a dict with 'params' and any option to override)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        param_group = dict(param_group)
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering of "
                "tensors in sets will change between runs; use a list instead"
            )
        else:
            params = list(params)

        names = []
        plain = []
        for p in params:
            if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str):
                names.append(p[0])
                p = p[1]
            plain.append(p)
        if names and len(names) != len(plain):
            raise ValueError("all parameters in a group should be given with names, or none of them")
        if names:
            param_group["param_names"] = names

        for p in plain:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(
                    "can't optimize a non-leaf Tensor (one computed from others); optimize the leaves "
                    "(e.g. model.parameters()) instead"
                )
        param_group["params"] = plain

        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        if isinstance(param_group.get("lr"), Tensor):
            param_group["lr"] = float(param_group["lr"].item())

        if len({id(p) for p in plain}) != len(plain):
            raise ValueError("optimizer contains a parameter group with duplicate parameters; pass each parameter once")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in plain):
            raise ValueError("some parameters appear in more than one parameter group")
        if ("param_names" in param_group) != all("param_names" in g for g in self.param_groups or [param_group]):
            raise ValueError("all optimizer param groups should be given with names, or none of them")
        self.param_groups.append(param_group)

    # -- gradients and steps ------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to None (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad = False
                    p.grad.array[...] = 0
                    increment_version(p.grad, "zero_grad")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given."""
        self._opt_called = True  # lets a scheduler warn when it is stepped before the optimizer
        args: tuple[Any, ...] = (closure,) if closure is not None else ()
        kwargs: dict[str, Any] = {}
        for hook in list(self._step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                args, kwargs = result
        closure = args[0] if args else kwargs.get("closure")
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update(group)
        for hook in list(self._step_post_hooks.values()):
            hook(self, args, kwargs)
        return loss

    def register_step_pre_hook(self, hook: Callable[..., Any]) -> _HookHandle:
        """Call ``hook(optimizer, args, kwargs)`` before each step; it may return new ``(args, kwargs)``.
        Returns a handle whose ``remove()`` unregisters it."""
        return _HookHandle(self._step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable[..., Any]) -> _HookHandle:
        """Call ``hook(optimizer, args, kwargs)`` after each step. Returns a handle with ``remove()``."""
        return _HookHandle(self._step_post_hooks, hook)

    def _update(self, group):
        raise TypeError(f"{type(self).__name__} does not define an update rule (_update)")

    @staticmethod
    def _grads(group):
        """(param, grad array, state key) for the group's parameters that have a gradient."""
        out = []
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = p.grad.array
            if grad.shape != p.array.shape:
                raise RuntimeError(
                    f"optimizer step: a parameter of shape {tuple(p.array.shape)} has a gradient of shape "
                    f"{tuple(grad.shape)}; gradients must match their parameter"
                )
            if grad.dtype != p.array.dtype:
                grad = grad.astype(p.array.dtype)
            out.append((p, -grad if group.get("maximize") else grad))
        return out

    @staticmethod
    def _step_count(state):
        """Increment ``state['step']`` (a 0-d float32 tensor, as PyTorch keeps it) and return it."""
        step = state["step"]
        step.array += 1
        increment_version(step, "optimizer.step")
        return float(step.array)

    @staticmethod
    def _new_step():
        return Tensor._wrap(np.zeros((), dtype=np.float32))

    @staticmethod
    def _zeros_like(p, fill=0.0):
        return Tensor._wrap(np.full(p.array.shape, fill, dtype=p.array.dtype))

    # -- checkpoints ----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``.

        Parameters are numbered in order of appearance across the groups, as PyTorch does, so a
        checkpoint restores into an optimizer built over the same parameters in the same order.
        The state's tensors are the live ones (like PyTorch); ``glassgrad.save`` copies them.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore groups' options and per-parameter state from ``state_dict()``'s output.

        Tensors are copied (casting floating state to each parameter's dtype, except 'step'), so
        the optimizer never shares memory with the dict it was loaded from.
        """
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict expects the dict from optimizer.state_dict() with keys "
                f"'state' and 'param_groups', got {sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__}"
            )
        saved_groups = copy.deepcopy([{k: v for k, v in g.items()} for g in state_dict["param_groups"]])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, this optimizer has "
                f"{len(self.param_groups)}"
            )
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group {i} with {len(saved['params'])} parameters "
                    f"that doesn't match the size of optimizer's group ({len(group['params'])})"
                )
        id_map = {}
        for group, saved in zip(self.param_groups, saved_groups):
            for saved_id, p in zip(saved["params"], group["params"]):
                id_map[saved_id] = p

        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                p = id_map[key]
                state[p] = {k: _cast_state(p, k, v) for k, v in value.items()}
            else:
                state[key] = copy.deepcopy(value)
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            if isinstance(saved.get("betas"), list):
                saved["betas"] = tuple(saved["betas"])
            for name, default in self.defaults.items():
                saved.setdefault(name, default)
            new_groups.append(saved)
        self.state = state
        self.param_groups = new_groups


def lerp_(start, end, weight):
    """``start += weight * (end - start)`` in place, with PyTorch's two-sided lerp formula
    (the form it uses for ``weight >= 0.5`` keeps ``end`` exact at ``weight == 1``)."""
    weight = start.dtype.type(weight)  # PyTorch rounds the weight to the tensor's dtype first
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        np.subtract(end, (end - start) * (1 - weight), out=start)


def check_adam_arguments(lr, betas, eps, weight_decay):
    """The argument checks of Adam and its relatives (Adamax, NAdam, RAdam), with PyTorch's messages."""
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def _cast_state(param, key, value):
    if isinstance(value, Tensor):
        array = value.array
        if key != "step" and param.array.dtype.kind == "f" and array.dtype.kind == "f":
            array = array.astype(param.array.dtype)
        return Tensor._wrap(np.array(array, copy=True))
    if isinstance(value, np.ndarray):
        return Tensor._wrap(np.array(value, copy=True))
    if isinstance(value, dict):
        return {k: _cast_state(param, k, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(param, None, v) for v in value)
    return value


class _HookHandle:
    """Removes a hook from the dict it was registered in."""

    _next_id = 0

    def __init__(self, hooks: Any, hook: Callable[..., Any]) -> None:
        self._hooks = hooks
        self.id = _HookHandle._next_id
        _HookHandle._next_id += 1
        hooks[self.id] = hook

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
