import numpy as np
import pytest

import glassgrad as gg


def test_addmm_with_beta_zero_ignores_nan_in_input():
    a = gg.tensor([[1.0, 2.0], [3.0, 4.0]])
    nan = gg.full((2, 2), float("nan"))
    out = gg.addmm(nan, a, a, beta=0, alpha=2)
    np.testing.assert_allclose(out.numpy(), 2 * (a.numpy() @ a.numpy()))


def test_addmm_is_a_tensor_method_with_broadcast_input():
    a = gg.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = gg.tensor([10.0, 20.0]).addmm(a, a)
    np.testing.assert_allclose(out.numpy(), [[17.0, 30.0], [25.0, 42.0]])


def test_outer_and_ger_agree_and_name_bad_shapes():
    x, y = gg.tensor([1.0, 2.0]), gg.tensor([3.0, 4.0, 5.0])
    np.testing.assert_array_equal(gg.outer(x, y).numpy(), [[3.0, 4.0, 5.0], [6.0, 8.0, 10.0]])
    np.testing.assert_array_equal(x.ger(y).numpy(), gg.outer(x, y).numpy())
    with pytest.raises(RuntimeError, match=r"\(2, 2\)"):
        gg.outer(gg.ones(2, 2), y)


def test_mv_refuses_a_batch():
    with pytest.raises(RuntimeError, match=r"mv expects a matrix and a vector.*\(2, 3, 4\)"):
        gg.mv(gg.ones(2, 3, 4), gg.ones(4))
