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


KERNELS = {"forward": _forward, "input_grad": _input_grad, "weight_grad": _weight_grad}
