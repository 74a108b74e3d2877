"""Run unmodified PyTorch programs on glassgrad: ``torch`` and ``torchvision`` resolve to glassgrad.

``install()`` puts an import hook first on ``sys.meta_path`` that answers every ``torch.*`` and
``torchvision.*`` module name with an alias of glassgrad's own module (``torch.nn.functional`` is
``glassgrad.nn.functional``, ``torchvision.transforms`` is ``glassgrad.vision.transforms``), so
``import torch.nn.functional as F`` and ``from torchvision import datasets`` work in every file of a
program. ``glassgrad run SCRIPT`` calls it before running the script.

The aliases are thin modules of their own rather than glassgrad's modules themselves, for two
reasons: a name glassgrad lacks must fail where the program asks for it, with an error naming the
PyTorch API (``torch.nn.LSTM``) instead of a bare ``AttributeError`` about ``glassgrad.nn``; and
plain ``import glassgrad`` must stay exactly as it is, whatever a PyTorch program does to its
``torch``. Values a program assigns (``torch.backends.cudnn.benchmark = True``) pass through to
glassgrad's module, so the switches still switch.
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import multiprocessing.spawn
import os
import sys
import types
from typing import Any

__all__ = ["MissingTorchAPI", "install", "is_installed", "provided_names", "torch_name_of", "uninstall"]

# Where a spawned child finds the parent's main file or module (see glassgrad.compat.spawn_main).
SPAWN_MAIN_ENV = "GLASSGRAD_SPAWN_MAIN"
_SPAWN_MAIN = "glassgrad.compat.spawn_main"

LIST_HINT = "the names glassgrad provides are listed by `glassgrad run --list` (README: 'Running PyTorch programs')"

# PyTorch module names whose glassgrad home is not found by swapping the first name; the longest
# prefix that matches decides (so ``torch.nn.modules.conv`` becomes ``glassgrad.nn.conv``).
_RENAMES = {
    "torch": "glassgrad",
    "torchvision": "glassgrad.vision",
    "torch.nn.modules": "glassgrad.nn.modules",
    "torch.nn.modules.activation": "glassgrad.nn.activation",
    "torch.nn.modules.batchnorm": "glassgrad.nn.normalization",
    "torch.nn.modules.container": "glassgrad.nn.container",
    "torch.nn.modules.conv": "glassgrad.nn.conv",
    "torch.nn.modules.dropout": "glassgrad.nn.dropout",
    "torch.nn.modules.flatten": "glassgrad.nn.flatten",
    "torch.nn.modules.instancenorm": "glassgrad.nn.normalization",
    "torch.nn.modules.linear": "glassgrad.nn.linear",
    "torch.nn.modules.loss": "glassgrad.nn.loss",
    "torch.nn.modules.module": "glassgrad.nn.module",
    "torch.nn.modules.normalization": "glassgrad.nn.normalization",
    "torch.nn.modules.padding": "glassgrad.nn.padding",
    "torch.nn.modules.pixelshuffle": "glassgrad.nn.pixelshuffle",
    "torch.nn.modules.pooling": "glassgrad.nn.pooling",
    "torch.nn.modules.rnn": "glassgrad.nn.rnn",
    "torch.nn.modules.transformer": "glassgrad.nn.transformer",
    "torch.nn.modules.sparse": "glassgrad.nn.sparse",
    "torch.nn.modules.upsampling": "glassgrad.nn.upsampling",
    "torch.nn.modules.utils": "glassgrad.nn.modules.utils",
    "torch.version": "glassgrad.compat.torch_version",
    "torch.cuda.amp": "glassgrad.cuda_amp",
}

# glassgrad's own tools, not PyTorch APIs: ``import torch.train`` must not quietly succeed.
_NOT_TORCH = {"cli", "compat", "run", "train", "viz", "lessons", "summary", "creation", "backend", "tensor", "cuda_amp"}

# The namespaces ``glassgrad run --list`` prints, in PyTorch's names.
LISTED = (
    "torch",
    "torch.nn",
    "torch.nn.functional",
    "torch.nn.init",
    "torch.nn.utils",
    "torch.nn.utils.rnn",
    "torch.nn.utils.parametrizations",
    "torch.nn.utils.fusion",
    "torch.nn.parallel",
    "torch.nn.modules.utils",
    "torch.optim",
    "torch.optim.lr_scheduler",
    "torch.optim.swa_utils",
    "torch.autograd",
    "torch.linalg",
    "torch.serialization",
    "torch.distributions",
    "torch.special",
    "torch.amp",
    "torch.utils.data",
    "torch.utils.data.distributed",
    "torch.utils.checkpoint",
    "torch.cuda",
    "torch.accelerator",
    "torch.backends.cudnn",
    "torch.backends.mps",
    "torch.backends.cuda",
    "torch.distributed",
    "torch.multiprocessing",
    "torch.jit",
    "torch.onnx",
    "torch.utils.tensorboard",
    "torchvision",
    "torchvision.datasets",
    "torchvision.transforms",
    "torchvision.transforms.functional",
    "torchvision.transforms.v2",
    "torchvision.transforms.v2.functional",
    "torchvision.models",
    "torchvision.utils",
)


class MissingTorchAPI(AttributeError):
    """A PyTorch name the program uses that glassgrad does not provide.

    An ``AttributeError``, so ``hasattr(torch, name)`` and ``getattr(torch, name, default)`` still
    answer as they would for any missing name.
    """


def glassgrad_name_of(torch_name: str):
    """The glassgrad module that stands for the PyTorch module ``torch_name``, or None if none may."""
    parts = torch_name.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in _RENAMES:
            rest = parts[cut:]
            if prefix == "torch" and rest and rest[0] in _NOT_TORCH:
                return None
            return ".".join([_RENAMES[prefix], *rest])
    return None


def torch_name_of(glassgrad_name: str) -> str:
    """The PyTorch name of glassgrad's module ``glassgrad_name`` (``glassgrad.vision.utils`` -> ``torchvision.utils``)."""
    if glassgrad_name == "glassgrad.vision" or glassgrad_name.startswith("glassgrad.vision."):
        return "torchvision" + glassgrad_name[len("glassgrad.vision") :]
    return "torch" + glassgrad_name[len("glassgrad") :]


