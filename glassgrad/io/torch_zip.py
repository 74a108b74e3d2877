"""Read the zip files ``torch.save`` writes (``.pth``/``.pt``) without running a stranger's pickle.

Such a file is a zip archive: ``<root>/data.pkl`` is a pickle of the saved object whose tensors
point, through pickle's persistent ids, at raw little-endian storages ``<root>/data/<key>``. The
pickle is read by an unpickler that resolves only the few globals a checkpoint of tensors needs
(tensor and parameter rebuilding, storage types, ``OrderedDict``, dtypes); any other global, which
is how a hostile pickle runs code, stops the load with ``UnsafeTorchFile`` naming it. What comes
back holds glassgrad Tensors and Parameters, dicts, lists, tuples, numbers and strings.
"""

import collections
import io
import pickle
import zipfile
from typing import Any

import numpy as np

__all__ = ["UnsafeTorchFile", "is_torch_zip", "load_torch_zip"]

# torch storage class name -> NumPy dtype of its elements.
_STORAGES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
_DTYPES = {"float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"}
_MAX_PICKLE = 256 * 1024 * 1024


class UnsafeTorchFile(pickle.UnpicklingError):
    """A torch.save file asks for something a checkpoint of tensors never needs; it is not loaded."""


class _Storage:
    """One storage of the archive: a flat NumPy array."""

    def __init__(self, array):
        self.array = array


def is_torch_zip(f: Any) -> bool:
    """Whether the binary file object ``f`` (at its start) is a zip with a torch ``data.pkl``."""
    here = f.tell()
    try:
        if f.read(4) != b"PK\x03\x04":
            return False
        f.seek(here)
        with zipfile.ZipFile(f) as archive:
            return any(n.endswith("/data.pkl") or n == "data.pkl" for n in archive.namelist())
    except zipfile.BadZipFile:
        return False
    finally:
        f.seek(here)


def load_torch_zip(f):
    """The object a ``torch.save`` zip file holds, tensors as glassgrad Tensors.

    Raises:
        UnsafeTorchFile: the pickle names a global outside the checkpoint allowlist (e.g. ``os.system``).
        ValueError: the archive is malformed (missing storage, a tensor reaching past its storage).
    """
    with zipfile.ZipFile(f) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise ValueError(f"a torch.save archive has one data.pkl; found {len(pickles)}")
        root = pickles[0][: -len("data.pkl")]
        info = archive.getinfo(pickles[0])
        if info.file_size > _MAX_PICKLE:
            raise ValueError(f"its data.pkl is {info.file_size} bytes, more than a checkpoint's structure needs")
        byteorder = root + "byteorder"
        if byteorder in archive.namelist() and archive.read(byteorder).strip() not in (b"little", b""):
            raise ValueError("big-endian torch files are not supported; re-save it on a little-endian machine")
        unpickler = _CheckpointUnpickler(io.BytesIO(archive.read(pickles[0])), archive, root)
        return unpickler.load()


class _CheckpointUnpickler(pickle.Unpickler):
    def __init__(self, stream, archive, root):
        super().__init__(stream)
        self._archive, self._root = archive, root
        self._storages = {}

    def find_class(self, module, qualname):
        if module == "collections" and qualname == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and qualname == "_rebuild_tensor_v2":
            return self._rebuild_tensor
        if module == "torch._utils" and qualname == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and qualname in _STORAGES:
            return _STORAGES[qualname]
        if module == "torch" and qualname in _DTYPES:
            from glassgrad import _dtype

            return getattr(_dtype, qualname)
        raise UnsafeTorchFile(
            f"refusing to load: its pickle asks for {module}.{qualname}, which a checkpoint of tensors "
            "never needs (a pickle can run code through such a name). glassgrad reads tensors, storages, "
            "OrderedDict and plain containers only; save the state_dict() instead, or convert the file to "
            "safetensors in a process you trust"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise UnsafeTorchFile(f"unexpected persistent id {pid!r}; not a torch.save checkpoint")
        _, dtype, key, _location, numel = pid
        if not (isinstance(dtype, type) and dtype in _STORAGES.values()) or not isinstance(key, str):
            raise UnsafeTorchFile(f"storage {key!r} has an unsupported type {dtype!r}")
        if key not in self._storages:
            member = f"{self._root}data/{key}"
            try:
                raw = self._archive.read(member)
            except KeyError:
                raise ValueError(f"the archive has no {member}, which a tensor needs") from None
            itemsize = np.dtype(dtype).itemsize
            if not isinstance(numel, int) or len(raw) < numel * itemsize:
                raise ValueError(f"{member} holds {len(raw)} bytes, fewer than {numel} elements")
            self._storages[key] = _Storage(np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"), count=numel))
        return self._storages[key]

    def _rebuild_tensor(self, storage, offset, size, stride, requires_grad=False, backward_hooks=None, *extra):
        from glassgrad.tensor import Tensor

        if not isinstance(storage, _Storage):
            raise UnsafeTorchFile(f"a tensor is built on {type(storage).__name__}, not a storage")
        size, stride = tuple(size), tuple(stride)
        if not all(isinstance(v, int) and v >= 0 for v in (offset, *size, *stride)) or len(size) != len(stride):
            raise ValueError(f"a tensor has a bad layout (offset {offset}, size {size}, stride {stride})")
        flat = storage.array
        if all(size):
            last = offset + sum((n - 1) * s for n, s in zip(size, stride))
            if last >= len(flat):
                raise ValueError(
                    f"a tensor of size {size} at offset {offset} reaches past its storage of {len(flat)} elements"
                )
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[offset:] if len(flat) > offset else flat[:0], size, tuple(s * item for s in stride), writeable=False
        )
        tensor = Tensor._wrap(np.array(view, dtype=flat.dtype.newbyteorder("=")))
        if requires_grad:
            tensor.requires_grad_(True)
        return tensor


def _rebuild_parameter(data, requires_grad, backward_hooks=None, *extra):
    from glassgrad.nn.parameter import Parameter

    return Parameter(data, requires_grad=requires_grad)
