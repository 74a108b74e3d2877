"""The compiled loops of ``glassgrad.backend.depthwise_conv`` (imported only with numba; see there).

Plain loops on the calling thread, the GIL released (``nogil``): the convolution shares chunks
of images among its own threads (``glassgrad.backend.workspace.each_chunk``), as for the other
algorithms, rather than entering numba's thread pool from several threads at once.
"""

import numpy as np
from numba import njit

_opts = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(**_opts)
def _forward(xp, w, out, sh, sw, dh, dw):
    n, c, ho, wo = out.shape
    kh, kw = w.shape[1], w.shape[2]
    for p in range(n * c):
        b, ch = p // c, p % c
        for oh in range(ho):
            row = out[b, ch, oh]
            row[:] = 0
            for i in range(kh):
                src = xp[b, ch, oh * sh + i * dh]
                for j in range(kw):
                    weight, start = w[ch, i, j], j * dw
                    for k in range(wo):
                        row[k] += weight * src[start + k * sw]


@njit(**_opts)
def _input_grad(gxp, g, w, sh, sw, dh, dw):
    n, c, ho, wo = g.shape
    kh, kw = w.shape[1], w.shape[2]
    for p in range(n * c):
        b, ch = p // c, p % c
        gxp[b, ch] = 0
        for oh in range(ho):
            grow = g[b, ch, oh]
            for i in range(kh):
                dst = gxp[b, ch, oh * sh + i * dh]
                for j in range(kw):
                    weight, start = w[ch, i, j], j * dw
                    for k in range(wo):
                        dst[start + k * sw] += weight * grow[k]


@njit(**_opts)
def _weight_grad(xp, g, gw, sh, sw, dh, dw):
    n, c, ho, wo = g.shape
    kh, kw = gw.shape[1], gw.shape[2]
    for ch in range(c):
        # Per offset, a row of float32 partial sums (vectorised adds, no reduction in the inner
        # loop), summed in float64 at the end.
        acc = np.zeros((kh, kw, wo), dtype=g.dtype)
        for b in range(n):
            for oh in range(ho):
                grow = g[b, ch, oh]
                for i in range(kh):
                    src = xp[b, ch, oh * sh + i * dh]
                    for j in range(kw):
                        start = j * dw
                        for k in range(wo):
                            acc[i, j, k] += grow[k] * src[start + k * sw]
        for i in range(kh):
            for j in range(kw):
                total = 0.0
                for k in range(wo):
                    total += acc[i, j, k]
                gw[ch, i, j] = total


@njit(**_opts)
def _forward3x3(xp, w, out, sh, sw, dh, dw):
    # The 3x3 filter's nine terms summed in registers, one store per output pixel (the general
    # loops above read and write the output row once per kernel offset); the same sums in the
    # same order, so the same bits.
    n, c, ho, wo = out.shape
    for p in range(n * c):
        b, ch = p // c, p % c
        w00, w01, w02 = w[ch, 0, 0], w[ch, 0, 1], w[ch, 0, 2]
        w10, w11, w12 = w[ch, 1, 0], w[ch, 1, 1], w[ch, 1, 2]
        w20, w21, w22 = w[ch, 2, 0], w[ch, 2, 1], w[ch, 2, 2]
        for oh in range(ho):
            row = out[b, ch, oh]
            r0, r1, r2 = xp[b, ch, oh * sh], xp[b, ch, oh * sh + dh], xp[b, ch, oh * sh + 2 * dh]
            for k in range(wo):
                q = k * sw
                s = w00 * r0[q]
                s += w01 * r0[q + dw]
                s += w02 * r0[q + 2 * dw]
                s += w10 * r1[q]
                s += w11 * r1[q + dw]
                s += w12 * r1[q + 2 * dw]
                s += w20 * r2[q]
                s += w21 * r2[q + dw]
                s += w22 * r2[q + 2 * dw]
                row[k] = s


@njit(**_opts)
def _weight_grad3x3(xp, g, gw, sh, sw, dh, dw):
    # As _weight_grad, the nine offsets' partial rows updated in one pass over each output row.
    n, c, ho, wo = g.shape
    for ch in range(c):
        acc = np.zeros((9, wo), dtype=g.dtype)
        for b in range(n):
            for oh in range(ho):
                grow = g[b, ch, oh]
                r0, r1, r2 = xp[b, ch, oh * sh], xp[b, ch, oh * sh + dh], xp[b, ch, oh * sh + 2 * dh]
                for k in range(wo):
                    v, q = grow[k], k * sw
                    acc[0, k] += v * r0[q]
                    acc[1, k] += v * r0[q + dw]
                    acc[2, k] += v * r0[q + 2 * dw]
                    acc[3, k] += v * r1[q]
                    acc[4, k] += v * r1[q + dw]
                    acc[5, k] += v * r1[q + 2 * dw]
                    acc[6, k] += v * r2[q]
                    acc[7, k] += v * r2[q + dw]
                    acc[8, k] += v * r2[q + 2 * dw]
        for t in range(9):
            total = 0.0
            for k in range(wo):
                total += acc[t, k]
            gw[ch, t // 3, t % 3] = total


@njit(**_opts)
def _input_grad3x3(gxp, g, w, sh, sw, dh, dw):
    # As _input_grad, the nine offsets' updates in one pass over each output row.
    n, c, ho, wo = g.shape
    for p in range(n * c):
        b, ch = p // c, p % c
        gxp[b, ch] = 0
        w00, w01, w02 = w[ch, 0, 0], w[ch, 0, 1], w[ch, 0, 2]
        w10, w11, w12 = w[ch, 1, 0], w[ch, 1, 1], w[ch, 1, 2]
        w20, w21, w22 = w[ch, 2, 0], w[ch, 2, 1], w[ch, 2, 2]
        for oh in range(ho):
            grow = g[b, ch, oh]
            d0, d1, d2 = gxp[b, ch, oh * sh], gxp[b, ch, oh * sh + dh], gxp[b, ch, oh * sh + 2 * dh]
            for k in range(wo):
                v, q = grow[k], k * sw
                d0[q] += w00 * v
                d0[q + dw] += w01 * v
                d0[q + 2 * dw] += w02 * v
                d1[q] += w10 * v
                d1[q + dw] += w11 * v
                d1[q + 2 * dw] += w12 * v
                d2[q] += w20 * v
                d2[q + dw] += w21 * v
                d2[q + 2 * dw] += w22 * v


KERNELS = {
    "input_grad3x3": _input_grad3x3,
    "forward": _forward,
    "input_grad": _input_grad,
    "weight_grad": _weight_grad,
    "forward3x3": _forward3x3,
    "weight_grad3x3": _weight_grad3x3,
}
