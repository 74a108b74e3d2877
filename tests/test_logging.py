"""Library messages go through the ``glassgrad`` logger; the command line shows them as one line."""

import ast
import logging
import pathlib

import glassgrad
from glassgrad._log import get_logger
from glassgrad.cli import main

PACKAGE = pathlib.Path(glassgrad.__file__).parent
# Where printing is the point: the commands (cli/, python -m glassgrad.run) and the lessons speak to
# the terminal, progress
# lines are the progress display of a log, verbose=True of onnx.export/add_graph prints as torch's, and a
# rank's excepthook writes its last line beside the traceback it prints, as the process ends.
PRINTING = {"cli", "lessons"}
PRINTING_FILES = {"run.py", "__main__.py", "utils/progress.py", "onnx/export.py", "utils/tensorboard/writer.py"}
PRINTING_FILES |= {"distributed/_faults.py"}


def test_library_modules_do_not_print():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.split("/")[0] in PRINTING or relative in PRINTING_FILES:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{relative}:{node.lineno}")
    assert not offenders, f"library code prints instead of logging: {offenders}"


def test_cli_shows_library_messages_once_in_its_voice(capsys, monkeypatch):
    def models_with_a_note(args):
        get_logger("vision").warning("CIFAR10: %s", "using the JPEG copy")
        get_logger("vision").warning("CIFAR10: %s", "using the JPEG copy")  # the test split says it again
        get_logger("train").info("resumed at epoch %d", 3)
        return 0

    import glassgrad.cli.models as models

    real_register = models.register

    def register(subparsers):
        real_register(subparsers)
        subparsers.choices["models"].set_defaults(handler=models_with_a_note)

    monkeypatch.setattr(models, "register", register)
    assert main(["models"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["glassgrad models: note: CIFAR10: using the JPEG copy", "glassgrad models: note: resumed at epoch 3"]
    # The handler goes with the command: nothing is left attached to the library's logger.
    assert not [h for h in logging.getLogger("glassgrad").handlers if isinstance(h, logging.StreamHandler)]
