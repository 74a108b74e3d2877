import numpy as np
import pytest

import glassgrad as gg
from glassgrad.autograd import engine


def test_post_accumulate_grad_hook_sees_the_sum():
    w = gg.ones(3, requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    (w * 2).sum().backward()
    (w * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [2, 2, 2])
    np.testing.assert_array_equal(seen[1], [5, 5, 5])
    handle.remove()
    (w * 1).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)


def test_queue_callback_runs_after_backward():
    w = gg.ones(2, requires_grad=True)
    order = []

    def hook(t):
        order.append("hook")
        engine.queue_callback(lambda: order.append(("callback", t.grad.numpy().sum())))

    w.register_post_accumulate_grad_hook(hook)
    (w * 4).sum().backward()
    assert order == ["hook", ("callback", 8.0)]
    with pytest.raises(RuntimeError, match="no backward pass is running"):
        engine.queue_callback(lambda: None)
