"""``python -m glassgrad.run SCRIPT [args...]``: run an unmodified PyTorch program on glassgrad.

The same as ``glassgrad run``; see ``glassgrad.compat`` for how ``torch`` becomes glassgrad.
"""

import os
import runpy
import sys

from glassgrad import compat


def run_script(script: str, args: list) -> None:
    """Run ``script`` as ``python script args`` would, with ``torch``/``torchvision`` resolving to glassgrad.

    ``sys.argv`` is the script and its arguments, ``sys.path[0]`` its folder (so the program's
    other files import each other) and ``__name__`` is ``"__main__"``. Raises FileNotFoundError
    naming the path when there is no such file.
    """
    if not os.path.isfile(script):
        raise FileNotFoundError(f"glassgrad run: no such file {script!r}: give the path of a Python script")
    compat.install()
    sys.argv = [script, *args]
    folder = os.path.dirname(os.path.abspath(script))
    # `python script.py` puts the script's folder first and not the current one; glassgrad itself
    # is imported already, so the entry that found it is no longer needed.
    if sys.path:
        sys.path[0] = folder
    else:
        sys.path.insert(0, folder)
    runpy.run_path(script, run_name="__main__")


def list_names(prefix: str = "") -> str:
    names = compat.provided_names(prefix)
    return "\n".join(names) + (f"\n({len(names)} names)" if names else f"no provided name starts with {prefix!r}")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m glassgrad.run SCRIPT [args...]   |   python -m glassgrad.run --list [PREFIX]")
        return 0 if argv else 2
    if argv[0] == "--list":
        print(list_names(argv[1] if len(argv) > 1 else ""))
        return 0
    try:
        run_script(argv[0], argv[1:])
    except FileNotFoundError as error:
        if str(error).startswith("glassgrad run:"):
            print(error, file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
