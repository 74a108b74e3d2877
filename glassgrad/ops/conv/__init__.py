"""2-D convolution: the Function, and the functional forms' entry.

Layout of the package:

- ``geometry.py``: a convolution's shapes (``Geometry``) and the checks of its arguments;
- one module per algorithm: ``im2col.py`` (the columns and a matrix product), ``wide.py`` (the
  stride-1 wide rows, forward only), ``direct.py`` (the compiled direct kernel), ``depthwise.py``,
  ``pointwise.py`` (1x1), ``winograd.py`` (F(2x2, 3x3) for 3x3 kernels at stride 1). Each offers
  ``forward(geo, x, weight, bias)`` and, for the gradients it computes, ``input_grad(geo, weight,
  grad, chunks)`` and ``weight_grad(geo, x, grad, chunks)``, which return a ``workspace.Job``;
  one that prepares its weight (``winograd``, ``direct``) also offers ``forward_inference``, the
  same pass with the preparation kept between calls that want no gradient (``prepared.py``);
- ``select.py``: ``select``, the one table of which algorithm runs each pass (forced by
  ``glassgrad.backends.conv.algorithm``, else the measured rules);
- the chunk scheduler and the workspaces live in ``glassgrad.backend.workspace``.

``Convolution`` only asks ``select`` for the plan and calls the plan's modules.

Adding an algorithm (a Winograd 3x3, a depthwise kernel, a GPU one): one new module with the
passes above for the shapes it supports, and its entry in ``select`` (its name in
``select.MODULES`` and the rule that picks it in ``select.select``); the name it is forced by
goes in ``glassgrad.backends.conv.ALGORITHMS``.
"""

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.backend import workspace
from glassgrad.backend.workspace import clear_workspaces  # noqa: F401  (the public name it always had)
from glassgrad.ops.conv import select
from glassgrad.ops.conv.geometry import Geometry, check_conv, conv_arguments  # noqa: F401  (nn.functional's)
from glassgrad.tensor import Tensor

# Output pixels per backward chunk at least, where im2col computes the weight gradient (each
# chunk's product writes a whole partial gradient): 128-1024 measured alike, 256 taken.
MIN_GRAD_PIXELS = 256


class Convolution(Function):
    """2-D convolution (cross-correlation, as in PyTorch).

    Shapes: input (N, C_in, H, W), weight (C_out, C_in/groups, kh, kw), bias (C_out,) or None
    -> output (N, C_out, H_out, W_out) with H_out = (H + pad_top + pad_bottom - dilation*(kh-1) - 1) // stride + 1.
    ``padding`` is ((top, bottom), (left, right)) of zeros.
    """

    def forward(self, x, weight, bias, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
        geo = Geometry(x.shape, weight.shape, stride, padding, dilation, groups)
        self.geo = geo
        self.plan = select.select(geo, x.dtype, self.needs_input_grad[:2])
        module = select.module(self.plan.forward)
        if not any(self.needs_input_grad) and hasattr(module, "forward_inference"):
            # No gradient wanted: the weight's preparation is kept for the next call (prepared.py).
            result = module.forward_inference(geo, x, weight, bias)
        else:
            result = module.forward(geo, x, weight, bias)
        if any(self.needs_input_grad):  # under no_grad, or for constants, keep nothing alive
            # The input itself, not its padded copy: backward pads each chunk again (a cache-hot
            # copy), and a deep network does not hold a second copy of every activation.
            self.save_for_backward(
                x if self.needs_input_grad[1] else None,
                weight if self.needs_input_grad[0] else None,
            )
        return result

    def backward(self, grad):
        x, weight = self.saved_tensors
        geo, plan = self.geo, self.plan
        n, hw = grad.shape[0], geo.out_hw[0] * geo.out_hw[1]
        grad_b = None
        if self.needs_input_grad[2]:
            # Pairwise sums along the contiguous pixel axis first: more accurate than a long column sum.
            grad_b = grad.reshape(n, geo.c_out, hw).sum(axis=2).sum(axis=0)

        # Both gradients in one pass over the chunks of the output gradient. The weight gradient's
        # columns' product writes a whole (C_out, K) partial per chunk, summed after: on small
        # images chunks of MIN_GRAD_PIXELS output pixels or more (benchmarks/README.md, "Winograd").
        least = -(-MIN_GRAD_PIXELS // hw) if plan.weight_grad == "im2col" else 1
        chunks = workspace.chunks(n, hw * geo.groups * geo.k * grad.itemsize, least)
        jobs = {}
        if plan.input_grad is not None:
            jobs["x"] = select.module(plan.input_grad).input_grad(geo, weight, grad, chunks)
        if plan.weight_grad is not None:
            jobs["w"] = select.module(plan.weight_grad).weight_grad(geo, x, grad, chunks)
        if not jobs:
            return None, None, grad_b
        workspace.run_jobs(chunks, n * hw * geo.c_out * geo.k * len(jobs), list(jobs.values()))
        results = {name: job.result() for name, job in jobs.items()}
        return results.get("x"), results.get("w"), grad_b


def convolve(x, weight, bias, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """``Convolution`` on (N, C_in, H, W), and PyTorch's answer when C_in is 0.

    With no input channels PyTorch returns an empty (N, 0, H_out, W_out) tensor (not
    C_out channels: it mirrors the empty input), whose backward gives zero gradients to the
    weight and bias; the kernels themselves cannot multiply by an empty matrix.
    """
    if x.shape[1] != 0:
        return Convolution.apply(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)
    geo = Geometry(tuple(x.shape), tuple(weight.shape), stride, padding, dilation, groups)
    zero = x.sum() * 0 + weight.sum() * 0
    if bias is not None:
        zero = zero + bias.sum() * 0
    return zero + Tensor._wrap(np.zeros((x.shape[0], 0, *geo.out_hw), dtype=x.array.dtype))