def _missing_module_message(torch_name: str) -> str:
    parent, _, leaf = torch_name.rpartition(".")
    if isinstance(sys.modules.get(parent), TorchAlias):
        target = object.__getattribute__(sys.modules[parent], "_glassgrad_target").__name__
        return (
            f"cannot import {torch_name}: glassgrad does not provide this PyTorch API (glassgrad's {target}, "
            f"which stands for {parent}, has no module or name {leaf!r}); {LIST_HINT}"
        )
    return (
        f"No module named {torch_name!r}: glassgrad does not provide this PyTorch module or name "
        f"({torch_name}); {LIST_HINT}"
    )


def _module_exists(glassgrad_name) -> bool:
    """Whether glassgrad has the module ``glassgrad_name`` (False for None, or inside a plain module)."""
    if glassgrad_name is None:
        return False
    try:
        return importlib.util.find_spec(glassgrad_name) is not None
    except (ImportError, ValueError):
        return False


_MODULE_DICT: Any = vars(types.ModuleType)["__dict__"]  # a module's own namespace, past TorchAlias.__dict__


class TorchAlias(types.ModuleType):
    """A PyTorch module name standing for one of glassgrad's modules.

    Reads go to the glassgrad module; a name it lacks raises ``MissingTorchAPI`` naming the
    PyTorch API. Submodules come back as their own aliases, so ``torch.nn.LSTM`` is checked
    against ``torch.nn`` too.
    """

    def __init__(self, torch_name: str, target: types.ModuleType):
        super().__init__(torch_name)
        object.__setattr__(self, "_glassgrad_target", target)
        object.__setattr__(self, "__doc__", target.__doc__)

    def __getattr__(self, name):
        target = object.__getattribute__(self, "_glassgrad_target")
        try:
            value = getattr(target, name)
        except AttributeError:
            if name == "__all__":
                # `from torch import *` takes the public names of glassgrad's module.
                # (PyTorch's __all__ lists no submodules, and neither does this.)
                return [
                    n
                    for n in dir(target)
                    if not n.startswith("_") and not isinstance(getattr(target, n, None), types.ModuleType)
                ]
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}") from None
            child = f"{self.__name__}.{name}"
            if _module_exists(glassgrad_name_of(child)):
                return _alias(child)
            raise MissingTorchAPI(
                f"{child}: glassgrad does not provide this PyTorch API (the module {self.__name__} is "
                f"{target.__name__} here, which has no {name!r}); {LIST_HINT}"
            ) from None
        if isinstance(value, types.ModuleType) and value.__name__.split(".")[0] == "glassgrad":
            return _alias(torch_name_of(value.__name__), value)
        return value

    def __setattr__(self, name, value):
        # The import system records submodules and its own dunders on the alias; a program's
        # settings (cudnn.benchmark, a patched function) belong to glassgrad's module.
        if isinstance(value, types.ModuleType) or (name.startswith("__") and name.endswith("__")):
            object.__setattr__(self, name, value)
        else:
            setattr(object.__getattribute__(self, "_glassgrad_target"), name, value)

    @property
    def __dict__(self):
        # `models.__dict__[args.arch]` (the imagenet example) and vars(torch) read the names of
        # glassgrad's module; its submodules (not glassgrad-only ones) appear as their aliases.
        target = object.__getattribute__(self, "_glassgrad_target")
        names = {}
        for key, value in vars(target).items():
            if not isinstance(value, types.ModuleType):
                names[key] = value
            elif value.__name__.startswith(target.__name__ + ".") and glassgrad_name_of(torch_name_of(value.__name__)):
                names[key] = _alias(torch_name_of(value.__name__), value)
        names.update(_MODULE_DICT.__get__(self))
        return names

    def __dir__(self):
        own = _MODULE_DICT.__get__(self)
        return sorted(set(dir(object.__getattribute__(self, "_glassgrad_target"))) | set(own))

    def __repr__(self):
        target = object.__getattribute__(self, "_glassgrad_target")
        return f"<module {self.__name__!r} (glassgrad's {target.__name__})>"


