"""The special-function kernels on dense grids against PyTorch (the registry's samples in
test_opinfo.py test the ops, their gradients and in-place forms)."""

import numpy as np
import pytest

from glassgrad.ops import special

torch = pytest.importorskip("torch", reason="the kernels are compared with PyTorch's")

EDGES = [0.0, -0.0, 1e-300, -1e-300, np.inf, -np.inf, np.nan]


@pytest.mark.parametrize(
    "kernel, reference, grid, rtol",
    [
        (special.erf_kernel, torch.erf, np.linspace(-8, 8, 4001), 1e-14),
        (special.erfc_kernel, torch.erfc, np.linspace(-8, 27, 4001), 1e-11),
        (special.erfinv_kernel, torch.erfinv, np.linspace(-1, 1, 4001), 1e-12),
        (special.lgamma_kernel, torch.lgamma, np.linspace(-20, 40, 6001) + 1e-7, 1e-12),
        # Not next to the negative poles, where PyTorch's digamma loses digits (1e-8 at 1e-7 from one).
        (special.digamma_kernel, torch.digamma, np.linspace(-20, 40, 6001) + 0.013, 1e-12),
        (special.trigamma_kernel, lambda t: torch.polygamma(1, t), np.linspace(-20, 40, 6001) + 0.013, 1e-9),
    ],
    ids=["erf", "erfc", "erfinv", "lgamma", "digamma", "trigamma"],
)
def test_kernel_matches_torch(kernel, reference, grid, rtol):
    x = np.concatenate([grid, EDGES if kernel is not special.trigamma_kernel else EDGES[4:]])
    with np.errstate(all="ignore"):
        ours = kernel(x)
    expected = reference(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours, expected, rtol=rtol, atol=1e-12)


def test_poles_as_in_torch():
    with np.errstate(all="ignore"):
        assert np.all(special.lgamma_kernel(np.array([0.0, -1.0, -2.0])) == np.inf)
        np.testing.assert_array_equal(
            special.digamma_kernel(np.array([0.0, -0.0, -1.0, np.inf])), [-np.inf, np.inf, np.nan, np.inf]
        )
        np.testing.assert_array_equal(special.erfinv_kernel(np.array([1.0, -1.0, 1.5])), [np.inf, -np.inf, np.nan])
