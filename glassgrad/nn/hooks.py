"""Hook plumbing for Module: removable handles, and the full backward hooks.

A module's backward hooks are built from tensor hooks: the module's tensor inputs and
outputs each pass through an identity op, and the hooks on those ops' gradients collect
``grad_output`` and ``grad_input`` for one call of the module.
"""

import itertools

from glassgrad.autograd.function import Function
from glassgrad.tensor import Tensor


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``remove()`` unregisters the hook."""

    _next_id = itertools.count()

    def __init__(self, hooks_dict):
        self.hooks_dict = hooks_dict
        self.id = next(RemovableHandle._next_id)

    def remove(self):
        self.hooks_dict.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def add_hook(hooks, hook, prepend, extra=None, extra_value=None):
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    if extra is not None:
        extra[handle.id] = extra_value
    return handle


class _BackwardHookIdentity(Function):
    """Passes values through unchanged; its node is where a module's backward hooks listen."""

    def forward(self, a):
        return a

    def backward(self, grad):
        return grad


class BackwardHookTracker:
    """Runs a module's full backward (pre-)hooks for one call.

    The module's tensor inputs and outputs each pass through an identity op; hooks on
    those ops' gradients collect ``grad_output`` (complete when every output's gradient
    has arrived) and ``grad_input``, then call the module's hooks with both.
    """

    def __init__(self, module):
        self.module = module
        self.input_slots = []
        self.grad_inputs = []
        self.grad_outputs = None
        self.n_outputs = 0
        self.pending_outputs = {}
        self.pending_inputs = 0
        self.replacement = None

    def wrap_inputs(self, args):
        wrapped = []
        for position, a in enumerate(args):
            if isinstance(a, Tensor) and a.requires_grad:
                a = _BackwardHookIdentity.apply(a)
                slot = len(self.input_slots)
                self.input_slots.append(position)
                a.register_hook(lambda g, slot=slot: self._on_input_grad(slot, g))
            wrapped.append(a)
        self.grad_inputs = [None] * len(args)
        return tuple(wrapped)

    def wrap_outputs(self, output):
        single = isinstance(output, Tensor)
        outputs = (output,) if single else output
        if not isinstance(outputs, (tuple, list)):
            return output
        wrapped = []
        for position, o in enumerate(outputs):
            if isinstance(o, Tensor) and o.requires_grad:
                o = _BackwardHookIdentity.apply(o)
                self.pending_outputs[position] = True
                o.register_hook(lambda g, position=position: self._on_output_grad(position, g))
            wrapped.append(o)
        self.n_outputs = len(outputs)
        if single:
            return wrapped[0]
        if isinstance(outputs, list):
            return wrapped
        return type(outputs)(*wrapped) if hasattr(outputs, "_fields") else tuple(wrapped)

    def _on_output_grad(self, position, grad):
        if self.grad_outputs is None:
            self.grad_outputs = [None] * self.n_outputs
        self.grad_outputs[position] = grad
        self.pending_outputs.pop(position, None)
        if self.pending_outputs:
            return None
        grad_outputs = tuple(self.grad_outputs)
        for hook in list(self.module._backward_pre_hooks.values()):
            result = hook(self.module, grad_outputs)
            if result is not None:
                grad_outputs = tuple(result)
        self.grad_outputs = list(grad_outputs)
        self.pending_inputs = len(self.input_slots)
        if not self.input_slots:
            # No input needs a gradient (the first layer, fed with data): PyTorch still calls
            # the hooks, with None for every input.
            self._fire()
        return grad_outputs[position]

    def _on_input_grad(self, slot, grad):
        self.grad_inputs[self.input_slots[slot]] = grad
        self.pending_inputs -= 1
        if self.pending_inputs == 0:
            self._fire()
            if self.replacement is not None:
                replaced = self.replacement[self.input_slots[slot]]
                for other, position in enumerate(self.input_slots):
                    if other != slot and self.replacement[position] is not self.grad_inputs[position]:
                        raise RuntimeError(
                            f"{self.module._get_name()} backward hook: only the gradient of the input "
                            f"that finishes last (argument {self.input_slots[slot]}) can be replaced; "
                            f"argument {position}'s gradient had already been passed on"
                        )
                return replaced
        return None

    def _fire(self):
        grad_input = tuple(self.grad_inputs)
        grad_output = tuple(self.grad_outputs)
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, grad_output)
            if result is not None:
                result = tuple(result)
                if len(result) != len(grad_input):
                    raise RuntimeError(
                        f"{self.module._get_name()} backward hook returned {len(result)} gradients; "
                        f"expected {len(grad_input)} (one per forward argument, None where not needed)"
                    )
                grad_input = result
                self.replacement = result
