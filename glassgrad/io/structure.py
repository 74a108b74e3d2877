"""The tree of a checkpoint as JSON: containers and scalars inline, arrays by name.

``encode(obj)`` turns nested dicts/lists/tuples of tensors, arrays, numbers, strings, bools and
None into a JSON-able tree plus a list of named arrays; ``decode`` rebuilds the objects. Every
JSON object in the tree is a tag with one key naming its kind, so a dict the user saved is never
confused with a tag::

    {"dict": [[key, value], ...]}   dict (keys keep their types: optimizer states use int keys)
    {"odict": [[key, value], ...]}  collections.OrderedDict (what Module.state_dict returns)
    {"list": [...]}, {"tuple": [...]}
    {"tensor": name, "requires_grad": bool}, {"parameter": name, "requires_grad": bool}
    {"ndarray": name}, {"numpy": name}      NumPy array, NumPy scalar (np.float32(1.5))
    {"bytes": name}, {"dtype": "float32"}
    {"float": "inf" | "-inf" | "nan"}, {"int": "123456789012345678901"}

A tensor that appears twice (tied weights) is stored once and comes back as one object.
"""

import math
import types
from collections import OrderedDict

import numpy as np

from glassgrad import _dtype
from glassgrad.io import safe_globals
from glassgrad.tensor import Tensor

# JSON numbers beyond 2**53 lose precision in most readers, so larger ints travel as strings.
_SAFE_INT = 2**53
# Deeper nesting than this is refused on save and on load: Python's recursion would give out
# first, and no state dict comes near it.
MAX_DEPTH = 200
# An int stored as a string has at most this many digits (Python's own int-from-str limit).
_MAX_INT_DIGITS = 4300

SUPPORTED = (
    "dict, list, tuple, glassgrad Tensor/Parameter, NumPy array or scalar, int, float, str, bool, None, "
    "bytes, sets, glassgrad dtypes, and whole nn.Modules (rebuilt on load for allowed classes only)"
)


