"""Prepared weights kept between inference calls (``ops.conv.prepared``): reused only while the
weight's values are unchanged, never where a gradient is wanted, within their size limits."""

import numpy as np
import pytest

import glassgrad
from glassgrad.backends import conv as conv_flags
from glassgrad.nn.functional import conv2d
from glassgrad.ops.conv import prepared, winograd


@pytest.fixture
def counted(monkeypatch):
    """Counts Winograd's weight preparations; the kept ones are cleared before and after."""
    calls = []
    original = winograd.prepare_weight

    def prepare(weight):
        calls.append(weight.shape)
        return original(weight)

    monkeypatch.setattr(winograd, "prepare_weight", prepare)
    prepared.clear()
    yield calls
    prepared.clear()


def _layer(rng, c_in=16, c_out=16):
    x = glassgrad.tensor(rng.standard_normal((2, c_in, 8, 8)).astype(np.float32))
    w = glassgrad.tensor(rng.standard_normal((c_out, c_in, 3, 3)).astype(np.float32))
    return x, w


def test_inference_reuses_the_preparation_while_the_values_hold(counted, rng):
    x, w = _layer(rng)
    with conv_flags.flags(algorithm="winograd"), glassgrad.no_grad():
        first = conv2d(x, w, padding=1).numpy()
        again = conv2d(x, w, padding=1).numpy()
        assert len(counted) == 1
        np.testing.assert_array_equal(again, first)
        # Written through a NumPy view: no version changes, yet the values do.
        w.numpy()[0, 0, 1, 1] += 1.0
        changed = conv2d(x, w, padding=1).numpy()
        assert len(counted) == 2
    with conv_flags.flags(algorithm="im2col"), glassgrad.no_grad():
        expected = conv2d(x, w, padding=1).numpy()
    np.testing.assert_allclose(changed, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(changed, first)


def test_nothing_kept_where_a_gradient_is_wanted(counted, rng):
    x, w = _layer(rng)
    w.requires_grad_(True)
    with conv_flags.flags(algorithm="winograd"):
        conv2d(x, w, padding=1)
        conv2d(x, w, padding=1)
    assert len(counted) == 2


def test_the_same_bits_as_without_keeping(counted, rng):
    x, w = _layer(rng, 24, 40)
    with conv_flags.flags(algorithm="winograd"):
        plain = conv2d(x, w.detach().requires_grad_(True), padding=1).detach().numpy()
        with glassgrad.no_grad():
            conv2d(x, w, padding=1)
            kept = conv2d(x, w, padding=1).numpy()
    assert len(counted) == 2  # once with the gradient wanted, once for both calls without
    np.testing.assert_array_equal(kept, plain)


def test_limits(monkeypatch):
    prepared.clear()
    made = []

    def prepare(weight):
        made.append(1)
        return weight * 2

    big = np.ones(prepared.MAX_ELEMENTS + 1, np.float32)
    prepared.prepared("t", big, prepare)
    prepared.prepared("t", big, prepare)
    assert len(made) == 2  # too large to keep
    monkeypatch.setattr(prepared, "MAX_BYTES", 3 * 2 * 4000)  # three entries of 1000 floats, copy and result
    weights = [np.full(1000, i, np.float32) for i in range(4)]
    for weight in weights:
        prepared.prepared("t", weight, prepare)
    made.clear()
    prepared.prepared("t", weights[3], prepare)
    assert made == []  # kept
    prepared.prepared("t", weights[0], prepare)
    assert made == [1]  # the least recently used was dropped
    prepared.clear()