def _add_overrides(alias: TorchAlias) -> TorchAlias:
    # `torch.__version__` is the PyTorch API version glassgrad follows (programs branch on it),
    # while `glassgrad.__version__` stays the package's own: the alias answers, not glassgrad.
    if alias.__name__ == "torch":
        from glassgrad.compat.torch_version import __version__

        object.__setattr__(alias, "__version__", __version__)
    return alias


def _alias(torch_name: str, target=None) -> TorchAlias:
    """The alias module registered in ``sys.modules`` for ``torch_name``, made on first use."""
    existing = sys.modules.get(torch_name)
    if isinstance(existing, TorchAlias):
        return existing
    if target is None:
        target = importlib.import_module(glassgrad_name_of(torch_name))
    alias = TorchAlias(torch_name, target)
    _add_overrides(alias)
    alias.__spec__ = importlib.machinery.ModuleSpec(torch_name, _FINDER, is_package=True)
    alias.__spec__.submodule_search_locations = []
    alias.__path__ = []
    alias.__package__ = torch_name
    alias.__loader__ = _FINDER
    if getattr(target, "__file__", None):
        alias.__file__ = target.__file__
    sys.modules[torch_name] = alias
    parent, _, leaf = torch_name.rpartition(".")
    if parent and isinstance(sys.modules.get(parent), TorchAlias):
        object.__setattr__(sys.modules[parent], leaf, alias)
    return alias


class _TorchFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``torch``/``torchvision`` module names and loads them as aliases of glassgrad's modules."""

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.split(".")[0]
        if top not in ("torch", "torchvision"):
            return None
        if not _module_exists(glassgrad_name_of(fullname)):
            # name=None on purpose: `from torch.nn import LSTM` asks for the module torch.nn.LSTM
            # and, for an error naming that module, would swallow it and raise a bare
            # "cannot import name" instead.
            raise ModuleNotFoundError(_missing_module_message(fullname), name=None)
        spec = importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        spec.submodule_search_locations = []
        return spec

    def create_module(self, spec):
        target = importlib.import_module(glassgrad_name_of(spec.name))
        return _add_overrides(TorchAlias(spec.name, target))

    def exec_module(self, module):
        target = object.__getattribute__(module, "_glassgrad_target")
        if getattr(target, "__file__", None):
            module.__file__ = target.__file__


