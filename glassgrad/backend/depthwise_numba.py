"""The compiled loops of ``glassgrad.backend.depthwise_conv`` (imported only with numba; see there).

Plain loops on the calling thread, the GIL released (``nogil``): the convolution shares chunks
of images among its own threads (``glassgrad.backend.workspace.each_chunk``), as for the other
algorithms, rather than entering numba's thread pool from several threads at once.
"""

import numpy as np
from numba import njit

_opts = {"cache": True, "nogil": True, "error_model": "numpy"}
# Only for the weight gradient's dot products: without reassociation a sum is one long chain of
# dependent adds, which LLVM does not vectorise (measured 18x slower at MobileNetV2's shapes).
_dot_opts = {**_opts, "fastmath": {"reassoc", "nsz"}}


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


# -- stride 1: each channel's planes in one flat, zero-bordered buffer ----------------------------
#
# With stride 1, output pixel (b, h, w) of a channel reads its padded planes at flat position
# f + offset, where f = b*plane + h*Wp + w and offset = i*dh*Wp + j*dw. So one loop over the
# whole run of f, for all the chunk's images at once, computes every output: thousands of
# iterations with a unit stride and offsets fixed per loop, which vectorise, where the rows
# above are a few pixels long (4-16 at MobileNetV2's later layers) and their loops stay scalar.
# The positions of f that fall in the border (w >= W_out) are computed and dropped.


@njit(**_opts)
def _gather_planes(x, ch, buf, hp, wp, top, left):
    # Channel ch of every image of x (m, C, H, W) into buf, one (hp, wp) plane per image with x at
    # (top, left); the rest of buf is zero already and stays so (every channel fills the same places).
    m, _, h, w = x.shape
    for b in range(m):
        for r in range(h):
            # Through a slice, indexed from 0: with buf[start + k] the index could be negative as
            # far as LLVM knows, and the wraparound check kept the copy scalar (0.12 against 0.70
            # ns per pixel at 32x32).
            row, start = x[b, ch, r], b * hp * wp + (r + top) * wp + left
            dst = buf[start : start + w]
            for k in range(w):
                dst[k] = row[k]


@njit(**_opts)
def _scatter_planes(wide, out, ch, hp, wp):
    m, _, ho, wo = out.shape
    for b in range(m):
        for r in range(ho):
            row, start = out[b, ch, r], b * hp * wp + r * wp
            src = wide[start : start + wo]
            for k in range(wo):
                row[k] = src[k]


@njit(**_opts)
def _run_length(m, hp, wp, kh, kw, dh, dw):
    # The flat positions f whose taps all fall inside the m planes: every output's among them.
    return m * hp * wp - (kh - 1) * dh * wp - (kw - 1) * dw


@njit(**_opts)
def _forward_stride1(x, w, out, hp, wp, top, left, dh, dw, first, last):
    m, kh, kw = out.shape[0], w.shape[1], w.shape[2]
    run = _run_length(m, hp, wp, kh, kw, dh, dw)
    buf = np.zeros(m * hp * wp, dtype=out.dtype)
    wide = np.empty(run, dtype=out.dtype)
    for ch in range(first, last):
        _gather_planes(x, ch, buf, hp, wp, top, left)
        if kh == 3 and kw == 3:
            # The nine terms summed in registers, as _forward3x3 (the same order, so the same bits).
            r1, r2 = dh * wp, 2 * dh * wp
            a0, a1, a2 = buf[0:run], buf[dw : dw + run], buf[2 * dw : 2 * dw + run]
            a3, a4, a5 = buf[r1 : r1 + run], buf[r1 + dw : r1 + dw + run], buf[r1 + 2 * dw : r1 + 2 * dw + run]
            a6, a7, a8 = buf[r2 : r2 + run], buf[r2 + dw : r2 + dw + run], buf[r2 + 2 * dw : r2 + 2 * dw + run]
            w00, w01, w02 = w[ch, 0, 0], w[ch, 0, 1], w[ch, 0, 2]
            w10, w11, w12 = w[ch, 1, 0], w[ch, 1, 1], w[ch, 1, 2]
            w20, w21, w22 = w[ch, 2, 0], w[ch, 2, 1], w[ch, 2, 2]
            for f in range(run):
                s = w00 * a0[f]
                s += w01 * a1[f]
                s += w02 * a2[f]
                s += w10 * a3[f]
                s += w11 * a4[f]
                s += w12 * a5[f]
                s += w20 * a6[f]
                s += w21 * a7[f]
                s += w22 * a8[f]
                wide[f] = s
        else:
            wide[:] = 0
            for i in range(kh):
                for j in range(kw):
                    weight, src = w[ch, i, j], buf[i * dh * wp + j * dw : i * dh * wp + j * dw + run]
                    for f in range(run):
                        wide[f] += weight * src[f]
        _scatter_planes(wide, out, ch, hp, wp)


@njit(**_dot_opts)
def _dot(a, b):
    # In float64, whatever the inputs: thousands of products per channel (images x pixels).
    total = 0.0
    for f in range(a.shape[0]):
        total += a[f] * b[f]
    return total


@njit(**_opts)
def _weight_grad_stride1(x, g, gw, hp, wp, top, left, dh, dw, first, last):
    m, kh, kw = g.shape[0], gw.shape[1], gw.shape[2]
    run = _run_length(m, hp, wp, kh, kw, dh, dw)
    xbuf = np.zeros(m * hp * wp, dtype=x.dtype)
    gbuf = np.zeros(m * hp * wp, dtype=g.dtype)  # g at f, its border (w >= W_out) zero
    for ch in range(first, last):
        _gather_planes(x, ch, xbuf, hp, wp, top, left)
        _gather_planes(g, ch, gbuf, hp, wp, 0, 0)
        for i in range(kh):
            for j in range(kw):
                offset = i * dh * wp + j * dw
                gw[ch, i, j] = _dot(gbuf[0:run], xbuf[offset : offset + run])


KERNELS = {
    "input_grad3x3": _input_grad3x3,
    "forward": _forward,
    "input_grad": _input_grad,
    "weight_grad": _weight_grad,
    "forward3x3": _forward3x3,
    "weight_grad3x3": _weight_grad3x3,
    "forward_stride1": _forward_stride1,
    "weight_grad_stride1": _weight_grad_stride1,
}
