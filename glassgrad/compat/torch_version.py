"""``torch.version`` under ``glassgrad run``: the PyTorch API version glassgrad follows.

Programs test ``torch.__version__`` (``>= "1.8"``, ``packaging.version.parse(...)``,
``.split(".")``) to pick code paths; they mean the PyTorch API, so under the compat layer the
answer is the PyTorch release whose semantics glassgrad matches, with glassgrad's own version as
the local part (``2.13.0+glassgrad0.1.0``). ``glassgrad.__version__`` stays the package's own
version (pyproject reads it), untouched by any of this.
"""

import re

import glassgrad

PYTORCH_API = "2.13.0"  # the PyTorch release whose names and semantics glassgrad's tests compare with


class TorchVersion(str):
    """A version string that compares as a version with strings and tuples, as PyTorch's does:
    ``TorchVersion("2.13.0+x") >= "2.2"`` is True (as text, "2.13" < "2.2"), ``>= (2, 0)`` too."""

    @staticmethod
    def _release(value):
        if isinstance(value, tuple):
            return tuple(int(v) for v in value)
        match = re.match(r"\d+(\.\d+)*", str(value).strip().lstrip("vV"))
        if match is None:
            raise TypeError(f"cannot compare torch.__version__ with {value!r}: it is not a version like '2.1'")
        return tuple(int(v) for v in match.group(0).split("."))

    def _pair(self, other):
        mine, theirs = self._release(self), self._release(other)
        width = max(len(mine), len(theirs))
        return mine + (0,) * (width - len(mine)), theirs + (0,) * (width - len(theirs))

    def __eq__(self, other):
        if isinstance(other, (str, tuple)):
            a, b = self._pair(other)
            return a == b
        return NotImplemented

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __lt__(self, other):
        a, b = self._pair(other)
        return a < b

    def __le__(self, other):
        a, b = self._pair(other)
        return a <= b

    def __gt__(self, other):
        a, b = self._pair(other)
        return a > b

    def __ge__(self, other):
        a, b = self._pair(other)
        return a >= b

    __hash__ = str.__hash__


__version__ = TorchVersion(f"{PYTORCH_API}+glassgrad{glassgrad.__version__}")
cuda = None  # a CPU-only build, as PyTorch's CPU wheels answer
hip = None
xpu = None
rocm = None
debug = False
git_version = "glassgrad"
