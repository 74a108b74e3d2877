"""Function: one node of the graph, with forward and backward on NumPy arrays side by side."""

import contextlib
import weakref

import numpy as np

from glassgrad.autograd import grad_mode


class Function:
    """Base class of every differentiable operation.

    A subclass writes ``forward(self, *inputs, **options)`` on NumPy arrays and
    ``backward(self, grad)`` returning one gradient per positional input (or None
    where an input needs none). ``apply`` turns Tensors into arrays, runs forward,
    and, when any input requires grad, records the node so that the engine can call
    backward later. The node is the ctx: forward stores on ``self`` what backward needs.

    Gradients of broadcast inputs are summed back to each input's shape by the
    engine, so an op's backward may return a gradient of the broadcast shape.
    """

    # (shape, NumPy dtype) of each positional input that needs a gradient; None elsewhere.
    input_meta = ()
    next_functions = ()
    needs_input_grad = ()
    _saved_versions = ()
    # True for ops whose output may share memory with input 0 (reshape, permute, slicing, ...).
    is_view = False
    # Hooks on the gradient arriving at this node (register_hook/retain_grad of its output).
    _pre_hooks = ()

    def forward(self, *inputs, **options):
        raise TypeError(f"{type(self).__name__} must define forward")

    def backward(self, grad):
        raise RuntimeError(f"{type(self).__name__} is not differentiable")

    # -- saved arrays -------------------------------------------------------------

    def save_for_backward(self, *arrays):
        """Keep arrays for backward; in-place changes to them are detected."""
        self._saved = arrays

    @property
    def saved_tensors(self):
        saved = getattr(self, "_saved", None)
        if saved is None:
            raise RuntimeError(
                f"{type(self).__name__}: trying to backward through the graph a second time "
                "(its saved arrays were freed after the first backward); "
                "call .backward(retain_graph=True) the first time if you need to go back twice"
            )
        for tensor, version, position, shape in self._saved_versions:
            if type(tensor) is weakref.ref:  # a weak reference to the output (Parameters are Tensors too)
                tensor = tensor()
                if tensor is None:
                    continue
            if tensor._version != version:
                culprit = getattr(tensor, "_modified_by", None)
                by = f" ({culprit})" if culprit else ""
                raise RuntimeError(
                    f"one of the tensors needed for gradient computation has been modified by an "
                    f"in-place operation{by}: {type(self).__name__}'s {position} of shape "
                    f"{shape} is at version {tensor._version}; expected version "
                    f"{version}. Replace the in-place operation (add_, mul_, ...) by its "
                    "out-of-place form, or .clone() the tensor before changing it"
                )
        return saved

    def replace_saved(self, tensor):
        """Swap the array of ``tensor`` that forward saved for a private copy, before an in-place
        op overwrites the tensor with this node's own result (PyTorch's "original self"): the
        copy is this node's alone, so its version is no longer watched. Returns whether
        forward had saved it."""
        saved = getattr(self, "_saved", None)
        target = tensor.array
        if not saved or not any(a is target for a in saved):
            return False
        self._saved = tuple(a.copy() if a is target else a for a in saved)
        self._saved_versions = [w for w in self._saved_versions if w[0] is not tensor]
        return True

    def watch_output_in(self, tensor):
        """After forward wrote its output into ``tensor``'s array (``apply_into``): the saved
        output is now ``tensor``'s, so later in-place changes of ``tensor`` are what to detect."""
        watched = getattr(self, "_saved_versions", ())
        self._saved_versions = [
            (weakref.ref(tensor), tensor._version, *w[2:]) if w[2] == "output" else w for w in watched
        ]

    def release(self):
        """Free what forward saved; a later backward through this node raises a clear error."""
        self._saved = None
        self._saved_versions = ()

    @property
    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"

    # -- recording ----------------------------------------------------------------

    @classmethod
    def apply(cls, *inputs, **options):
        """Run the op on Tensors (or plain numbers) and record it when a gradient is wanted."""
        return cls._apply(inputs, options)[0]

    @classmethod
    def apply_with_node(cls, *inputs, **options):
        """Like ``apply`` but also returns the node, for ops with extra outputs (indices)."""
        return cls._apply(inputs, options)

    @classmethod
    def apply_into(cls, op, target, *inputs, **options):
        """``target._inplace(op, cls.apply(target, *inputs, **options))`` without the temporary:
        forward writes its result straight into ``target``'s array, passed as ``out=``.

        Only for ops whose forward takes ``out=`` (the result has the target's shape and dtype,
        and may overwrite the input as it is read) and whose backward reads nothing but the
        output: relu_, hardtanh_. A view takes the temporary (``_inplace`` decides what a view
        may do), and so does every op while a tracer has replaced ``_apply`` (the compiler's
        recording, ONNX export, graph drawing): they see the op and the in-place write apart.
        """
        target._check_inplace(op)  # before forward writes anything
        if getattr(target, "_base", None) is not None:
            return target._inplace(op, cls.apply(target, *inputs, **options))
        return target._inplace(op, cls._apply((target, *inputs), options, target.array)[0])

    @classmethod
    def _apply(cls, inputs, options, into=None):
        # The hot path of every op: plain loops (cheaper than comprehensions on Python 3.11).
        fn = cls()
        arrays = []
        record = False
        for x in inputs:
            if isinstance(x, Tensor):
                arrays.append(x.array)
                if x.requires_grad:
                    record = True
            else:
                arrays.append(x)
        if record and grad_mode._grad_enabled:
            needs = []
            nexts = []
            meta = []
            for x, array in zip(inputs, arrays):
                if array is not x and x.requires_grad:  # array is x only for plain numbers
                    needs.append(True)
                    nexts.append(x.grad_fn or x._accumulator or x._grad_accumulator())
                    meta.append((array.shape, array.dtype))
                else:
                    needs.append(False)
                    nexts.append(None)
                    meta.append(None)
            fn.needs_input_grad = tuple(needs)
        else:
            record = False
            fn.needs_input_grad = (False,) * len(arrays)
        out = fn.forward(*arrays, **options) if into is None else fn.forward(*arrays, out=into, **options)
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        result = Tensor._wrap(out)
        if fn.is_view:
            base = out.base
            if base is not None and (base is arrays[0] or base is arrays[0].base):
                result._base = _root(inputs[0])
        if not record:
            return result, fn
        fn.next_functions = tuple(nexts)
        fn.input_meta = tuple(meta)
        result.requires_grad = True
        result.grad_fn = fn
        saved = fn.__dict__.get("_saved")
        if saved:
            fn._saved_versions = _watch_saved(saved, inputs, result)
        return result, fn


