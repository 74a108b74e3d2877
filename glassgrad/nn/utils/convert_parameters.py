"""One vector from many parameters, and back (for line searches, second-order methods, ...)."""

import numpy as np

from glassgrad.autograd.graph import increment_version
from glassgrad.tensor import Tensor


def parameters_to_vector(parameters):
    """The parameters flattened and concatenated into one new 1-D tensor (a copy, no graph)."""
    arrays = [p.array.reshape(-1) for p in parameters]
    if not arrays:
        raise RuntimeError("parameters_to_vector: no parameters given")
    return Tensor._wrap(np.concatenate(arrays))


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D tensor ``vec`` into the parameters, in place."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected a Tensor, but got: {type(vec).__name__}")
    flat = vec.array.reshape(-1)
    offset = 0
    for p in parameters:
        n = p.array.size
        if offset + n > flat.size:
            raise RuntimeError(
                f"vector_to_parameters: the vector has {flat.size} elements, fewer than the parameters hold"
            )
        p.array[...] = flat[offset : offset + n].reshape(p.array.shape)
        increment_version(p, "vector_to_parameters")
        offset += n
    if offset != flat.size:
        raise RuntimeError(
            f"vector_to_parameters: the vector has {flat.size} elements but the parameters hold {offset}"
        )
