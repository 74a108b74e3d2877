"""glassgrad.linalg beyond the registry's samples (test_opinfo.py): eigh, svd and qr, whose vector
signs are LAPACK's choice, compared with torch up to sign; errors by message."""

import numpy as np
import pytest

import glassgrad

torch = pytest.importorskip("torch", reason="compared with torch.linalg")

RNG = np.random.default_rng(0)


def test_eigh_values_vectors_and_gradient_match_torch_up_to_sign():
    a = RNG.standard_normal((2, 4, 4))
    ours = glassgrad.tensor(a, requires_grad=True)
    theirs = torch.tensor(a, requires_grad=True)
    values, vectors = glassgrad.linalg.eigh(ours + ours.mT)
    tvalues, tvectors = torch.linalg.eigh(theirs + theirs.mT)
    np.testing.assert_allclose(values.detach().numpy(), tvalues.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(np.abs(vectors.detach().numpy()), np.abs(tvectors.detach().numpy()), rtol=1e-8)
    # A loss that does not depend on the signs: the squared entries of each eigenvector, weighted.
    weights = RNG.standard_normal((2, 4))
    ((vectors**2 * glassgrad.tensor(weights)[:, None, :]).sum() + values.sum()).backward()
    ((tvectors**2 * torch.tensor(weights)[:, None, :]).sum() + tvalues.sum()).backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("shape, full", [((3, 4), True), ((4, 3), False), ((2, 3, 3), True)])
def test_svd_reconstructs_and_matches_torch(shape, full):
    a = RNG.standard_normal(shape)
    u, s, vh = glassgrad.linalg.svd(glassgrad.tensor(a), full_matrices=full)
    tu, ts, tvh = torch.linalg.svd(torch.tensor(a), full_matrices=full)
    assert (u.shape, s.shape, vh.shape) == (tu.shape, ts.shape, tvh.shape)
    np.testing.assert_allclose(s.numpy(), ts.numpy(), rtol=1e-10)
    k = s.shape[-1]
    rebuilt = (u.numpy()[..., :k] * s.numpy()[..., None, :]) @ vh.numpy()[..., :k, :]
    np.testing.assert_allclose(rebuilt, a, atol=1e-10)


def test_qr_reconstructs_and_u_of_svd_refuses_a_gradient():
    a = RNG.standard_normal((4, 3))
    q, r = glassgrad.linalg.qr(glassgrad.tensor(a))
    tq, tr = torch.linalg.qr(torch.tensor(a))
    np.testing.assert_allclose(np.abs(r.numpy()), np.abs(tr.numpy()), atol=1e-10)
    np.testing.assert_allclose(q.numpy() @ r.numpy(), a, atol=1e-10)
    x = glassgrad.tensor(a, requires_grad=True)
    with pytest.raises(RuntimeError, match="the gradient through svd's U is not implemented"):
        glassgrad.linalg.svd(x)[0].sum().backward()


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: glassgrad.linalg.inv(glassgrad.ones(2, 3)),
            "A must be batches of square matrices, but they are 2 by 3",
        ),
        (lambda: glassgrad.linalg.inv(glassgrad.zeros(2, 2)), "linalg.inv: Singular matrix"),
        (lambda: glassgrad.linalg.cholesky(-glassgrad.eye(2)), "linalg.cholesky: Matrix is not positive definite"),
        (lambda: glassgrad.linalg.solve(glassgrad.eye(3), glassgrad.ones(2, 2)), "Incompatible shapes of A and B"),
        (lambda: glassgrad.linalg.matrix_norm(glassgrad.ones(2, 2), 3), "Order 3 not supported"),
        (lambda: glassgrad.linalg.svd(glassgrad.ones(3)), "must have at least 2 dimensions"),
    ],
)
def test_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()
