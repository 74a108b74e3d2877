"""Tensor: a NumPy array, its gradient, and the node of the graph that made it."""

from __future__ import annotations

import builtins
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np

from glassgrad import _dtype

if TYPE_CHECKING:
    from glassgrad._dtype import DTypeLike
    from glassgrad._tensor_methods import RegisteredMethods as _Methods
    from glassgrad.autograd.function import Function
    from glassgrad.random import Generator

    # A Python scalar operand; a shape given as ``f(2, 3)`` or ``f((2, 3))``.
    Number: TypeAlias = "int | float | bool"
    ShapeArg: TypeAlias = "int | Sequence[int]"
else:
    # The methods of the op registry are bound at import (glassgrad/ops/registry.py); for type
    # checkers glassgrad/_tensor_methods.pyi declares them. At runtime Tensor derives from object only.
    _Methods = object


# What ``repr`` passes to np.array2string; ``set_printoptions`` changes it.
_DEFAULT_PRINT = {"precision": 4, "threshold": 1000, "edgeitems": 3}
PRINT_OPTIONS: dict = dict(_DEFAULT_PRINT)
_PROFILES = {"default": _DEFAULT_PRINT, "short": {"precision": 2, "threshold": 1000, "edgeitems": 2}}


def set_printoptions(
    precision: int | None = None,
    threshold: int | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """How tensors print: decimals, the element count above which a summary is shown, the items kept at
    each end of a summary, the line width; ``profile`` 'default', 'short' or 'full' resets them first."""
    if sci_mode is not None:
        raise ValueError(
            f"set_printoptions: sci_mode={sci_mode!r} is not supported (glassgrad chooses the notation as "
            "NumPy does); leave it out"
        )
    if profile is not None:
        if profile == "full":
            chosen = {**_DEFAULT_PRINT, "threshold": sys.maxsize}
        elif profile in _PROFILES:
            chosen = dict(_PROFILES[profile])
        else:
            raise ValueError(f"set_printoptions: profile={profile!r} is not one of 'default', 'short', 'full'")
        PRINT_OPTIONS.clear()
        PRINT_OPTIONS.update(chosen)
    for key, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems)):
        if value is not None:
            PRINT_OPTIONS[key] = int(value)
    if linewidth is not None:
        PRINT_OPTIONS["max_line_width"] = int(linewidth)


