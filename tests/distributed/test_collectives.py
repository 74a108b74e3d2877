import pytest

from tests.distributed._launch import launch, needs


@pytest.mark.parametrize("backend", ["mpi", "gloo"])
def test_every_collective_on_two_processes(backend):
    needs(backend)
    res = launch(backend, "_collectives_script.py")
    out = "".join(r.stdout for r in res)
    assert "OK rank 0" in out and "OK rank 1" in out
