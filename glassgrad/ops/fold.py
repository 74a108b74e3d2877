"""Unfold (im2col as a layer's output) and Fold (its adjoint, col2im), each the other's backward.

Both loop over the kh*kw kernel offsets, not over windows: each offset is one strided slice
of the padded input, so the work per offset is a whole-array copy or add.
"""

import numpy as np

from glassgrad.autograd.function import Function


def out_size(size, kernel, dilation, padding, stride):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def unfold_array(x, kernel, dilation, padding, stride):
    """(N, C, H, W) -> (N, C*kh*kw, L): every window as a column, channel-major, as PyTorch orders them."""
    n, c, h, w = x.shape
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    oh, ow = out_size(h, kh, dh, ph, sh), out_size(w, kw, dw, pw, sw)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            cols[:, :, i, j] = xp[:, :, top : top + sh * (oh - 1) + 1 : sh, left : left + sw * (ow - 1) + 1 : sw]
    return cols.reshape(n, c * kh * kw, oh * ow)


def fold_array(cols, output_size, kernel, dilation, padding, stride):
    """(N, C*kh*kw, L) -> (N, C, H, W): each column added back where its window lies (overlaps sum)."""
    n = cols.shape[0]
    (h, w), (kh, kw), (dh, dw), (ph, pw), (sh, sw) = output_size, kernel, dilation, padding, stride
    oh, ow = out_size(h, kh, dh, ph, sh), out_size(w, kw, dw, pw, sw)
    c = cols.shape[1] // (kh * kw)
    blocks = cols.reshape(n, c, kh, kw, oh, ow)
    out = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            # Within one offset the windows' pixels are distinct, so a sliced add is exact.
            out[:, :, top : top + sh * (oh - 1) + 1 : sh, left : left + sw * (ow - 1) + 1 : sw] += blocks[:, :, i, j]
    return out[:, :, ph : ph + h, pw : pw + w]


class Unfold(Function):
    """input (N, C, H, W) -> (N, C*kh*kw, L), L the number of windows."""

    def forward(self, x, kernel=(1, 1), dilation=(1, 1), padding=(0, 0), stride=(1, 1)):
        self.options = (kernel, dilation, padding, stride)
        self.hw = x.shape[2:]
        return unfold_array(x, *self.options)

    def backward(self, grad):
        return (fold_array(grad, self.hw, *self.options),)


class Fold(Function):
    """input (N, C*kh*kw, L) -> (N, C, H, W), with H, W = ``output_size``."""

    def forward(self, cols, output_size=(1, 1), kernel=(1, 1), dilation=(1, 1), padding=(0, 0), stride=(1, 1)):
        self.options = (kernel, dilation, padding, stride)
        return fold_array(cols, output_size, *self.options)

    def backward(self, grad):
        return (unfold_array(np.ascontiguousarray(grad), *self.options),)
