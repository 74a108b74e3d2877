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

    def __reduce_ex__(self, protocol):
        raise TypeError("glassgrad tensors are saved with glassgrad.save (no pickle)")
