"""``torch.nn.modules``: the layer classes of ``glassgrad.nn``, under the path PyTorch files them.

Programs that subclass or type-check against ``torch.nn.modules.Module`` or import the tuple
helpers from ``torch.nn.modules.utils`` find them here.
"""

from glassgrad.nn import *  # noqa: F403
from glassgrad.nn import Module, Parameter  # noqa: F401
from glassgrad.nn.modules import utils  # type: ignore[no-redef]  # noqa: F401  (not nn.utils, as in PyTorch)
