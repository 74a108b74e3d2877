"""Winograd's F(2x2, 3x3): a stride-1 3x3 convolution as 16 matrix products on 4x4 input tiles.

Each 2x2 block of outputs is computed from the 4x4 input tile around it: with the tile's
transform ``V = B^T d B``, the weight's ``U = G g G^T`` (both 4x4 per channel) and, at each of
the 16 transformed positions, the sum over input channels ``M = sum_c U[k, c] * V[c]``, the
outputs are ``Y = A^T M A``:

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]

The sum over channels is, for all tiles of a chunk of images at once, one product per position:
``M[p] (C_out, tiles) = U[p] (C_out, C_in) @ V[p] (C_in, tiles)``: 16 products with 16*C_out*C_in
multiply-adds per tile, against im2col's 36*C_out*C_in for the same four outputs (2.25x fewer).
The transforms are additions and subtractions of strided views (NumPy, no loop over tiles);
float32 rounding is larger than im2col's (the transforms add up to four terms twice over), a few
units of 1e-6 relative to the output's scale.

Layouts: each chunk of images is copied into a zero-padded NCHW buffer whose size is a whole
number of tiles; the transform along the rows writes (C_in, b, tiles_h, width) so that the
products' columns are the chunk's tiles in (b, tiles_h, tiles_w) order, and the output transform
writes (C_out, b, H_out, W_out), which becomes NCHW by moving whole planes (as im2col does).

The input gradient of a stride-1 convolution is again one (``Geometry.input_gradient``), with the
weight flipped in both spatial axes and its channel axes swapped: the same passes run it. The
weight gradient (``weight_grad``, the adjoint: the output gradient's tiles ``A y A^T`` times the
input's, then ``G^T dU G``) runs wherever the forward pass does (``select.winograd_pays``;
benchmarks/README.md, "Winograd").
"""

import numpy as np

from glassgrad import backend
from glassgrad.backend import memory, winograd_tiles, workspace
from glassgrad.ops.conv import prepared
from glassgrad.ops.conv.geometry import copy_inside


def runs(geo):
    """Whether F(2x2, 3x3) computes this convolution: a 3x3 kernel, stride 1, no dilation, one group."""
    return geo.kernel == (3, 3) and geo.stride == (1, 1) and geo.dilation == (1, 1) and geo.groups == 1