class Encoder:
    """Walks an object, collecting its arrays under readable, unique names."""

    def __init__(self):
        self.arrays = []  # (name, contiguous little-endian array)
        self._names = {"__metadata__"}  # the safetensors header reserves this name
        self._memo = {}  # id(tensor or array) -> name, so shared tensors are stored once
        self._keep = []  # keeps memoised objects alive so their ids stay unique
        self._open = set()  # ids of the containers being encoded, to catch one that holds itself

    def encode(self, obj, path=()):
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self._open:
                raise ValueError(
                    f"glassgrad.save: the {type(obj).__name__} at {_where(path)} contains itself (a recursive "
                    "structure cannot be stored); save a copy without the cycle"
                )
            if len(path) >= MAX_DEPTH:
                raise ValueError(
                    f"glassgrad.save: the object is nested more than {MAX_DEPTH} levels deep at "
                    f"{_where(path[:3])}...; flatten it before saving"
                )
            self._open.add(id(obj))
            try:
                return self._encode(obj, path)
            finally:
                self._open.discard(id(obj))
        return self._encode(obj, path)

    def _encode(self, obj, path):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int) and not isinstance(obj, np.integer):
            return obj if abs(obj) < _SAFE_INT else {"int": str(obj)}
        if isinstance(obj, float) and not isinstance(obj, np.floating):
            return obj if math.isfinite(obj) else {"float": repr(obj)}
        if isinstance(obj, Tensor):
            from glassgrad.nn.parameter import Parameter

            kind = "parameter" if isinstance(obj, Parameter) else "tensor"
            return {kind: self._array(obj, obj.array, path), "requires_grad": bool(obj.requires_grad)}
        if isinstance(obj, np.ndarray):
            return {"ndarray": self._array(obj, obj, path)}
        if isinstance(obj, np.generic):
            return {"numpy": self._array(None, np.asarray(obj), path)}
        if isinstance(obj, (bytes, bytearray)):
            return {"bytes": self._array(None, np.frombuffer(bytes(obj), dtype=np.uint8), path)}
        if isinstance(obj, _dtype.dtype):
            return {"dtype": obj.name}
        if isinstance(obj, dict):
            tag = "odict" if isinstance(obj, OrderedDict) else "dict"
            return {tag: [[self._key(k, path), self.encode(v, (*path, k))] for k, v in obj.items()]}
        if isinstance(obj, list):
            return {"list": [self.encode(v, (*path, i)) for i, v in enumerate(obj)]}
        if isinstance(obj, tuple):
            return {"tuple": [self.encode(v, (*path, i)) for i, v in enumerate(obj)]}
        if isinstance(obj, (set, frozenset)):
            return {"set": [self._key(k, path) for k in sorted(obj, key=repr)]}
        from glassgrad.nn.module import Module

        if isinstance(obj, Module):
            # A whole model (torch.save(model, f)): its class by name and its attributes; load
            # rebuilds it only for classes the program allows (see glassgrad.io.safe_globals).
            return {"module": [safe_globals.global_name(type(obj)), self.encode(dict(vars(obj)), (*path, "__dict__"))]}
        if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, type)) and "<" not in obj.__qualname__:
            return {"global": safe_globals.global_name(obj)}
        raise TypeError(
            f"glassgrad.save: cannot store a {type(obj).__module__}.{type(obj).__qualname__} at {_where(path)}; "
            f"a checkpoint holds only {SUPPORTED} (no pickle, so no arbitrary objects): save its state_dict() "
            "or convert it to one of these"
        )

    def _key(self, key, path):
        if key is None or isinstance(key, (bool, str, int, float)) and not isinstance(key, np.generic):
            return self.encode(key, path)
        if isinstance(key, tuple):
            return {"tuple": [self._key(k, path) for k in key]}
        raise TypeError(
            f"glassgrad.save: dict key {key!r} ({type(key).__name__}) at {_where(path)} cannot be stored; "
            "use str, int, float, bool, None or tuples of them as keys"
        )

    def _array(self, owner, array, path):
        memo_key = id(owner) if owner is not None else None
        if memo_key is not None and memo_key in self._memo:
            return self._memo[memo_key]
        if array.dtype.kind not in "biuf" or array.dtype.itemsize > 8:
            raise TypeError(
                f"glassgrad.save: the array at {_where(path)} has dtype {array.dtype}; checkpoints hold bool, "
                "integer and float arrays (no object/complex/string arrays, which would need pickle)"
            )
        if not array.flags.c_contiguous:
            array = array.copy(order="C")  # (np.ascontiguousarray would turn 0-d arrays into 1-d)
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        name = ".".join(str(p) for p in path) or "tensor"
        unique, n = name, 1
        while unique in self._names:
            n += 1
            unique = f"{name}#{n}"
        self._names.add(unique)
        self.arrays.append((unique, array))
        if memo_key is not None:
            self._memo[memo_key] = unique
            self._keep.append(owner)
        return unique


def _where(path):
    return "obj" + "".join(f"[{p!r}]" for p in path)


