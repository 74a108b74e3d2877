"""Which algorithm a float convolution runs (read by ``glassgrad.ops.conv.select.select``).

``algorithm`` is one of:

- ``"auto"`` (the default): the measured table in ``glassgrad.ops.conv.select.select``;
- ``"im2col"``: the columns and a matrix product for every pass;
- ``"wide"``: the stride-1 "wide rows" columns for the forward pass wherever the stride is 1,
  im2col elsewhere and for both gradients;
- ``"direct"``: the compiled direct kernel for every pass it can run (float32, one group, a
  window of 2 to ``direct_conv.MAX_TAPS`` offsets, the kernel available; the input gradient also
  needs stride 1 and padding within the kernel's reach, the weight gradient rows of whole tiles
  and output channels a multiple of 4), however little it pays there;
- ``"depthwise"``: the depthwise kernels (groups = input = output channels) wherever they run;
  "auto" takes them there too;
- ``"pointwise"``: 1x1 convolutions (stride 1, no padding, one group) as one product per image on
  the NCHW data, forward and input gradient; "auto" takes it there too;
- ``"winograd"``: Winograd's F(2x2, 3x3) for stride-1, undilated, one-group 3x3 convolutions,
  all three passes, in any float dtype; "auto" takes its forward and input gradient in float32
  with 64 channels or more on both sides (its weight gradient did not pay).

A forced algorithm never raises where it cannot run: those passes take the ``"auto"`` choice.
Set it for the whole process (``glassgrad.backends.conv.algorithm = "im2col"``) or for a block::

    with glassgrad.backends.conv.flags(algorithm="im2col"):
        y = F.conv2d(x, w)
"""

import contextlib
from collections.abc import Iterator

ALGORITHMS = ("auto", "im2col", "wide", "direct", "depthwise", "pointwise", "winograd")

algorithm = "auto"


def current() -> str:
    """The algorithm in force, checked: a clear error for a name that is not one of ``ALGORITHMS``."""
    if algorithm not in ALGORITHMS:
        raise ValueError(
            f"glassgrad.backends.conv.algorithm must be one of {ALGORITHMS}, got {algorithm!r}; "
            'set it to "auto" for the measured choice'
        )
    return algorithm


@contextlib.contextmanager
def flags(algorithm: str = "auto") -> Iterator[None]:
    """Force ``algorithm`` inside the ``with`` block, and restore the previous setting after it."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"flags: algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    module = globals()
    previous = module["algorithm"]
    module["algorithm"] = algorithm
    try:
        yield
    finally:
        module["algorithm"] = previous
