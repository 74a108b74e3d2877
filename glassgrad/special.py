"""``torch.special``: the special functions under PyTorch's ``special.`` names.

The ops registered with a ``special.`` alias (``special.i0e``, ``special.ndtri``, ...) come from
the registry; the rest are PyTorch's other names for ops glassgrad has under its main name.
"""

from glassgrad import ops
from glassgrad.ops import registry

registry.export(globals(), prefix="special.")

expit = ops.sigmoid
gammaln = ops.lgamma
digamma = psi = ops.digamma
erf, erfc, erfinv = ops.erf, ops.erfc, ops.erfinv
log1p, expm1 = ops.log1p, ops.expm1
round = ops.round
logsumexp = ops.logsumexp


def exp2(input):
    """2 ** input."""
    return 2.0**input


def softmax(input, dim, *, dtype=None):
    """softmax along ``dim`` (``dim`` is required here, as in torch.special)."""
    return ops.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """log_softmax along ``dim`` (``dim`` is required here, as in torch.special)."""
    return ops.log_softmax(input, dim, dtype=dtype)
