"""Fixtures shared by the whole suite."""

import numpy as np
import pytest

import glassgrad


@pytest.fixture
def rng():
    """Seed glassgrad's and NumPy's global generators, and hand out a seeded NumPy Generator."""
    glassgrad.manual_seed(0)
    np.random.seed(0)
    return np.random.default_rng(0)
