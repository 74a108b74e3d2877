"""The tile transforms of Winograd's F(2x2, 3x3) (``glassgrad.ops.conv.winograd``).

- ``input_tiles``: V (16, C, b*th*tw) = ``B^T d B`` of every 4x4 tile d, at stride 2, of the
  padded images xp (b, C, 2*th + 2, 2*tw + 2); position p = 4*row + column of the 4x4 result;
- ``grad_tiles``: dM (16, K, b*th*tw) = ``A y A^T`` of every 2x2 tile y of the output gradient
  (b, K, 2*th, 2*tw) (zeros past H_out, W_out): the output transform's adjoint, for the weight
  gradient;
- ``output_tiles``: out (b, K, H_out, W_out) = ``A^T M A`` of the 4x4 M (16, K, b*th*tw) of
  every tile, plus a bias (K,) or None; the 2x2 blocks past H_out or W_out are dropped.

With numba (``glassgrad.backend.BACKEND == "numba"``) they are compiled loops on the calling
thread, the GIL released: one pass over the input and one over M. The NumPy reference computes
the same sums as additions of strided views (no loop over tiles); it took 2-4x the time of the
products on 32x32 images and far more on 4x4 ones, where its runs are two floats long.
"""

import numpy as np

from glassgrad import backend

_compiled: dict = {}


def _numba():
    """The compiled kernels, or None where glassgrad runs without numba (they compile on first use)."""
    if "kernels" not in _compiled:
        _compiled["kernels"] = _build() if (backend._impl or backend._load()) is not backend.numpy_kernels else None
    return _compiled["kernels"]


def _build():
    from glassgrad.backend import winograd_numba

    return winograd_numba.KERNELS


def compiled():
    """Whether the transforms run compiled (numba), which the selector's rule was measured with."""
    return _numba() is not None


# Values between the starts of two positions' matrices beyond the matrix itself: 16 matrices
# a power of two apart put the kernels' 16 streams in the same cache sets (the input transform
# took 3.0 ns per value written, 0.6 with the gap).
GAP = 64


def positions(buffer, rows, cols):
    """16 matrices (16, rows, cols), each C-contiguous, ``rows * cols + GAP`` values apart in the flat
    ``buffer`` (of at least ``16 * (rows * cols + GAP)`` values)."""
    stride = rows * cols + GAP
    return np.ndarray(
        (16, rows, cols), buffer.dtype, buffer, 0, (stride * buffer.itemsize, cols * buffer.itemsize, buffer.itemsize)
    )


