"""Parameter: a leaf tensor that a Module registers as one of its weights."""

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
