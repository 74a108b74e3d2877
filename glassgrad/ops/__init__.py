"""The differentiable operations, a module per family; each op is a Function subclass
with its forward and backward side by side, plus a function that applies it.

Each public op is declared once, by a ``register(OpInfo(...))`` entry at the end of its family
module (see ``glassgrad/ops/registry.py``); importing this package binds the registered
Tensor methods and exports the ops here and, through ``glassgrad/__init__.py``, as ``glassgrad.X``.
"""

from typing import TYPE_CHECKING

from glassgrad.ops import (
    bessel,
    contraction,
    counting,
    cumulative,
    decompositions,
    elementwise,
    grid_sample,
    indexing,
    linalg,
    math_extra,
    matrix,
    normal_cdf,
    products,
    rearrange,
    reduction,
    registry,
    sampling,
    scattering,
    shape,
    special,
)
from glassgrad.ops.elementwise import cast, overwrite
from glassgrad.ops.indexing import describe_index, getitem, index_put, normalize_index
from glassgrad.ops.shape import contiguous, pad, view
from glassgrad.tensor import Tensor as _Tensor

if TYPE_CHECKING:
    from typing import Any

    # The ops that registry.export puts here at import (add, matmul, ...), for type checkers.
    def __getattr__(name: str) -> Any: ...


registry.bind(_Tensor)
registry.export(globals())