def input_tiles(xp, v):
    """Write V (16, C, b*th*tw) (from ``positions``) for the padded images xp (b, C, 2*th + 2, 2*tw + 2),
    C-contiguous; tiles in (b, th, tw) order."""
    th, tw = (xp.shape[2] - 2) // 2, (xp.shape[3] - 2) // 2
    kernels = _numba()
    if kernels is not None and xp.dtype in (np.float32, np.float64):
        kernels["input_tiles"](xp, v.base.reshape(-1), v.strides[0] // v.itemsize, th, tw)
        return
    v = v.reshape(16, v.shape[1], xp.shape[0], th, tw)
    # Along the rows first, into (C, b, th, width): the channel axis moves in front here, where
    # the runs are whole rows.
    rows = np.empty((4, xp.shape[1], xp.shape[0], th, xp.shape[3]), dtype=xp.dtype)
    r = [xp[:, :, i : i + 2 * th : 2] for i in range(4)]
    t = [rows[i].transpose(1, 0, 2, 3) for i in range(4)]
    np.subtract(r[0], r[2], out=t[0])
    np.add(r[1], r[2], out=t[1])
    np.subtract(r[2], r[1], out=t[2])
    np.subtract(r[1], r[3], out=t[3])
    v = v.reshape(4, 4, *v.shape[1:])
    for i in range(4):
        s = [rows[i][..., j : j + 2 * tw : 2] for j in range(4)]
        np.subtract(s[0], s[2], out=v[i, 0])
        np.add(s[1], s[2], out=v[i, 1])
        np.subtract(s[2], s[1], out=v[i, 2])
        np.subtract(s[1], s[3], out=v[i, 3])


def output_tiles(m, out, bias):
    """Write out (b, K, H_out, W_out) = ``A^T M A`` of M (16, K, b*th*tw) (from ``positions``), plus
    bias (K,) or None; th = ceil(H_out / 2), tw = ceil(W_out / 2)."""
    b, k = out.shape[0], out.shape[1]
    th, tw = -(-out.shape[2] // 2), -(-out.shape[3] // 2)
    kernels = _numba()
    if kernels is not None and m.dtype in (np.float32, np.float64):
        even = out.shape[2:] == (2 * th, 2 * tw) and out.flags.c_contiguous
        whole = out if even else np.empty((b, k, 2 * th, 2 * tw), dtype=m.dtype)
        kernels["output_tiles"](
            m.base.reshape(-1), m.strides[0] // m.itemsize, whole, np.zeros(k, m.dtype) if bias is None else bias
        )
        if not even:  # the 2x2 blocks past H_out or W_out dropped
            np.copyto(out, whole[:, :, : out.shape[2], : out.shape[3]])
        return
    m = m.reshape(16, k, b, th, tw)
    m = m.reshape(4, 4, k, b, th, tw)
    q = np.empty((2, 4, k, b, th, tw), dtype=m.dtype)
    for j in range(4):
        np.add(m[0, j], m[1, j], out=q[0, j])
        q[0, j] += m[2, j]
        np.subtract(m[1, j], m[2, j], out=q[1, j])
        q[1, j] -= m[3, j]
    y = np.empty((k, b, th, 2, tw, 2), dtype=m.dtype)
    for i in range(2):
        first, second = y[:, :, :, i, :, 0], y[:, :, :, i, :, 1]
        np.add(q[i, 0], q[i, 1], out=first)
        first += q[i, 2]
        np.subtract(q[i, 1], q[i, 2], out=second)
        second -= q[i, 3]
    ho, wo = out.shape[2], out.shape[3]
    planes = y.reshape(k, b, 2 * th, 2 * tw)[:, :, :ho, :wo].transpose(1, 0, 2, 3)
    if bias is None:
        np.copyto(out, planes)
    else:
        np.add(planes, bias.reshape(1, -1, 1, 1), out=out)


def grad_tiles(g, dm):
    """Write dM (16, K, b*th*tw) (from ``positions``) for the output gradient g (b, K, 2*th, 2*tw),
    C-contiguous, zero past H_out and W_out."""
    kernels = _numba()
    if kernels is not None and g.dtype in (np.float32, np.float64):
        kernels["grad_tiles"](g, dm.base.reshape(-1), dm.strides[0] // dm.itemsize)
        return
    b, k, th, tw = g.shape[0], g.shape[1], g.shape[2] // 2, g.shape[3] // 2
    y = [[g[:, :, i::2, j::2].transpose(1, 0, 2, 3) for j in range(2)] for i in range(2)]  # (K, b, th, tw)
    dm = dm.reshape(4, 4, k, b, th, tw)
    for j in range(2):  # A along the rows, into the first (j = 0) and last (j = 1) columns' sums ...
        u = [y[0][j], y[0][j] + y[1][j], y[0][j] - y[1][j], -y[1][j]]
        for r in range(4):
            if j == 0:
                np.copyto(dm[r, 0], u[r])
                np.copyto(dm[r, 1], u[r])
                np.copyto(dm[r, 2], u[r])
                dm[r, 3] = 0
            else:  # ... then along the columns: (first, first + last, first - last, -last)
                dm[r, 1] += u[r]
                dm[r, 2] -= u[r]
                np.negative(u[r], out=dm[r, 3])
