"""How tensors cross process boundaries: by a handle to their shared memory, never by copy.

Registered with multiprocessing's ForkingPickler only, so process arguments and queues carry
tensors while ``pickle.dumps`` of a tensor still refuses (glassgrad files are never pickles).
"""

from multiprocessing.reduction import ForkingPickler

from glassgrad.backend import shared
from glassgrad.nn.parameter import Parameter
from glassgrad.tensor import Tensor


def rebuild_tensor(cls, handle, requires_grad):
    array = shared.attach(*handle)
    if cls is Parameter:
        return Parameter(Tensor._wrap(array), requires_grad)
    t = Tensor._wrap(array)
    t.requires_grad = requires_grad
    return t


def reduce_tensor(tensor):
    if tensor.requires_grad and not tensor.is_leaf:
        raise RuntimeError(
            "cannot send a non-leaf tensor that requires grad to another process (its graph cannot "
            "travel); send tensor.detach() instead"
        )
    tensor.share_memory_()  # in place, as PyTorch does: sender and receiver then share the values
    return rebuild_tensor, (type(tensor), shared.handle(tensor.array), tensor.requires_grad)


def init_reductions():
    for cls in (Tensor, Parameter):
        ForkingPickler.register(cls, reduce_tensor)