def tiles(geo):
    """(tiles along H, tiles along W): 2x2 outputs each, the last ones cut at the border."""
    return -(-geo.out_hw[0] // 2), -(-geo.out_hw[1] // 2)


# -- the passes ------------------------------------------------------------------------------------


def forward(geo, x, weight, bias):
    """(N, C_out, H_out, W_out): the convolution of x (N, C, H, W) by weight (C_out, C, 3, 3), plus
    bias (C_out,) or None, tile by tile (``runs(geo)``)."""
    return forward_prepared(geo, x, prepare_weight(weight), bias)


def forward_inference(geo, x, weight, bias):
    """``forward`` where no gradient is wanted: the transformed weight kept between calls."""
    return forward_prepared(geo, x, prepared.prepared("winograd", weight, prepare_weight), bias)


def prepare_weight(weight):
    """The transformed weight ``forward_prepared`` takes: ``weight_transform(weight)``."""
    return weight_transform(weight)


def forward_prepared(geo, x, u, bias):
    """``forward`` with the weight already transformed (``prepare_weight``)."""
    return _convolve(geo, x, u, bias)


def input_grad(geo, weight, grad, chunks):
    """The input gradient (N, C, H, W) as a pass of ``Convolution.backward``: the forward pass of
    ``geo.input_gradient()`` on the output gradient with the weight flipped and its channel axes
    swapped (``runs(geo)`` and a padding within the kernel's reach)."""
    transposed = geo.input_gradient()
    u = weight_transform(weight, flipped=True).transpose(0, 2, 1)  # (16, C_in, C_out): BLAS reads it as it lies
    return workspace.whole_batch(lambda: _convolve(transposed, grad, u, None))


def weight_grad(geo, x, grad, chunks):
    """The weight gradient (C_out, C_in, 3, 3) as a pass of ``Convolution.backward``, over chunks of
    its own (``chunks``: at least ``MIN_TILES`` tiles each, the products' inner dimension): per
    chunk the products dU[p] (C_out, C_in) = dM[p] (C_out, tiles) @ V[p].T (tiles, C_in) of the
    output gradient's and the input's transformed tiles, summed chunk by chunk in order, then
    ``G^T dU G``."""
    return workspace.whole_batch(lambda: _weight_grad(geo, x, grad))


def _weight_grad(geo, x, grad):
    n, dtype = x.shape[0], grad.dtype
    th, tw = tiles(geo)
    image_chunks = chunks(geo, n, x.itemsize)
    partials = memory.empty((len(image_chunks), 16, geo.c_out, geo.c_in), dtype)  # megabytes: no fresh pages

    def products(v, dm, out, first, last):
        for p in range(first, last):
            np.matmul(dm[p], v[p].T, out=out[p])

    def chunk(index, lo, hi, positions=None):
        v = _input_tiles(geo, x[lo:hi], th, tw)
        dm = _grad_tiles(geo, grad[lo:hi], th, tw)
        if positions is None:
            products(v, dm, partials[index], 0, 16)
        else:  # the only chunk: its 16 products shared among the threads instead
            workspace.each_chunk(positions, work, lambda i, a, b: products(v, dm, partials[index], a, b))

    work = n * 16 * th * tw * geo.c_in * geo.c_out
    if len(image_chunks) == 1:
        chunk(0, 0, n, positions=[(p, p + 4) for p in range(0, 16, 4)])
    else:
        workspace.each_chunk(image_chunks, work, chunk)
    du = partials[0] if len(image_chunks) == 1 else partials.sum(axis=0)
    with backend.single_threaded_blas():  # OpenBLAS's threads would spin on after it, taking a core
        taps = np.matmul(_KRON_G.T.astype(dtype), du.reshape(16, -1))  # (9, C_out*C_in)
    return np.ascontiguousarray(taps.T).reshape(geo.c_out, geo.c_in, 3, 3)


# -- the transforms --------------------------------------------------------------------------------


# G g G^T as one product: (16 positions, 9 taps) = kron(G, G), positions and taps row-major.
_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
_KRON_G = np.kron(_G, _G)


def weight_transform(weight, flipped=False):
    """(C_out, C_in, 3, 3) -> U (16, C_out, C_in): ``G g G^T`` of every filter, positions row-major;
    with ``flipped``, of every filter turned by 180 degrees (the input gradient's; its channel axes
    swap by transposing each U[p]).

    One product of the (16, 9) matrix by the (9, C_out*C_in) taps: the same transform written as
    additions of strided slices and a transpose took 10x as long on 512x512 filters (39 ms)."""
    c_out, c_in = weight.shape[:2]
    kron = _KRON_G[:, ::-1] if flipped else _KRON_G
    taps = np.ascontiguousarray(weight).reshape(c_out * c_in, 9)
    with backend.single_threaded_blas():
        return np.matmul(kron.astype(weight.dtype), taps.T).reshape(16, c_out, c_in)


def _convolve(geo, x, u, bias):
    """The stride-1 3x3 convolution ``geo`` of x (n, C_in, H, W) by the transformed weight u
    (16, C_out, C_in), plus bias or None -> (n, C_out, H_out, W_out); chunks of images among threads."""
    n, dtype = x.shape[0], x.dtype
    (th, tw), (ho, wo) = tiles(geo), geo.out_hw
    out = memory.empty((n, geo.c_out, ho, wo), dtype)

    def products(v, m, first, last):
        for p in range(first, last):  # one 2-D product each: NumPy's stacked matmul ran 1.5-3x slower
            np.matmul(u[p], v[p], out=m[p])

    def chunk(index, lo, hi, positions=None):
        v = _input_tiles(geo, x[lo:hi], th, tw)
        m = _positions("winograd m", geo.c_out, v.shape[2], dtype)
        if positions is None:
            products(v, m, 0, 16)
        else:  # the only chunk: its 16 products shared among the threads instead
            workspace.each_chunk(positions, work, lambda i, first, last: products(v, m, first, last))
        winograd_tiles.output_tiles(m, out[lo:hi], bias)

    work = n * 16 * th * tw * geo.c_in * geo.c_out
    image_chunks = chunks(geo, n, x.itemsize)
    if len(image_chunks) == 1:
        chunk(0, 0, n, positions=[(p, p + 4) for p in range(0, 16, 4)])
    else:
        workspace.each_chunk(image_chunks, work, chunk)
    return out


MIN_TILES = 256  # columns per product at least: with fewer, each product streams U for little work


def chunks(geo, n, itemsize):
    """Image ranges [(lo, hi)]: about ``workspace.CHUNK_BYTES`` of transformed tiles each, but at least
    ``MIN_TILES`` tiles (the columns of each product), and two chunks where that leaves both enough;
    then as many chunks of equal size, give or take an image, so that two threads end together."""
    th, tw = tiles(geo)
    per_image = 16 * max(geo.c_in, geo.c_out) * th * tw * itemsize  # bytes of V (or M) per image
    least = -(-MIN_TILES // (th * tw))
    per = max(workspace.CHUNK_BYTES // per_image, least)
    if n >= 2 * least:
        per = min(per, -(-n // 2))
    per = max(1, min(per, n))
    count = -(-n // per)  # as many chunks, evened out: 8 images as 4 + 4, not 6 + 2
    return [(n * i // count, n * (i + 1) // count) for i in range(count)]


def _input_tiles(geo, x, th, tw):
    """(b, C, H, W) -> V (16, C, b*th*tw): ``B^T d B`` of every 4x4 tile (stride 2) of the padded images."""
    b, c, dtype = x.shape[0], x.shape[1], x.dtype
    full = (c, 2 * th + 2, 2 * tw + 2)  # whole tiles: zeros past the padding where H_out is odd
    xp = workspace.bordered(("winograd", geo.padding), b, full, dtype, x.shape[1:])
    copy_inside(x, xp, geo.padding)
    v = _positions("winograd v", c, b * th * tw, dtype)
    winograd_tiles.input_tiles(xp, v)
    return v


def _grad_tiles(geo, grad, th, tw):
    """(b, C_out, H_out, W_out) -> dM (16, C_out, b*th*tw): ``A y A^T`` of every 2x2 tile y."""
    b, k, dtype = grad.shape[0], grad.shape[1], grad.dtype
    (ho, wo), full = geo.out_hw, (k, 2 * th, 2 * tw)
    if (ho, wo) == full[1:] and grad.flags.c_contiguous:
        g = grad
    else:  # zeros past the border where H_out or W_out is odd
        g = workspace.bordered(("winograd grad", (0, 2 * th - ho), (0, 2 * tw - wo)), b, full, dtype, grad.shape[1:])
        g[:, :, :ho, :wo] = grad
    dm = _positions("winograd dm", k, b * th * tw, dtype)
    winograd_tiles.grad_tiles(g, dm)
    return dm


def _positions(tag, rows, cols, dtype):
    """16 matrices (rows, cols) in one workspace, apart by a gap (``winograd_tiles.positions``)."""
    flat = workspace.workspace(tag, (16 * (rows * cols + winograd_tiles.GAP),), dtype)
    return winograd_tiles.positions(flat, rows, cols)
