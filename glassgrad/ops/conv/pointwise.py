"""1x1 convolutions (stride 1, no padding, one group) as matrix products on the NCHW data itself.

Image by image, a 1x1 convolution is out[i] (C_out, H*W) = weight (C_out, C_in) @ x[i] (C_in, H*W),
and its input gradient grad_x[i] = weight.T @ grad[i]: both in NCHW as they lie, with no columns,
no padded copy and no transpose of the result (the "wide" and im2col paths copy the input once
into columns and move the product's rows into NCHW after). Chunks of images are shared among
threads, each product on one BLAS thread (``workspace.each_chunk``), as for the other algorithms.
The weight gradient is, per chunk, the sum over its images of grad[i] (C_out, H*W) @ x[i].T, also
as the data lies, instead of im2col's copy of the chunk's gradient into channel-first rows and
one product over all its pixels; on 4x4 maps each product sums only 16 pixels, and im2col keeps it.
"""

import numpy as np

from glassgrad.backend import memory, workspace

# Pixels per image from which the gradients' per-image products beat im2col's one product per
# chunk (on 4x4 maps they did not: benchmarks/README.md, "1x1 convolutions" and "MobileNetV2
# training step").
MIN_PIXELS = 64


def runs(geo):
    """Whether this convolution is a plain 1x1 product: 1x1 kernel, stride 1, no padding, one group."""
    return geo.kernel == (1, 1) and geo.stride == (1, 1) and geo.padding == ((0, 0), (0, 0)) and geo.groups == 1


def _products(matrix, images, out, itemsize):
    """out[i] = matrix @ images[i] for every image, (n, K, P) -> (n, M, P), in chunks among threads."""
    n, k, pixels = images.shape

    def chunk(index, lo, hi):
        for i in range(lo, hi):
            np.matmul(matrix, images[i], out=out[i])

    chunks = workspace.chunks(n, k * pixels * itemsize)
    workspace.each_chunk(chunks, n * matrix.shape[0] * k * pixels, chunk)


def forward(geo, x, weight, bias):
    """(n, C_in, H, W) by weight (C_out, C_in, 1, 1), bias (C_out,) or None -> (n, C_out, H, W)."""
    n, (h, w) = x.shape[0], geo.hw
    out = memory.empty((n, geo.c_out, h, w), x.dtype)
    images = np.ascontiguousarray(x).reshape(n, geo.c_in, h * w)
    _products(
        np.ascontiguousarray(weight.reshape(geo.c_out, geo.c_in)), images, out.reshape(n, geo.c_out, -1), x.itemsize
    )
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def input_grad(geo, weight, grad, chunks):
    """The input gradient as a pass of ``Convolution.backward`` (one product per image)."""
    return workspace.whole_batch(lambda: _input_grad(geo, weight, grad))


def _input_grad(geo, weight, grad):
    """The input gradient (n, C_in, H, W) from the output gradient (n, C_out, H, W)."""
    n, (h, w) = grad.shape[0], geo.hw
    grad_x = memory.empty((n, geo.c_in, h, w), grad.dtype)
    images = np.ascontiguousarray(grad).reshape(n, geo.c_out, h * w)
    matrix = weight.reshape(geo.c_out, geo.c_in).T  # a transposed view: BLAS reads it as it lies
    _products(matrix, images, grad_x.reshape(n, geo.c_in, -1), grad.itemsize)
    return grad_x


def weight_grad(geo, x, grad, chunks):
    """The weight gradient (C_out, C_in, 1, 1) as a pass of ``Convolution.backward``: per chunk,
    the sum of its images' products grad[i] @ x[i].T; the chunks' partials summed in order."""
    n = grad.shape[0]
    partials = np.empty((len(chunks), geo.c_out, geo.c_in), dtype=grad.dtype)
    images = np.ascontiguousarray(x).reshape(n, geo.c_in, -1)
    grads = np.ascontiguousarray(grad).reshape(n, geo.c_out, -1)

    def chunk(index, lo, hi, shared):
        out = partials[index]
        np.matmul(grads[lo], images[lo].T, out=out)
        if hi - lo > 1:
            product = workspace.workspace("pointwise_weight_grad", out.shape, out.dtype)
            for i in range(lo + 1, hi):
                np.matmul(grads[i], images[i].T, out=product)
                out += product

    def result():
        gw = partials[0] if len(chunks) == 1 else partials.sum(axis=0)
        return gw.reshape(geo.c_out, geo.c_in, 1, 1)

    return workspace.Job(chunk, result)
