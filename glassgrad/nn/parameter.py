"""Parameter: a leaf tensor that a Module registers as one of its weights."""

import numpy as np

from glassgrad.tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a module's learnable weight: assigning one to a Module attribute
    registers it in ``parameters()`` and ``state_dict()``. Requires grad by default."""

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = []
        super().__init__(data.detach() if isinstance(data, Tensor) else data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        # copy.deepcopy(model) (a snapshot of the best weights) copies arrays, never pickles.
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(Tensor._wrap(self.array.copy()), self.requires_grad)
        if self.grad is not None:
            result.grad = Tensor._wrap(self.grad.array.copy())
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        raise TypeError("glassgrad tensors are saved with glassgrad.save (no pickle)")


_UNINITIALIZED = (
    "Can't access the shape of an uninitialized parameter or buffer. This error usually happens in "
    "`load_state_dict` when trying to load an uninitialized parameter into an initialized one. Call `forward` "
    "to initialize the parameters before accessing their attributes."
)


class UninitializedTensorMixin:
    """A parameter or buffer whose shape is not known yet (a lazy module's, before its first call).

    ``materialize(shape)`` gives it an array and turns it, in place (the same object, so optimizers
    built before the first call keep it), into a regular Parameter or Tensor."""

    __slots__ = ()
    cls_to_become: type | None = None

    def materialize(self, shape, device=None, dtype=None):
        dtype = self.array.dtype if dtype is None else _numpy_dtype(dtype)
        self.array = np.empty(tuple(shape), dtype=dtype)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(_UNINITIALIZED)

    def size(self, dim=None):
        raise RuntimeError(_UNINITIALIZED)

    def numel(self):
        raise RuntimeError(_UNINITIALIZED)

    @property
    def ndim(self):
        raise RuntimeError(_UNINITIALIZED)

    def dim(self):
        raise RuntimeError(_UNINITIALIZED)

    def __repr__(self):
        return f"<{type(self).__name__}>"

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(requires_grad=self.requires_grad, dtype=self.array.dtype)
        memo[id(self)] = result
        return result


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter with no shape yet; becomes a Parameter when materialized."""

    __slots__ = ()
    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        super().__init__(Tensor(np.empty(0, dtype=_numpy_dtype(dtype))), requires_grad)


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer with no shape yet; becomes a Tensor when materialized."""

    __slots__ = ()
    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None):
        super().__init__(np.empty(0, dtype=_numpy_dtype(dtype)), requires_grad=requires_grad)


def is_lazy(param):
    """Whether ``param`` is an uninitialized parameter or buffer."""
    return isinstance(param, UninitializedTensorMixin)


def _numpy_dtype(dtype):
    if dtype is None:
        from glassgrad._dtype import get_default_dtype

        dtype = get_default_dtype()
    return np.dtype(getattr(dtype, "numpy", dtype))