_FINDER = _TorchFinder()


def is_installed() -> bool:
    return _FINDER in sys.meta_path


def install() -> None:
    """Make ``import torch`` and ``import torchvision`` (and all their submodules) give glassgrad.

    Call before the program's first ``import torch``: in a notebook, in the first cell. Raises
    RuntimeError if the real PyTorch or torchvision is imported already, since objects made by it
    cannot mix with glassgrad's.
    """
    for top in ("torch", "torchvision"):
        module = sys.modules.get(top)
        if module is not None and not isinstance(module, TorchAlias):
            where = getattr(module, "__file__", None) or "an unknown location"
            raise RuntimeError(
                f"glassgrad.compat.install(): the real {top} is already imported (from {where}), so "
                f"`import {top}` cannot be redirected to glassgrad; call install() before the first "
                f"`import {top}` (in a notebook: restart the kernel and run it in the first cell)"
            )
    if not is_installed():
        sys.meta_path.insert(0, _FINDER)
    if multiprocessing.spawn.get_preparation_data is not _preparation_data:
        global _original_preparation_data
        _original_preparation_data = multiprocessing.spawn.get_preparation_data
        multiprocessing.spawn.get_preparation_data = _preparation_data


_original_preparation_data: Any = None


def _preparation_data(name):
    """What a spawned child needs to start, with glassgrad's bootstrap as its main module.

    The child runs ``glassgrad.compat.spawn_main``, which installs the hook before it runs the
    parent's main again: otherwise the child's ``import torch`` would not be glassgrad's.
    """
    data = _original_preparation_data(name)
    if "init_main_from_path" in data:
        os.environ[SPAWN_MAIN_ENV] = "path:" + data.pop("init_main_from_path")
    elif data.get("init_main_from_name") not in (None, _SPAWN_MAIN):
        os.environ[SPAWN_MAIN_ENV] = "name:" + data["init_main_from_name"]
    elif "init_main_from_name" not in data:
        os.environ.pop(SPAWN_MAIN_ENV, None)
    data["init_main_from_name"] = _SPAWN_MAIN
    return data


def uninstall() -> None:
    """Undo ``install()``: remove the hook and every ``torch``/``torchvision`` alias from ``sys.modules``."""
    while _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    if multiprocessing.spawn.get_preparation_data is _preparation_data:
        multiprocessing.spawn.get_preparation_data = _original_preparation_data
    os.environ.pop(SPAWN_MAIN_ENV, None)
    for name in [n for n, m in sys.modules.items() if isinstance(m, TorchAlias)]:
        del sys.modules[name]


def provided_names(prefix: str = "") -> list:
    """The PyTorch names glassgrad provides, as ``torch.nn.Linear``, for the namespaces in ``LISTED``.

    Only names defined by glassgrad count (not ``np`` or ``math`` imported into a module, nor a glassgrad
    module imported for the file's own use);
    ``prefix`` keeps those starting with it.
    """
    names = []
    for torch_name in LISTED:
        glassgrad_name = glassgrad_name_of(torch_name)
        try:
            module = importlib.import_module(glassgrad_name)
        except ImportError:
            continue
        for attr in dir(module):
            if attr.startswith("__"):
                continue
            if (attr.startswith("_") and torch_name != "torch.nn.modules.utils") or attr == "TYPE_CHECKING":
                continue
            value = getattr(module, attr, None)
            if isinstance(value, types.ModuleType):
                # A module counts only as a namespace of its own (torch.nn.functional), not as one
                # that a file imported for its own use (glassgrad.ops inside nn.functional).
                if not value.__name__.startswith(module.__name__ + "."):
                    continue
            elif (getattr(value, "__module__", None) or "glassgrad").split(".")[0] != "glassgrad":
                continue
            names.append(f"{torch_name}.{attr}")
    return sorted(n for n in set(names) if n.startswith(prefix))
