"""A first install that cannot break: compiled caches stay out of the package, and a half-removed
install (a leftover folder imported as a namespace package) is detected with a fix to run."""

import os
import subprocess
import sys

import glassgrad

CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(glassgrad.__file__)))


def _run(code, env_extra, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "GLASSGRAD_CACHE", "PYTHONPATH")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


_SHOW_CACHE = "import glassgrad.backend as b, os; print(b.NUMBA_CACHE_DIR); print(os.environ['NUMBA_CACHE_DIR'])"


def test_numba_cache_goes_to_the_glassgrad_cache_not_the_package(tmp_path):
    out = _run(_SHOW_CACHE, {"GLASSGRAD_CACHE": str(tmp_path / "c"), "PYTHONPATH": CHECKOUT}, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(tmp_path / "c" / "numba")] * 2
    assert not out.stdout.startswith(os.path.join(CHECKOUT, "glassgrad"))


def test_a_user_numba_cache_dir_is_kept(tmp_path):
    out = _run(_SHOW_CACHE, {"NUMBA_CACHE_DIR": str(tmp_path / "mine"), "PYTHONPATH": CHECKOUT}, tmp_path)
    assert out.stdout.split() == [str(tmp_path / "mine")] * 2


def test_numba_imported_first_is_told_the_cache_dir(tmp_path):
    code = "import numba, glassgrad.backend; print(numba.config.CACHE_DIR)"
    out = _run(code, {"GLASSGRAD_CACHE": str(tmp_path / "c"), "PYTHONPATH": CHECKOUT}, tmp_path)
    if "No module named 'numba'" in out.stderr:
        return
    assert out.stdout.strip() == str(tmp_path / "c" / "numba")


def test_a_namespace_package_left_by_pip_uninstall_is_reported_with_the_fix(tmp_path):
    leftover = tmp_path / "site-packages" / "glassgrad"
    (leftover / "backend" / "__pycache__").mkdir(parents=True)
    # What Python builds when the leftover folder wins over an editable install's finder: a
    # namespace package over that folder. Built by hand, because a regular install of glassgrad
    # on the path (as in CI) would be preferred to a namespace portion; the checkout's modules
    # stay reachable as the editable finder makes them.
    code = (
        "import sys, importlib.machinery, importlib.util; "
        "spec = importlib.machinery.ModuleSpec('glassgrad', None, is_package=True); "
        f"spec.submodule_search_locations = [{str(leftover)!r}, {os.path.join(CHECKOUT, 'glassgrad')!r}]; "
        "sys.modules['glassgrad'] = importlib.util.module_from_spec(spec); "
        "from glassgrad.cli import main; sys.exit(main(['--version']))"
    )
    out = _run(code, {}, tmp_path)
    assert out.returncode == 1, out.stderr
    assert "namespace package" in out.stderr
    assert f"rm -rf {leftover}" in out.stderr
    assert "pip uninstall glassgrad" in out.stderr


def test_a_real_install_is_not_reported():
    from glassgrad.cli import broken_install

    assert broken_install() is None