class Decoder:
    """Rebuilds objects from the tree, given a name -> NumPy array mapping."""

    def __init__(self, arrays, fail):
        self.arrays = arrays
        self.fail = fail  # fail(message) raises the checkpoint's error, naming the file
        self._memo = {}

    def decode(self, node, depth=0):
        if depth > MAX_DEPTH:
            self.fail(f"malformed structure: nested more than {MAX_DEPTH} levels deep")
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        if isinstance(node, list) or not isinstance(node, dict) or len(node) == 0:
            self.fail(f"malformed structure: unexpected JSON value {str(node)[:80]!r}")
        tag = next(iter(node))
        value = node[tag]
        if tag in ("dict", "odict"):
            out = OrderedDict() if tag == "odict" else {}
            for item in self._items(value, tag):
                if not isinstance(item, list) or len(item) != 2:
                    self.fail(f"malformed structure: a {tag} item is not a [key, value] pair")
                out[self._hashable(self.decode(item[0], depth + 1))] = self.decode(item[1], depth + 1)
            return out
        if tag == "list":
            return [self.decode(v, depth + 1) for v in self._items(value, tag)]
        if tag == "tuple":
            return tuple(self.decode(v, depth + 1) for v in self._items(value, tag))
        if tag in ("tensor", "parameter"):
            self._array(value)  # a name, before it is used as a key
            if value not in self._memo:
                self._memo[value] = self._tensor(tag, value, bool(node.get("requires_grad", False)))
            return self._memo[value]
        if tag == "ndarray":
            return self._array(value)
        if tag == "numpy":
            return self._array(value)[()]
        if tag == "bytes":
            return self._array(value).tobytes()
        if tag == "dtype":
            try:
                return _dtype.to_dtype(value)
            except (TypeError, ValueError, KeyError):
                self.fail(f"malformed structure: unknown dtype {str(value)[:80]!r}")
        if tag == "float" and value in ("inf", "-inf", "nan"):
            return float(value)
        if tag == "int" and isinstance(value, str) and value.lstrip("-").isdigit():
            if len(value) > _MAX_INT_DIGITS:
                self.fail(f"malformed structure: an integer of {len(value):,} digits (at most {_MAX_INT_DIGITS})")
            return int(value)
        if tag == "set":
            return {self._hashable(self.decode(v, depth + 1)) for v in self._items(value, tag)}
        if tag == "module":
            return self._module(value, depth)
        if tag == "global":
            return self._global(value, "a function or class")
        self.fail(f"malformed structure: unknown entry {{{str(tag)[:80]!r}: ...}}")

    def _global(self, name, what):
        if not isinstance(name, str):
            self.fail("malformed structure: a class or function name is not a string")
        obj = safe_globals.resolve(name)
        if obj is None:
            shown = name.replace(":", ".")
            self.fail(
                f"it holds {what} {shown}, which a checkpoint may name only when the program allows it: load it "
                f"inside `with torch.serialization.safe_globals([{name.rpartition(':')[2]}, ...]):` (or call "
                "add_safe_globals), as PyTorch's weights_only load asks too, or save model.state_dict() instead"
            )
        return obj

    def _module(self, value, depth):
        from glassgrad.nn.module import Module

        if not isinstance(value, list) or len(value) != 2:
            self.fail("malformed structure: a module entry is not [class, attributes]")
        cls = self._global(value[0], "a whole model of class")
        if not (isinstance(cls, type) and issubclass(cls, Module)):
            self.fail(f"malformed structure: {value[0]!r} is not a Module class")
        state = self.decode(value[1], depth + 1)
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            self.fail(f"malformed structure: the attributes of a {value[0]!r} are not a dict of names")
        module = cls.__new__(cls)
        module.__dict__.update(state)  # no __init__, no code of the file: the stored attributes only
        return module

    def _items(self, value, tag):
        if not isinstance(value, list):
            self.fail(f"malformed structure: {tag} does not hold a list")
        return value

    def _hashable(self, key):
        try:
            hash(key)
        except TypeError:
            self.fail("malformed structure: a dict key is not hashable")
        return key

    def _array(self, name):
        if not isinstance(name, str) or name not in self.arrays:
            self.fail(f"malformed structure: it refers to a tensor {str(name)[:80]!r} that the file does not contain")
        return self.arrays[name]

    def _tensor(self, tag, name, requires_grad):
        array = self._array(name)
        try:
            _dtype.from_numpy_dtype(array.dtype)
        except TypeError:
            self.fail(f"tensor {name!r} has dtype {array.dtype}, which glassgrad tensors do not support")
        if tag == "parameter":
            from glassgrad.nn.parameter import Parameter

            return Parameter(Tensor._wrap(array), requires_grad=requires_grad)
        tensor = Tensor._wrap(array)
        if requires_grad:
            tensor.requires_grad_(True)
        return tensor