class Tensor(_Methods):
    """An n-dimensional array that remembers how it was computed.

    ``array`` is the NumPy array behind the tensor (shared, not copied).
    ``grad_fn`` is the Function node that produced it (None for leaves);
    ``grad`` collects gradients of leaves that require them.
    """

    __slots__ = (
        "array",
        "requires_grad",
        "grad",
        "grad_fn",
        "_version",
        "_hooks",
        "_accumulator",
        "_retains_grad",
        "_modified_by",  # the last in-place op, named in version-counter errors
        "_base",  # for a view: the tensor that owns the memory (and the version counter)
        "__weakref__",
    )

    array: np.ndarray
    requires_grad: builtins.bool
    grad: Tensor | None
    grad_fn: Function | None
    _version: builtins.int
    _hooks: Any
    _accumulator: Any
    _retains_grad: builtins.bool
    _modified_by: str
    _base: Tensor

    # NumPy defers to Tensor's reflected operators (np.float32(2) * t gives a Tensor).
    __array_priority__ = 1000

    def __init__(
        self,
        *args: Any,
        dtype: DTypeLike | None = None,
        requires_grad: builtins.bool = False,
        device: Any = None,
        size: Any = None,
    ) -> None:
        """``Tensor(data)`` or, as PyTorch's legacy constructor, ``Tensor(3, 4)``, ``Tensor(size=(3, 4))``
        and ``Tensor()``: a float tensor of the default dtype of that shape (zeros, where PyTorch
        leaves the memory uninitialised). Lists become the default float dtype, as in PyTorch.

        NumPy arrays keep their dtype and Python floats make a 0-d tensor (PyTorch converts
        arrays and refuses scalars); ``dtype=`` (which PyTorch's ``Tensor`` does not take) makes
        the argument data of that dtype, so ``Tensor(0, dtype="int64")`` is the number 0.
        """
        if device is not None:
            check_cpu(device, "Tensor")
        shape = _legacy_shape(args, size, dtype)
        if shape is not None:
            self.array = np.zeros(shape, dtype=_dtype.to_dtype(dtype or _dtype.get_default_dtype()).numpy)
        else:
            data = args[0]
            if isinstance(data, Tensor):
                data = data.array
            elif dtype is None and isinstance(data, (list, tuple)):
                dtype = _dtype.get_default_dtype()
            self.array = _as_array(data, dtype)
        self.requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._version = 0
        self._hooks = ()  # a list once a hook is registered
        self._accumulator = None
        self._retains_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _of(cls, data: Any, dtype: DTypeLike | None = None) -> Tensor:
        """A Tensor over ``data`` with ``glassgrad.tensor``'s dtype rules (ints stay int64): the
        library's own way to wrap a number or a list, free of the legacy size form ``Tensor(3)``."""
        if isinstance(data, Tensor):
            data = data.array
        return cls._wrap(_as_array(data, dtype))

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """A Tensor over ``array`` with no checks and no copy (the ops' fast path)."""
        t = object.__new__(Tensor)
        t.array = array
        t.requires_grad = False
        t.grad = None
        t.grad_fn = None
        t._version = 0
        t._hooks = ()
        t._accumulator = None
        t._retains_grad = False
        return t

    # -- what it is ---------------------------------------------------------------

    @property
    def shape(self) -> Size:
        return Size(self.array.shape)

    def size(self, dim: builtins.int | None = None) -> Any:
        """The shape as a ``Size``, or the length of dimension ``dim``."""
        if dim is None:
            return Size(self.array.shape)
        return self.array.shape[_check_dim(dim, self.array.ndim, "size")]

    @property
    def ndim(self) -> builtins.int:
        return self.array.ndim

    def dim(self) -> builtins.int:
        return self.array.ndim

    def numel(self) -> builtins.int:
        return self.array.size

    nelement = numel

    @property
    def dtype(self) -> _dtype.dtype:
        return _dtype.from_numpy_dtype(self.array.dtype)

    @property
    def device(self) -> device:
        return _CPU

    @property
    def is_cuda(self) -> builtins.bool:
        return False

    # Every tensor lives in NumPy memory: PyTorch's other placement and layout flags all answer no.
    @property
    def is_cpu(self) -> builtins.bool:
        """True: glassgrad tensors are in host memory."""
        return True

    @property
    def _answers_no(self) -> builtins.bool:
        return False

    is_xpu = is_mps = is_meta = is_ipu = is_xla = is_maia = is_mtia = is_vulkan = _answers_no
    is_sparse = is_sparse_csr = is_quantized = is_mkldnn = is_nested = _answers_no

    @property
    def is_leaf(self) -> builtins.bool:
        return self.grad_fn is None

    def is_floating_point(self) -> builtins.bool:
        return self.array.dtype.kind == "f"

    def element_size(self) -> builtins.int:
        return self.array.itemsize

    ndimension = dim

    @property
    def itemsize(self) -> builtins.int:
        return self.array.itemsize

    @property
    def nbytes(self) -> builtins.int:
        return self.array.nbytes

    def is_complex(self) -> builtins.bool:
        return self.array.dtype.kind == "c"

    def is_signed(self) -> builtins.bool:
        return self.array.dtype.kind in "fic"

    def get_device(self) -> builtins.int:
        """-1, PyTorch's answer for a tensor in host memory."""
        return -1

    @property
    def retains_grad(self) -> builtins.bool:
        """True for a non-leaf tensor on which ``retain_grad()`` was called."""
        return self._retains_grad

    def __len__(self) -> builtins.int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __repr__(self) -> str:
        array = self.array
        mode: Literal["maxprec", "fixed"] = "maxprec"
        if array.dtype.kind == "f":
            finite = array[np.isfinite(array)]
            # PyTorch prints 4 decimals unless every value is a whole number (then "1.").
            if finite.size and np.any(finite != np.round(finite)):
                mode = "fixed"
        body = np.array2string(array, separator=", ", prefix="tensor(", floatmode=mode, **PRINT_OPTIONS)
        extras = []
        if self.array.dtype not in (np.float32, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    def __format__(self, spec: str) -> str:
        # f"{loss:.4f}" works on one-element tensors, as in PyTorch.
        if self.array.ndim == 0:
            return format(self.array.item(), spec)
        if not spec:
            return repr(self)
        raise TypeError(
            f"format spec {spec!r} needs a 0-d tensor, this one has shape {tuple(self.array.shape)}; "
            "use .item() on a single element or .tolist()"
        )

    def __deepcopy__(self, memo: dict[builtins.int, Any]) -> Tensor:
        # A copy of a leaf: its values, requires_grad and grad (a graph is not copied, as in PyTorch).
        if not self.is_leaf:
            raise RuntimeError(
                "only tensors created by the user (graph leaves) support copy.deepcopy; "
                "call .detach() first to copy the values of a computed tensor"
            )
        if id(self) in memo:
            return memo[id(self)]
        result = Tensor._wrap(self.array.copy())
        result.requires_grad = self.requires_grad
        if self.grad is not None:
            result.grad = Tensor._wrap(self.grad.array.copy())
        memo[id(self)] = result
        return result

    # -- conversions --------------------------------------------------------------

    def numpy(self) -> np.ndarray:
        """The NumPy array behind the tensor (shares memory, like PyTorch's)."""
        if self.requires_grad:
            raise RuntimeError("can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()")
        return self.array

    def __dlpack__(
        self,
        *,
        stream: Any = None,
        max_version: tuple[builtins.int, builtins.int] | None = None,
        dl_device: Any = None,
        copy: builtins.bool | None = None,
    ) -> Any:
        """A DLPack capsule over the same memory (``torch.from_dlpack(t)`` shares it)."""
        if self.requires_grad:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        kwargs: dict[str, Any] = {
            k: v for k, v in (("max_version", max_version), ("dl_device", dl_device), ("copy", copy)) if v
        }
        return self.array.__dlpack__(stream=stream, **kwargs)

    def __dlpack_device__(self) -> tuple[builtins.int, builtins.int]:
        """``(device type, index)`` in DLPack's codes: always the CPU, ``(1, 0)``."""
        return self.array.__dlpack_device__()

    def __array__(self, dtype: Any = None, copy: builtins.bool | None = None) -> np.ndarray:
        # As in PyTorch: an array that shares a tensor autograd tracks would let a write through it
        # change values that backward relies on, silently giving wrong gradients.
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        array = self.array
        if dtype is not None and np.dtype(dtype) != array.dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.array.size != 1:
            raise ValueError(
                f"item(): only a one-element tensor can become a Python number, "
                f"this one has shape {tuple(self.array.shape)}"
            )
        return self.array.reshape(()).item()

    def tolist(self) -> Any:
        return self.array.tolist()

    def __float__(self) -> builtins.float:
        return float(self.item())

    def __int__(self) -> builtins.int:
        return int(self.item())

    def __bool__(self) -> builtins.bool:
        if self.array.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self.array.size} elements is ambiguous; use .any() or .all()"
            )
        return bool(self.array.reshape(()).item())

    def __index__(self) -> builtins.int:
        if self.array.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __hash__(self) -> builtins.int:
        return id(self)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(other_tensor)`` or ``to(device, dtype)``."""
        target = to_arguments(args, kwargs, "to")
        if target is None:
            return _ops.clone(self) if kwargs.get("copy") else self
        out = self.type(target)
        return _ops.clone(out) if kwargs.get("copy") and out is self else out

    def type(self, dtype: Any = None, non_blocking: builtins.bool = False) -> Any:
        """With no argument, PyTorch's type name (``'torch.FloatTensor'``); else this tensor cast to
        ``dtype``: a dtype, a legacy type (``torch.LongTensor``) or its name (``'torch.LongTensor'``)."""
        from glassgrad import _legacy

        if dtype is None:
            return _legacy.type_name(self.dtype)
        if isinstance(dtype, str):
            dtype = _legacy.dtype_of_type_name(dtype) or dtype
        elif isinstance(dtype, _legacy._LegacyTensorType):
            dtype = dtype.dtype
        target = _dtype.to_dtype(dtype).numpy
        if target == self.array.dtype:
            return self
        return _ops.cast(self, target)

    def type_as(self, other: Tensor) -> Tensor:
        return self.type(other.dtype)

    def float(self) -> Tensor:
        return self.type(_dtype.float32)

    def double(self) -> Tensor:
        return self.type(_dtype.float64)

    def half(self) -> Tensor:
        return self.type(_dtype.float16)

    def bfloat16(self) -> Tensor:
        """Raises: NumPy has no bfloat16 (the error says to use float32)."""
        return self.type(_dtype.bfloat16)

    def long(self) -> Tensor:
        return self.type(_dtype.int64)

    def int(self) -> Tensor:
        return self.type(_dtype.int32)

    def bool(self) -> Tensor:
        return self.type(_dtype.bool_)

    def byte(self) -> Tensor:
        return self.type(_dtype.uint8)

    def cpu(self) -> Tensor:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        raise RuntimeError(
            "glassgrad runs on the CPU only: glassgrad.cuda.is_available() is False; "
            "use .to(device) with device = 'cuda' if glassgrad.cuda.is_available() else 'cpu'"
        )

    def pin_memory(self) -> Tensor:
        return self

    def share_memory_(self) -> Tensor:
        """Move the values into shared memory (in place), so processes forked or spawned
        later see one another's writes (Hogwild training). No-op when already shared."""
        from glassgrad.backend import shared

        if not shared.is_shared(self.array):
            self.array = shared.share(np.ascontiguousarray(self.array))
        return self

    def is_shared(self) -> builtins.bool:
        """True when the values lie in shared memory (after ``share_memory_``, or received from another process)."""
        from glassgrad.backend import shared

        return shared.is_shared(self.array)

    # -- autograd -----------------------------------------------------------------

    def requires_grad_(self, requires_grad: builtins.bool = True) -> Tensor:
        if not self.is_leaf:
            if not requires_grad:
                raise RuntimeError("requires_grad_(False) only works on leaf tensors; use .detach() for a non-leaf")
            return self
        if requires_grad and self.array.dtype.kind != "f":
            raise RuntimeError(
                f"only floating-point tensors can require gradients, this one is {self.dtype}; "
                "convert it first with .float()"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """The same values, cut from the graph (shares memory and, as in PyTorch, the version counter)."""
        t = Tensor._wrap(self.array)
        t._base = _root(self)
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad = False
        return self

    @property
    def data(self) -> Tensor:
        return Tensor._wrap(self.array)

    @data.setter
    def data(self, value: Any) -> None:
        self.array = value.array if isinstance(value, Tensor) else np.asarray(value)

    def _grad_accumulator(self) -> Any:
        if self._accumulator is None:
            self._accumulator = _AccumulateGrad(self)
        return self._accumulator

    def retain_grad(self) -> None:
        """Keep ``.grad`` on a non-leaf tensor after backward."""
        if self.is_leaf or self._retains_grad:
            return
        import weakref

        ref = weakref.ref(self)

        def store(grad: np.ndarray) -> None:
            tensor = ref()
            if tensor is not None:
                g = Tensor._wrap(np.array(grad, copy=True))
                tensor.grad = g if tensor.grad is None else Tensor._wrap(tensor.grad.array + g.array)

        self._retains_grad = True
        self._pre_hooks().append(store)

    def _pre_hooks(self) -> list[Callable[[np.ndarray], Any]]:
        node: Any = self.grad_fn
        if "_pre_hooks" not in node.__dict__:
            node._pre_hooks = []
        return node._pre_hooks

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> _RemovableHandle:
        """Call ``hook(grad)`` with this tensor's gradient during backward; it may return a replacement."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        hooks: list[Any]
        item: Callable[..., Any]
        if self.is_leaf:
            if not self._hooks:
                self._hooks = []
            self._hooks.append(hook)
            hooks, item = self._hooks, hook
        else:

            def on_array(grad: np.ndarray) -> np.ndarray | None:
                replaced = hook(Tensor._wrap(grad))
                return None if replaced is None else _as_array(replaced, None)

            hooks = self._pre_hooks()
            # retain_grad's store must see the hooked gradient, so hooks go before it.
            hooks.insert(len(hooks) - (1 if self._retains_grad else 0), on_array)
            item = on_array
        return _RemovableHandle(hooks, item)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> _RemovableHandle:
        """Call ``hook(tensor)`` during backward each time a gradient has been added into this leaf's ``.grad``."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if not self.is_leaf:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors; "
                "use register_hook on a non-leaf tensor instead"
            )
        node = self._grad_accumulator()
        if "_post_hooks" not in node.__dict__:
            node._post_hooks = []
        node._post_hooks.append(hook)
        return _RemovableHandle(node._post_hooks, hook)

    def backward(
        self,
        gradient: Tensor | None = None,
        retain_graph: builtins.bool | None = None,
        create_graph: builtins.bool = False,
        inputs: Tensor | Sequence[Tensor] | None = None,
    ) -> None:
        """Compute the gradient of this tensor with respect to the graph's leaves.

        ``gradient`` is required unless the tensor holds a single element.
        """
        from glassgrad.autograd import backward

        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    # -- in-place ops (optimizers need them) ----------------------------------------

    def _check_inplace(self, op: str) -> None:
        if grad_mode._grad_enabled and self.requires_grad and self.is_leaf:
            raise RuntimeError(
                f"{op}: a leaf tensor that requires grad is being changed in place; "
                "wrap the update in `with glassgrad.no_grad():`"
            )

    def _inplace(self, op: str, result: Tensor) -> Tensor:
        """Write ``result`` (a Tensor) into this tensor, taking over its history when recorded."""
        self._check_inplace(op)
        out = result.array
        target = self.array
        if out.shape != target.shape:
            raise RuntimeError(
                f"{op}: the result has shape {tuple(out.shape)} but the tensor being changed in "
                f"place has shape {tuple(target.shape)}; the other operand must broadcast to it"
            )
        if out.dtype != target.dtype and not np.can_cast(out.dtype, target.dtype, "same_kind"):
            raise RuntimeError(
                f"{op}: the result type {_dtype.from_numpy_dtype(out.dtype)} can't be cast to the "
                f"tensor's dtype {self.dtype}; use the out-of-place form, or convert first (e.g. .float())"
            )
        node = result.grad_fn
        written = out is target  # the op wrote its result here itself (Function.apply_into)
        if node is not None and grad_mode._grad_enabled:
            if getattr(self, "_base", None) is not None:
                raise RuntimeError(
                    f"{op}: in-place change of a view (slice, reshape, transpose, ...) while gradients are "
                    "recorded; glassgrad cannot send gradients through it. Change the whole tensor instead "
                    "(base[index] = value works), or .clone() the view first"
                )
            if not written:
                # The op may have saved the old values of this very tensor, about to be overwritten.
                node.replace_saved(self)
                target[...] = out
            self.grad_fn = node
            self.requires_grad = True
        elif not written:
            target[...] = out
        self._bump_version(op)
        if written and node is not None:
            node.watch_output_in(self)
        return self

    def _bump_version(self, op: str) -> None:
        """Count an in-place change; views share their base's counter, as in PyTorch."""
        self._version += 1
        self._modified_by = op
        base = getattr(self, "_base", None)
        if base is not None:
            base._version += 1
            base._modified_by = op

    def _overwrite(self, op: str, values: Any) -> Tensor:
        """Replace every element by ``values`` (broadcast); earlier values get a zero gradient."""
        self._check_inplace(op)
        recording = grad_mode._grad_enabled and (
            self.requires_grad or (isinstance(values, Tensor) and values.requires_grad)
        )
        if recording:
            return self._inplace(op, _ops.overwrite(self, values))
        array = values.array if isinstance(values, Tensor) else values
        try:
            self.array[...] = array
        except ValueError:
            raise RuntimeError(
                f"{op}: values of shape {tuple(np.shape(array))} cannot be broadcast to the "
                f"tensor's shape {tuple(self.array.shape)}"
            ) from None
        self._bump_version(op)
        return self

    def addcmul_(self, tensor1: Tensor, tensor2: Tensor, value: Number = 1) -> Tensor:
        return self._inplace("addcmul_", _ops.add(self, _ops.mul(tensor1, tensor2), alpha=value))

    def addcdiv_(self, tensor1: Tensor, tensor2: Tensor, value: Number = 1) -> Tensor:
        return self._inplace("addcdiv_", _ops.add(self, _ops.div(tensor1, tensor2), alpha=value))

    def lerp_(self, end: Tensor, weight: Tensor | Number) -> Tensor:
        return self._inplace("lerp_", _ops.add(self, _ops.mul(_ops.sub(end, self), weight)))

    def zero_(self) -> Tensor:
        return self._overwrite("zero_", 0)

    def fill_(self, value: Tensor | Number) -> Tensor:
        return self._overwrite("fill_", value.item() if isinstance(value, Tensor) else value)

    def copy_(self, src: Tensor | np.ndarray | Number, non_blocking: builtins.bool = False) -> Tensor:
        """Copy ``src`` (broadcast to this shape, converted to this dtype) into this tensor."""
        return self._overwrite("copy_", src)

    # -- in-place sampling, PyTorch's distributions and argument checks ---------------

    def _sample_(self, op: str, values: Any, floating: builtins.bool = True) -> Tensor:
        if floating and self.array.dtype.kind != "f":
            raise RuntimeError(f"{op}: not implemented for {self.dtype}: it samples real numbers; use a float tensor")
        return self._overwrite(op, values)

    def _uniform01(self, generator: Generator | None) -> np.ndarray:
        from glassgrad import random

        return random.uniform(0.0, 1.0, self.array.shape, generator, dtype=np.float64)

    def normal_(
        self, mean: builtins.float = 0.0, std: builtins.float = 1.0, *, generator: Generator | None = None
    ) -> Tensor:
        """Fill with samples of N(mean, std**2)."""
        from glassgrad import random

        if std < 0:
            raise RuntimeError(f"normal_ expects std >= 0.0, but found std {std}")
        values = random.normal(mean, std, self.array.shape, generator, dtype=np.float64)
        return self._sample_("normal_", values)

    def uniform_(
        self,
        a: builtins.float = 0.0,
        b: builtins.float = 1.0,
        *,
        generator: Generator | None = None,
        **bounds: builtins.float,
    ) -> Tensor:
        """Fill with samples of U[a, b); PyTorch's keywords ``from=`` and ``to=`` are accepted too."""
        a, b = bounds.pop("from", a), bounds.pop("to", b)
        if bounds:
            raise TypeError(f"uniform_() got an unexpected keyword argument {sorted(bounds)[0]!r}")
        if a > b:
            raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}")
        return self._sample_("uniform_", a + (b - a) * self._uniform01(generator))

    def random_(
        self, *args: builtins.int | None, generator: Generator | None = None, **bounds: builtins.int | None
    ) -> Tensor:
        """``random_()``: integers in [0, 2**mantissa] for floats (the dtype's range for ints);
        ``random_(to)``: [0, to); ``random_(from, to)``: [from, to)."""
        from glassgrad import random

        if "from" in bounds or "to" in bounds:
            args = (bounds.pop("from", 0), bounds.pop("to", None))
        if bounds or len(args) > 2:
            raise TypeError("random_() takes random_(), random_(to) or random_(from, to)")
        kind = self.array.dtype
        low: Any
        high: Any
        if len(args) == 2 and args[1] is not None:
            low, high = args
        elif len(args) >= 1 and args[0] is not None and len(args) == 1:
            low, high = 0, args[0]
        else:
            low = args[0] if args else 0
            if kind == np.bool_:
                high = 2
            elif kind.kind == "f":
                high = 2 ** (np.finfo(kind).nmant + 1) + 1
            else:
                high = int(np.iinfo(kind).max) + (1 if kind.itemsize < 8 else 0)
        if low >= high:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
        values = random.integers(low, high, self.array.shape, generator)
        return self._sample_("random_", values, floating=False)

    def bernoulli_(self, p: Tensor | builtins.float = 0.5, *, generator: Generator | None = None) -> Tensor:
        """Fill with 1 where a uniform draw falls below ``p`` (a number or a tensor broadcast to this shape)."""
        probability = p.array if isinstance(p, Tensor) else p
        if np.any((np.asarray(probability) < 0) | (np.asarray(probability) > 1)):
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        return self._sample_("bernoulli_", self._uniform01(generator) < probability, floating=False)

    def exponential_(self, lambd: builtins.float = 1.0, *, generator: Generator | None = None) -> Tensor:
        """Fill with samples of the exponential distribution of rate ``lambd`` (inverse transform)."""
        if not lambd > 0:
            raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
        return self._sample_("exponential_", -np.log1p(-self._uniform01(generator)) / lambd)

    def geometric_(self, p: builtins.float, *, generator: Generator | None = None) -> Tensor:
        """Fill with the number of Bernoulli(p) trials up to the first success (values >= 1)."""
        if not 0 < p < 1:
            raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
        trials = np.ceil(np.log1p(-self._uniform01(generator)) / np.log1p(-p))
        return self._sample_("geometric_", np.maximum(trials, 1), floating=False)

    def cauchy_(
        self, median: builtins.float = 0.0, sigma: builtins.float = 1.0, *, generator: Generator | None = None
    ) -> Tensor:
        """Fill with samples of the Cauchy distribution located at ``median`` with scale ``sigma``."""
        return self._sample_("cauchy_", median + sigma * np.tan(np.pi * (self._uniform01(generator) - 0.5)))

    def log_normal_(
        self, mean: builtins.float = 1.0, std: builtins.float = 2.0, *, generator: Generator | None = None
    ) -> Tensor:
        """Fill with exp of samples of N(mean, std**2)."""
        from glassgrad import random

        if not std > 0:
            raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
        values = random.normal(mean, std, self.array.shape, generator, dtype=np.float64)
        return self._sample_("log_normal_", np.exp(values))

    def __setitem__(self, index: Any, value: Any) -> None:
        index = _ops.normalize_index(index)
        if grad_mode._grad_enabled and (self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)):
            self._inplace("__setitem__", _ops.index_put(self, index, value))
            return
        self._check_inplace("__setitem__")
        try:
            self.array[index] = value.array if isinstance(value, Tensor) else value
        except (IndexError, ValueError) as e:
            raise IndexError(
                f"__setitem__: cannot assign values of shape {tuple(np.shape(value))} at "
                f"{_ops.describe_index(index)} of a tensor of shape {tuple(self.array.shape)}: {e}"
            ) from None
        self._bump_version("__setitem__")

    # -- arithmetic operators ---------------------------------------------------------

    def __add__(self, other: Tensor | Number) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Tensor | Number) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Tensor | Number) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: Tensor | Number) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: Tensor | Number) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: Tensor | Number) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: Tensor | Number) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Tensor | Number) -> Tensor:
        return _ops.div(other, self)

    def __floordiv__(self, other: Tensor | Number) -> Tensor:
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other: Tensor | Number) -> Tensor:
        return _ops.floor_divide(other, self)

    def __mod__(self, other: Tensor | Number) -> Tensor:
        return _ops.remainder(self, other)

    def __pow__(self, exponent: Tensor | Number) -> Tensor:
        return _ops.pow(self, exponent)

    def __rpow__(self, base: Tensor | Number) -> Tensor:
        return _ops.pow(base, self)

    def __matmul__(self, other: Tensor | Number) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Tensor | Number) -> Tensor:
        return _ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __iadd__(self, other: Tensor | Number) -> Tensor:
        return self.add_(other)

    def __isub__(self, other: Tensor | Number) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other: Tensor | Number) -> Tensor:
        return self.mul_(other)

    def __itruediv__(self, other: Tensor | Number) -> Tensor:
        return self.div_(other)

    def __eq__(self, other: object) -> Any:  # type: ignore[override]  # elementwise, as in PyTorch
        if other is None:
            return False
        return _ops.eq(self, other)

    def __ne__(self, other: object) -> Any:  # type: ignore[override]  # elementwise, as in PyTorch
        if other is None:
            return True
        return _ops.ne(self, other)

    def __lt__(self, other: Tensor | Number) -> Tensor:
        return _ops.lt(self, other)

    def __le__(self, other: Tensor | Number) -> Tensor:
        return _ops.le(self, other)

    def __gt__(self, other: Tensor | Number) -> Tensor:
        return _ops.gt(self, other)

    def __ge__(self, other: Tensor | Number) -> Tensor:
        return _ops.ge(self, other)

    def __invert__(self) -> Tensor:
        return _ops.logical_not(self)

    def __and__(self, other: Tensor | Number) -> Tensor:
        return _ops.logical_and(self, other)

    def __or__(self, other: Tensor | Number) -> Tensor:
        return _ops.logical_or(self, other)

    def __xor__(self, other: Tensor | Number) -> Tensor:
        return _ops.logical_xor(self, other)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def __iter__(self) -> Iterator[Tensor]:
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    # -- methods that mirror glassgrad functions ------------------------------------

    def square(self) -> Tensor:
        return _ops.mul(self, self)

    def where(self, condition: Tensor, other: Tensor | Number) -> Tensor:
        return _ops.where(condition, self, other)

    def masked_fill(self, mask: Tensor, value: Tensor | Number) -> Tensor:
        return _ops.where(mask, value, self)

    def reshape(self, *shape: ShapeArg) -> Tensor:
        return _ops.reshape(self, shape_args(shape))

    def view(self, *shape: ShapeArg) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (_dtype.dtype, np.dtype)):
            raise TypeError("view(dtype) is not supported; use .to(dtype)")
        return _ops.view(self, shape_args(shape))

    def view_as(self, other: Tensor) -> Tensor:
        return _ops.view(self, other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return _ops.reshape(self, other.shape)

    def permute(self, *dims: ShapeArg) -> Tensor:
        return _ops.permute(self, shape_args(dims))

    def t(self) -> Tensor:
        if self.array.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, got {self.array.ndim}")
        return _ops.transpose(self, 0, 1) if self.array.ndim == 2 else self

    @property
    def T(self) -> Tensor:
        return _ops.permute(self, tuple(reversed(range(self.array.ndim))))

    @property
    def mT(self) -> Tensor:
        return _ops.transpose(self, -2, -1)

    def expand(self, *sizes: ShapeArg) -> Tensor:
        return _ops.expand(self, shape_args(sizes))

    def expand_as(self, other: Tensor) -> Tensor:
        return _ops.expand(self, other.shape)

    def repeat(self, *sizes: ShapeArg) -> Tensor:
        return _ops.repeat(self, shape_args(sizes))

    def contiguous(self, memory_format: Any = None) -> Tensor:
        return _ops.contiguous(self)

    def is_contiguous(self, memory_format: Any = None) -> builtins.bool:
        return self.array.flags.c_contiguous

    def stride(self, dim: builtins.int | None = None) -> Any:
        """Steps, in elements, between neighbours along each dimension (or along ``dim``)."""
        strides = tuple(s // self.array.itemsize for s in self.array.strides)
        return strides if dim is None else strides[_check_dim(dim, self.array.ndim, "stride")]

    def storage_offset(self) -> builtins.int:
        """How many elements into the memory it views this tensor starts (0 unless it is a view)."""
        root = self.array
        while isinstance(root.base, np.ndarray):
            root = root.base
        return (self.data_ptr() - root.__array_interface__["data"][0]) // self.array.itemsize

    def data_ptr(self) -> builtins.int:
        """The address of the first element."""
        return self.array.__array_interface__["data"][0]

    def new_tensor(self, data: Any, dtype: DTypeLike | None = None, requires_grad: builtins.bool = False) -> Tensor:
        out = Tensor._of(data, dtype=dtype or self.dtype)
        return out.requires_grad_(True) if requires_grad else out

    def new_zeros(self, *size: ShapeArg, dtype: DTypeLike | None = None) -> Tensor:
        return Tensor._wrap(np.zeros(shape_args(size), dtype=_np_dtype(dtype, self.array.dtype)))

    def new_ones(self, *size: ShapeArg, dtype: DTypeLike | None = None) -> Tensor:
        return Tensor._wrap(np.ones(shape_args(size), dtype=_np_dtype(dtype, self.array.dtype)))

    def new_full(self, size: Sequence[builtins.int], fill_value: Number, dtype: DTypeLike | None = None) -> Tensor:
        return Tensor._wrap(np.full(tuple(size), fill_value, dtype=_np_dtype(dtype, self.array.dtype)))

    def new_empty(self, *size: ShapeArg, dtype: DTypeLike | None = None) -> Tensor:
        return Tensor._wrap(np.empty(shape_args(size), dtype=_np_dtype(dtype, self.array.dtype)))


class Size(tuple):
    """A tensor's shape: a tuple that prints like PyTorch's ``torch.Size``."""

    def __repr__(self) -> str:
        return f"glassgrad.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


class device:
    """``glassgrad.device('cpu')``. Other device names are accepted, as on a PyTorch machine
    without them, but moving a tensor there raises: glassgrad computes on the CPU."""

    _KINDS = ("cpu", "cuda", "mps", "xpu", "meta")
    type: str
    index: int | None

    def __init__(self, type: str | device = "cpu", index: int | None = None) -> None:
        if isinstance(type, device):
            index = type.index
            type = type.type
        kind, _, number = str(type).partition(":")
        if kind not in self._KINDS:
            raise RuntimeError(f"unknown device type {kind!r}; expected one of {', '.join(self._KINDS)}")
        self.type = kind
        self.index = int(number) if number else index

    def __repr__(self) -> str:
        return (
            f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"
        )

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


def to_arguments(args: Sequence[Any], kwargs: dict[str, Any], op: str) -> Any:
    """The dtype asked for by ``.to(...)``'s arguments (None if only a device), after checking
    that any device named is the CPU. Shared by ``Tensor.to`` and ``Module.to``."""
    target = kwargs.get("dtype")
    for a in list(args) + [kwargs.get("device")]:
        if a is None:
            continue
        if isinstance(a, Tensor):
            target = a.dtype
        elif isinstance(a, (_dtype.dtype, np.dtype, type)):
            target = a
        else:
            check_cpu(a, op)
    return target


def check_cpu(where: str | device | None, op: str) -> None:
    """Accept the CPU (by name or device); refuse any other device with the portable idiom."""
    if where is None:
        return
    kind = where.type if isinstance(where, device) else device(where).type
    if kind != "cpu":
        raise RuntimeError(
            f"{op}: device {str(where)!r} is not available: glassgrad computes on the CPU only "
            "(glassgrad.cuda.is_available() is False); use "
            "device = 'cuda' if glassgrad.cuda.is_available() else 'cpu'"
        )


_CPU = device("cpu")


class _RemovableHandle:
    def __init__(self, container: list[Any], item: Any) -> None:
        self._container = container
        self._item = item

    def remove(self) -> None:
        if self._item in self._container:
            self._container.remove(self._item)


def _root(tensor: Tensor) -> Tensor:
    """The tensor owning the memory of ``tensor`` (itself unless it is a view)."""
    base = getattr(tensor, "_base", None)
    return tensor if base is None else base


def _np_dtype(dtype: DTypeLike | None, default: np.dtype) -> np.dtype:
    return default if dtype is None else _dtype.to_dtype(dtype).numpy


def _legacy_shape(args: tuple, size: Any, dtype: DTypeLike | None) -> tuple[int, ...] | None:
    """The shape the legacy constructor forms (``Tensor(3, 4)``, ``Tensor(size=...)``, ``Tensor()``)
    ask for, or None when ``args`` is data."""
    if size is not None:
        if args:
            raise TypeError("Tensor(): give either data/sizes or size=, not both")
        args = (size,)
    elif not args:
        return (0,)
    if len(args) == 1:
        first = args[0]
        if isinstance(first, Size) or (size is not None and isinstance(first, (list, tuple))):
            args = tuple(first)
        elif (
            not (isinstance(first, (int, np.integer)) and not isinstance(first, (bool, np.bool_))) or dtype is not None
        ):
            return None
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) for s in args):
        raise TypeError(
            f"Tensor(): pass one piece of data (a list or array) or sizes as ints, got "
            f"{tuple(type(s).__name__ for s in args)}"
        )
    if any(s < 0 for s in args):
        raise RuntimeError(f"Tensor(): negative dimension in size {tuple(int(s) for s in args)}")
    return tuple(int(s) for s in args)


