"""Seeds as PyTorch has them: an unseeded process starts from a random seed, a new Generator from
PyTorch's fixed one, and manual_seed makes a run repeatable."""

import subprocess
import sys

import glassgrad


def _fresh_process_seed():
    out = subprocess.run(
        [sys.executable, "-c", "import glassgrad; print(glassgrad.initial_seed(), glassgrad.rand(1).item())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    seed, value = out.stdout.split()
    return int(seed), float(value)


def test_unseeded_processes_start_from_different_seeds():
    (seed_a, value_a), (seed_b, value_b) = _fresh_process_seed(), _fresh_process_seed()
    assert seed_a != seed_b and value_a != value_b


def test_a_new_generator_starts_from_pytorchs_default_seed():
    assert glassgrad.Generator().initial_seed() == 67280421310721
    a = glassgrad.rand(3, generator=glassgrad.Generator()).tolist()
    b = glassgrad.rand(3, generator=glassgrad.Generator()).tolist()
    assert a == b


def test_manual_seed_repeats_a_stream():
    glassgrad.manual_seed(5)
    first = glassgrad.randn(4).tolist()
    glassgrad.manual_seed(5)
    assert glassgrad.randn(4).tolist() == first
    assert glassgrad.initial_seed() == 5
