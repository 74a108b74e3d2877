"""Transposed convolution, as the input gradient of the convolution it transposes.

``conv_transpose(x, w)`` is what ``Convolution.backward`` sends to the input of a convolution
whose output is ``x``: so its forward pass is that input-gradient pass, its input gradient is
that convolution's forward pass, and its weight gradient is that convolution's weight
gradient with the roles of input and output gradient swapped. All three run the same
algorithms (``select.select``) as the convolution itself.
"""

import numpy as np

from glassgrad.autograd.function import Function
from glassgrad.ops.conv import Convolution, select
from glassgrad.ops.conv.geometry import Geometry


def output_hw(hw, kernel, stride, padding, dilation, output_padding):
    """The output size of a 2-D transposed convolution: (H-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1."""
    return tuple(
        (h - 1) * s - 2 * p + d * (k - 1) + op + 1
        for h, k, s, p, d, op in zip(hw, kernel, stride, padding, dilation, output_padding)
    )


class ConvTranspose(Function):
    """2-D transposed convolution.

    Shapes: input (N, C_in, H, W), weight (C_in, C_out/groups, kh, kw), bias (C_out,) or None ->
    output (N, C_out, H_out, W_out), H_out = (H-1)*stride - 2*padding + dilation*(kh-1) + output_padding + 1.
    ``padding`` is (ph, pw): the zeros the transposed convolution would have added to its output.
    """

    def forward(self, x, weight, bias, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, output_padding=(0, 0)):
        n, c_out = x.shape[0], weight.shape[1] * groups
        out_hw = output_hw(x.shape[2:], weight.shape[2:], stride, padding, dilation, output_padding)
        # The convolution this one transposes maps (n, C_out, H_out, W_out) back to x's shape, with
        # output_padding taken off its bottom/right padding: rows that padding would have cut off.
        # Past the padding, the extra rows get nothing from x: they are computed apart, as zeros.
        pads = tuple((p, max(p - op, 0)) for p, op in zip(padding, output_padding))
        self.extra = tuple(max(op - p, 0) for p, op in zip(padding, output_padding))
        inner = tuple(size - e for size, e in zip(out_hw, self.extra))
        geo = Geometry((n, c_out, *inner), weight.shape, stride, pads, dilation, groups)
        plan = select.select(geo, x.dtype)
        self.geo, self.plan, self.pads = geo, plan, pads
        self.options = dict(stride=tuple(stride), padding=pads, dilation=tuple(dilation), groups=groups)
        conv = _node(geo, plan, (True, False, False), (None, weight))
        out = conv.backward(np.ascontiguousarray(x))[0]
        if any(self.extra):
            out = np.pad(out, ((0, 0), (0, 0), (0, self.extra[0]), (0, self.extra[1])))
        if bias is not None:
            out += bias.reshape(1, -1, 1, 1)
        self.save_for_backward(
            x if self.needs_input_grad[1] else None,
            weight if self.needs_input_grad[0] else None,
        )
        return out

    def backward(self, grad):
        x, weight = self.saved_tensors
        need_x, need_w = self.needs_input_grad[:2]
        need_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        grad_x = grad_w = grad_b = None
        if need_b:
            grad_b = grad.sum(axis=(2, 3)).sum(axis=0)
        h, w = self.geo.hw
        grad = np.ascontiguousarray(grad[:, :, :h, :w])
        if need_x:
            conv = Convolution()
            conv.needs_input_grad = (False, False, False)
            grad_x = conv.forward(grad, weight, None, **self.options)
        if need_w:
            grad_w = _node(self.geo, self.plan, (False, True, False), (grad, None)).backward(np.ascontiguousarray(x))[1]
        return grad_x, grad_w, grad_b


def _node(geo, plan, needs, saved):
    """A Convolution node set up as its forward pass would leave it, to run its backward alone."""
    conv = Convolution()
    # The passes nobody asked for run nothing (as select plans them for a node of its own).
    plan = plan._replace(
        input_grad=plan.input_grad if needs[0] else None, weight_grad=plan.weight_grad if needs[1] else None
    )
    conv.geo, conv.plan, conv.needs_input_grad = geo, plan, needs
    conv.save_for_backward(*saved)
    return conv
