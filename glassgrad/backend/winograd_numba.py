"""The compiled loops of ``glassgrad.backend.winograd_tiles`` (imported only with numba; see there).

Plain loops on the calling thread, the GIL released (``nogil``): the convolution shares chunks of
images among its own threads, as for the other algorithms. Per channel, one loop over all the
chunk's tiles, each tile's 16 values in registers, on flat arrays with unsigned offsets (numba
then skips its negative-index checks, and the loop vectorises): a loop per row of tiles with
views of the rows spent most of its time starting its short loops on small images (4x4 outputs
are 2x2 tiles), and signed 4-D indexing took 3-4 ns per value written. The 16 positions lie
``stride`` values apart in one flat buffer (``winograd_tiles.positions``).
"""

import numpy as np
from numba import njit

_opts = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(**_opts)
def _corners(b, c, h, w, th, tw):
    """Each tile's top-left offset within channel 0 of a (b, c, h, w) array, tiles 2 apart."""
    corner = np.empty(b * th * tw, dtype=np.uintp)
    for n in range(b):
        for i in range(th):
            for j in range(tw):
                corner[(n * th + i) * tw + j] = (n * c * h + 2 * i) * w + 2 * j
    return corner


@njit(**_opts)
def _input_tiles(xp, dst, stride, th, tw):
    b, c, hp, wp = xp.shape
    tiles = b * th * tw
    src = xp.reshape(-1)
    corner = _corners(b, c, hp, wp, th, tw)
    row, plane, stride = np.uintp(wp), np.uintp(hp * wp), np.uintp(stride)
    for ch in range(c):
        shift, out = np.uintp(ch) * plane, np.uintp(ch * tiles)
        for t in range(tiles):
            o = corner[t] + shift
            r1, r2, r3 = o + row, o + 2 * row, o + 3 * row
            # B^T along the rows, for each of the four columns ...
            a00 = src[o] - src[r2]
            a01 = src[o + 1] - src[r2 + 1]
            a02 = src[o + 2] - src[r2 + 2]
            a03 = src[o + 3] - src[r2 + 3]
            a10 = src[r1] + src[r2]
            a11 = src[r1 + 1] + src[r2 + 1]
            a12 = src[r1 + 2] + src[r2 + 2]
            a13 = src[r1 + 3] + src[r2 + 3]
            a20 = src[r2] - src[r1]
            a21 = src[r2 + 1] - src[r1 + 1]
            a22 = src[r2 + 2] - src[r1 + 2]
            a23 = src[r2 + 3] - src[r1 + 3]
            a30 = src[r1] - src[r3]
            a31 = src[r1 + 1] - src[r3 + 1]
            a32 = src[r1 + 2] - src[r3 + 2]
            a33 = src[r1 + 3] - src[r3 + 3]
            # ... then B along the columns of each row: position p at p * stride
            q = out + np.uintp(t)
            dst[q] = a00 - a02
            dst[q + stride] = a01 + a02
            dst[q + 2 * stride] = a02 - a01
            dst[q + 3 * stride] = a01 - a03
            dst[q + 4 * stride] = a10 - a12
            dst[q + 5 * stride] = a11 + a12
            dst[q + 6 * stride] = a12 - a11
            dst[q + 7 * stride] = a11 - a13
            dst[q + 8 * stride] = a20 - a22
            dst[q + 9 * stride] = a21 + a22
            dst[q + 10 * stride] = a22 - a21
            dst[q + 11 * stride] = a21 - a23
            dst[q + 12 * stride] = a30 - a32
            dst[q + 13 * stride] = a31 + a32
            dst[q + 14 * stride] = a32 - a31
            dst[q + 15 * stride] = a31 - a33


@njit(**_opts)
def _output_tiles(src, stride, out, bias):
    b, k, ho, wo = out.shape  # whole tiles: 2*th by 2*tw
    th, tw = ho // 2, wo // 2
    tiles = b * th * tw
    dst = out.reshape(-1)
    corner = _corners(b, k, ho, wo, th, tw)
    row, plane, stride = np.uintp(wo), np.uintp(ho * wo), np.uintp(stride)
    for kk in range(k):
        add, shift, first = bias[kk], np.uintp(kk) * plane, np.uintp(kk * tiles)
        for t in range(tiles):
            q = first + np.uintp(t)
            m0, m1, m2, m3 = src[q], src[q + stride], src[q + 2 * stride], src[q + 3 * stride]
            m4, m5, m6, m7 = src[q + 4 * stride], src[q + 5 * stride], src[q + 6 * stride], src[q + 7 * stride]
            m8, m9, m10, m11 = src[q + 8 * stride], src[q + 9 * stride], src[q + 10 * stride], src[q + 11 * stride]
            m12, m13, m14, m15 = src[q + 12 * stride], src[q + 13 * stride], src[q + 14 * stride], src[q + 15 * stride]
            # A^T along the rows of M, for each of its four columns ...
            s0, s1, s2, s3 = m0 + m4 + m8, m1 + m5 + m9, m2 + m6 + m10, m3 + m7 + m11
            d0, d1, d2, d3 = m4 - m8 - m12, m5 - m9 - m13, m6 - m10 - m14, m7 - m11 - m15
            # ... then A along the columns: the tile's 2x2 outputs
            o = corner[t] + shift
            dst[o] = s0 + s1 + s2 + add
            dst[o + 1] = s1 - s2 - s3 + add
            dst[o + row] = d0 + d1 + d2 + add
            dst[o + row + 1] = d1 - d2 - d3 + add


KERNELS = {"input_tiles": _input_tiles, "output_tiles": _output_tiles}


@njit(**_opts)
def _grad_tiles(g, dst, stride):
    b, k, ho, wo = g.shape  # whole tiles: 2*th by 2*tw
    th, tw = ho // 2, wo // 2
    tiles = b * th * tw
    src = g.reshape(-1)
    corner = _corners(b, k, ho, wo, th, tw)
    row, plane, stride = np.uintp(wo), np.uintp(ho * wo), np.uintp(stride)
    for kk in range(k):
        shift, first = np.uintp(kk) * plane, np.uintp(kk * tiles)
        for t in range(tiles):
            o = corner[t] + shift
            y00, y01, y10, y11 = src[o], src[o + 1], src[o + row], src[o + row + 1]
            # A along the rows (1, 1+, 1-, -1 of the two rows), for each of the two columns ...
            u0, u1, u2, u3 = y00, y00 + y10, y00 - y10, -y10
            w0, w1, w2, w3 = y01, y01 + y11, y01 - y11, -y11
            # ... then along the columns
            q = first + np.uintp(t)
            dst[q] = u0
            dst[q + stride] = u0 + w0
            dst[q + 2 * stride] = u0 - w0
            dst[q + 3 * stride] = -w0
            dst[q + 4 * stride] = u1
            dst[q + 5 * stride] = u1 + w1
            dst[q + 6 * stride] = u1 - w1
            dst[q + 7 * stride] = -w1
            dst[q + 8 * stride] = u2
            dst[q + 9 * stride] = u2 + w2
            dst[q + 10 * stride] = u2 - w2
            dst[q + 11 * stride] = -w2
            dst[q + 12 * stride] = u3
            dst[q + 13 * stride] = u3 + w3
            dst[q + 14 * stride] = u3 - w3
            dst[q + 15 * stride] = -w3


KERNELS["grad_tiles"] = _grad_tiles