def _root(tensor):
    base = getattr(tensor, "_base", None)
    return tensor if base is None else base


def _watch_saved(saved, inputs, output):
    """Record the versions of the inputs and output whose arrays forward saved.

    A view is watched through the tensor owning its memory, whose version counter all
    its views share. The output is held through a weak reference: it holds this node as
    its grad_fn, and a strong reference back would make every such graph a reference cycle.
    """
    watched = []
    for array in saved:
        if type(array) is not np.ndarray:
            continue
        if array is output.array:
            owner = _root(output)
            ref = weakref.ref(output) if owner is output else owner
            watched.append((ref, owner._version, "output", array.shape))
            continue
        for position, x in enumerate(inputs):
            if isinstance(x, Tensor) and array is x.array:
                owner = _root(x)
                watched.append((owner, owner._version, f"input {position}", array.shape))
                break
    return watched


class AccumulateGrad(Function):
    """The node at a leaf tensor: adds the incoming gradient into ``tensor.grad``."""

    # Called as hook(tensor) once ``tensor.grad`` holds the new sum (register_post_accumulate_grad_hook).
    _post_hooks = ()

    def __init__(self, variable):
        self.variable = variable

    def __repr__(self):
        return "<AccumulateGrad>"

    def hooked(self, grad):
        """The gradient after the leaf's hooks (each may return a replacement)."""
        for hook in self.variable._hooks:
            replaced = hook(Tensor._wrap(grad))
            if replaced is not None:
                grad = replaced.array if isinstance(replaced, Tensor) else np.asarray(replaced)
        return grad

    def accumulate(self, grad):
        tensor = self.variable
        if tensor._hooks:
            grad = self.hooked(grad)
        dt = tensor.array.dtype
        if tensor.grad is None:
            # A copy, because the same array may flow to several leaves (e.g. a + b).
            tensor.grad = Tensor._wrap(np.array(grad, dtype=dt, copy=True).reshape(tensor.array.shape))
        else:
            tensor.grad = Tensor._wrap(tensor.grad.array + grad.astype(dt, copy=False))
        for hook in self._post_hooks:
            hook(tensor)


def sum_to_shape(grad, shape):
    """Sum a broadcast gradient back to ``shape`` (undo NumPy broadcasting)."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = list(range(extra))
    for i, size in enumerate(shape):
        if size == 1 and grad.shape[extra + i] != 1:
            axes.append(extra + i)
    if axes:
        grad = grad.sum(axis=tuple(axes), keepdims=True)
    if extra:
        grad = grad.reshape(grad.shape[extra:])
    return grad.reshape(shape)


@contextlib.contextmanager
def observe_ops(callback, inplace=None):
    """Call ``callback(cls, inputs, options, result)`` after every op applied inside the block,
    recorded or not (under ``no_grad`` too), and ``inplace(tensor, result)`` after an in-place
    method (``relu_``, ``+=``, ``inplace=True`` layers) wrote ``result`` into ``tensor``: the tracers
    (ONNX export) build on this.

    The hot path pays nothing outside the block: ``_apply`` is swapped only while it lasts.
    """
    original = Function.__dict__["_apply"]
    original_inplace = Tensor.__dict__["_inplace"]

    def _apply(cls, inputs, options, into=None):
        # Without ``into``: the op and the in-place write reach the callbacks apart (Function.apply_into).
        result, fn = original.__func__(cls, inputs, options)
        callback(cls, inputs, options, result)
        return result, fn

    def _inplace(self, op, result):
        out = original_inplace(self, op, result)
        if inplace is not None:
            inplace(self, result)
        return out

    Function._apply = classmethod(_apply)
    Tensor._inplace = _inplace
    try:
        yield
    finally:
        Function._apply = original
        Tensor._inplace = original_inplace


from glassgrad.tensor import Tensor  # noqa: E402  (Tensor's methods call ops, which need Function)