def _as_array(data: Any, dtype: DTypeLike | None) -> np.ndarray:
    """Turn Python data or an array into a NumPy array with PyTorch's default dtypes."""
    if dtype is not None:
        np_dtype = _dtype.to_dtype(dtype).numpy
        if isinstance(data, Tensor):
            data = data.array
        return np.array(data, dtype=np_dtype)
    if isinstance(data, np.ndarray):
        if data.dtype == np.float64 or data.dtype.kind != "O":
            _dtype.from_numpy_dtype(data.dtype)  # raises on unsupported dtypes
            return data
    if isinstance(data, np.generic):
        array = np.asarray(data)
        _dtype.from_numpy_dtype(array.dtype)  # raises on unsupported dtypes
        return array
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        data = [x.array if isinstance(x, Tensor) else x for x in data]
    array = np.array(data)
    if array.dtype.kind == "f":
        return array.astype(_dtype.get_default_dtype().numpy, copy=False)
    if array.dtype.kind in "iu" and array.dtype != np.uint8:
        return array.astype(np.int64, copy=False)
    if array.dtype.kind == "b":
        return array
    if array.dtype == np.uint8:
        return array
    raise TypeError(
        f"cannot make a tensor from {type(data).__name__} with NumPy dtype {array.dtype}; "
        "pass numbers, nested lists of numbers, or a numeric array"
    )


def shape_args(args: Sequence[Any]) -> tuple[int, ...]:
    """Accept both ``f(2, 3)`` and ``f((2, 3))`` like PyTorch's shape arguments."""
    if len(args) == 1 and isinstance(args[0], (tuple, list, Size)):
        return tuple(int(s) for s in args[0])
    return tuple(int(s) for s in args)


def _check_dim(dim: int, ndim: int, op: str) -> int:
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(
            f"{op}: dimension {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected {-max(ndim, 1)} to {max(ndim, 1) - 1})"
        )
    return dim % max(ndim, 1)


# Imported last: these modules build on Tensor, which must exist before they load.
from glassgrad import ops as _ops  # noqa: E402
from glassgrad.autograd import grad_mode  # noqa: E402
from glassgrad.autograd.function import AccumulateGrad as _AccumulateGrad  # noqa: E402
