"""The main module of a process that ``multiprocessing`` spawns from a program run on glassgrad.

A spawned child is a fresh interpreter: without help it would re-run the program's main file, and
unpickle the functions it was sent, with ``import torch`` meaning the real PyTorch (or nothing).
While ``glassgrad.compat`` is installed, the parent names this module as the child's main
(``init_main_from_name``); it installs the import hook first and only then runs the parent's main
file or module, recorded in ``SPAWN_MAIN_ENV``, as ``__mp_main__`` (its ``if __name__ ==
"__main__"`` block stays off, as it does under plain PyTorch).
"""

import os
import runpy

from glassgrad import compat

compat.install()

_kind, _, _where = os.environ.get(compat.SPAWN_MAIN_ENV, "").partition(":")
if _kind == "path" and _where:
    globals().update(runpy.run_path(_where, run_name="__mp_main__"))
elif _kind == "name" and _where:
    globals().update(runpy.run_module(_where, run_name="__mp_main__", alter_sys=False))
