"""glassgrad.save / glassgrad.load: checkpoints in an open, pickle-free format.

The file is a safetensors file (so any safetensors reader can open its tensors)::

    8 bytes      N, the header length (unsigned little-endian)
    N bytes      JSON header, space-padded to a multiple of 8:
                   {"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
                    "__metadata__": {"format": "glassgrad", "glassgrad.version": "1",
                                     "glassgrad.structure": "<JSON tree, see structure.py>",
                                     "glassgrad.sha256": "<hex digest>"}}
    data         the arrays' raw little-endian bytes, back to back, in offset order

The sha256 covers a canonical form of the tensor table and the structure, then the data, so a
flipped bit anywhere is caught. Loading reads bytes into preallocated arrays and parses JSON:
nothing in a file can run code. Writes go to a temporary file in the same directory, are
flushed and fsynced, and replace the target with ``os.replace``: a crash or kill during a save
leaves the previous checkpoint intact (at worst a stray ``.<name>.<pid>.*.tmp`` file beside it,
which the next save of that name removes once its process is gone). Headers are validated as
safetensors validates them, within bounds on their size, their number of tensors and the
structure's depth, so a crafted file raises CheckpointError quickly.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import pickle  # only for its error type: torch_zip's unpickler is a restricted one
import struct
import tempfile
import zipfile
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from glassgrad.io import torch_zip
from glassgrad.io.structure import Decoder, Encoder

if TYPE_CHECKING:
    from typing import TypeAlias

    # A path, or a binary file object open for reading (load) or writing (save).
    FileLike: TypeAlias = "str | os.PathLike[str] | IO[bytes]"

FORMAT = "glassgrad"
VERSION = "1"
# safetensors' own bounds on the header: larger headers are refused before any parsing.
_MAX_HEADER = 100_000_000
# Far more tensors than any model's state dict and its optimizer's; a header listing millions of
# empty tensors would otherwise take minutes and gigabytes to load.
_MAX_ENTRIES = 200_000
_MAX_NDIM = 64
_MAX_DIM = 2**63 - 1

# safetensors dtype codes (little-endian by definition of the format).
_CODES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U64": np.uint64,
    "U32": np.uint32,
    "U16": np.uint16,
    "U8": np.uint8,
    "BOOL": np.bool_,
}
_CODE_OF = {np.dtype(v): k for k, v in _CODES.items()}


class CheckpointError(RuntimeError, ValueError):
    """A file that glassgrad.load cannot read: truncated, corrupted, or not a glassgrad checkpoint.

    ``path`` is the file and ``problem`` says what is wrong with it.
    """

    def __init__(self, path: object, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"glassgrad.load: {path}: {problem}")


def _code(dtype):
    return _CODE_OF[np.dtype(dtype).newbyteorder("=")]


def _digest(table, structure, arrays):
    h = hashlib.sha256()
    h.update(json.dumps({"tensors": table, "structure": structure}, sort_keys=True, separators=(",", ":")).encode())
    for array in arrays:
        h.update(memoryview(array).cast("B") if array.size else b"")
    return h


# -- save --------------------------------------------------------------------------------------


def save(
    obj: object,
    f: FileLike,
    pickle_module: Any = None,
    pickle_protocol: int = 2,
    _use_new_zipfile_serialization: bool = True,
    **kwargs: Any,
) -> None:
    """Save ``obj`` (nested dicts/lists/tuples of tensors, NumPy arrays, numbers, strings, bools,
    None) to the path ``f`` atomically, or into the binary file object ``f``.

    ``pickle_module`` and ``pickle_protocol`` are accepted for PyTorch compatibility and ignored:
    glassgrad checkpoints never use pickle.
    """
    encoder = Encoder()
    try:
        tree = encoder.encode(obj)
    except RecursionError:
        raise ValueError("glassgrad.save: the object is nested too deeply to store; flatten it before saving") from None
    structure = json.dumps(tree, allow_nan=False, separators=(",", ":"))
    table = {}
    offset = 0
    for name, array in encoder.arrays:
        table[name] = {
            "dtype": _code(array.dtype),
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
    arrays = [a for _, a in encoder.arrays]
    digest = _digest(table, structure, arrays).hexdigest()
    header = dict(table)
    header["__metadata__"] = {
        "format": FORMAT,
        "glassgrad.version": VERSION,
        "glassgrad.structure": structure,
        "glassgrad.sha256": digest,
    }
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)

    if hasattr(f, "write"):
        _write(f, text, arrays)
        return
    # Through a symlink, the link's target is what gets replaced, and the link stays.
    _atomic_write(os.path.realpath(os.fspath(f)), text, arrays)


def _write(f, header, arrays):
    f.write(struct.pack("<Q", len(header)))
    f.write(header)
    for array in arrays:
        if array.size:
            f.write(memoryview(array).cast("B"))


def _atomic_write(path, header, arrays):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"glassgrad.save: the directory {directory} does not exist; create it first")
    if os.path.isdir(path):
        raise IsADirectoryError(f"glassgrad.save: {path} is a directory; give a file name such as {path}/model.pt")
    prefix = f".{os.path.basename(path)}.{os.getpid()}."
    _sweep_stale(directory, os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            _write(out, header, arrays)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _sweep_stale(directory, base):
    """Remove ``.<base>.<pid>.*.tmp`` files left by saves whose process has died (killed mid-save)."""
    start = f".{base}."
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(start) and name.endswith(".tmp")):
            continue
        pid_text = name[len(start) :].split(".", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or no way to tell: leave its file alone
    return True


def _file_mode(path):
    # mkstemp makes 0600 files; a checkpoint gets the mode an ordinary open() would give it.
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_directory(directory):
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- load --------------------------------------------------------------------------------------


def load(
    f: FileLike,
    map_location: Any = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    **pickle_load_args: Any,
) -> Any:
    """Load what ``save`` wrote, from a path or a binary file object.

    Tensors come back as glassgrad Tensors (Parameters as Parameters) with their dtype and shape,
    NumPy arrays as NumPy arrays. A plain safetensors file loads as a dict of name -> Tensor.
    ``map_location``, ``weights_only``, ``mmap`` and pickle options are accepted for PyTorch
    compatibility and ignored: there is only the CPU. A zip file written by ``torch.save`` (a
    ``.pth`` state dict) loads too, through an unpickler that admits tensors, storages,
    ``OrderedDict`` and plain containers only (``glassgrad.io.torch_zip``).

    Raises:
        CheckpointError: the file is truncated, corrupted, or not a glassgrad/safetensors file.
    """
    if hasattr(f, "read"):
        name = str(getattr(f, "name", "<file object>"))
        if not (hasattr(f, "seekable") and f.seekable()):
            f = io.BytesIO(f.read())  # a pipe or socket: its size is known only once read
        return _load_stream(f, name, _stream_size(f))
    path = os.fspath(f)
    with open(path, "rb") as stream:
        return _load_stream(stream, path, os.fstat(stream.fileno()).st_size)


def _stream_size(f):
    here = f.tell()
    f.seek(0, os.SEEK_END)
    end = f.tell()
    f.seek(here)
    return end - here


def _load_stream(f, path, size):
    def fail(problem):
        raise CheckpointError(path, problem)

    if torch_zip.is_torch_zip(f):
        try:
            return torch_zip.load_torch_zip(f)
        except (pickle.UnpicklingError, ValueError, EOFError, zipfile.BadZipFile) as error:
            fail(f"a torch.save zip file that cannot be read safely: {error}")
    head = f.read(8)
    if len(head) < 8:
        fail(f"the file is {size} bytes long, too short for a checkpoint (truncated or empty)")
    (header_len,) = struct.unpack("<Q", head)
    first = f.read(1)  # peek: a foreign file's "header length" can be huge, so read no more yet
    if header_len > size - 8 or header_len > _MAX_HEADER or header_len < 2 or first != b"{":
        # Not a plausible header: name the foreign format when it is a known one. (Only then: a
        # real header length can begin with a pickle's bytes, e.g. 640 = 80 02 00 ... .)
        _reject_foreign(head, fail)
        if first == b"{":
            fail(
                f"truncated or not a glassgrad checkpoint: its first 8 bytes announce a {header_len}-byte header "
                f"but the file has {size} bytes"
            )
        fail(
            f"truncated or not a glassgrad checkpoint: it does not start with an 8-byte header length and a "
            f"JSON header (first bytes: {head!r})"
        )
    raw = first + f.read(header_len - 1)
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=_ObjectCounter())
    except _TooManyObjects:
        fail(f"hostile or corrupted header: it lists more than the {_MAX_ENTRIES:,} tensors allowed")
    except RecursionError:
        fail("corrupted or hostile header: its JSON is nested too deeply")
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError, NaN, over-long integers
        fail(f"not a glassgrad checkpoint, or its header is corrupted: the header is not valid JSON ({error})")
    if not isinstance(header, dict):
        fail("not a glassgrad checkpoint: the header is not a JSON object")

    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        fail("corrupted header: __metadata__ is not an object")
    if not all(isinstance(v, str) for v in metadata.values()):
        fail("corrupted header: __metadata__ values must be strings (safetensors' rule)")
    if len(header) > _MAX_ENTRIES:
        fail(f"hostile or corrupted header: {len(header):,} tensors listed, more than the {_MAX_ENTRIES:,} allowed")
    entries = _check_table(header, size - 8 - header_len, fail)
    arrays = {}
    for name, (dtype, shape, _, _) in entries:
        try:
            array = np.empty(shape, dtype=np.dtype(dtype).newbyteorder("<"))
        except (ValueError, MemoryError, OverflowError) as error:  # e.g. shape [0, 2**64]: too big for NumPy
            fail(f"corrupted header: tensor {name!r} of shape {list(shape)[:8]} cannot be allocated ({error})")
        if array.nbytes:
            got = f.readinto(memoryview(array).cast("B"))
            if got != array.nbytes:
                fail(f"truncated: tensor {name!r} needs {array.nbytes} bytes, only {got} could be read")
        arrays[name] = array

    ours = metadata.get("format") == FORMAT or any(str(k).startswith("glassgrad.") for k in metadata)
    if ours and metadata.get("format") != FORMAT:
        fail(f"corrupted header: glassgrad metadata with format {metadata.get('format')!r}")
    if not ours:
        # A plain safetensors file: its tensors, by name, in file order.
        from glassgrad.tensor import Tensor

        return {name: Tensor._wrap(arrays[name]) for name, _ in entries}

    structure = metadata.get("glassgrad.structure")
    expected = metadata.get("glassgrad.sha256")
    if not isinstance(structure, str) or not isinstance(expected, str):
        fail("corrupted header: the glassgrad metadata lacks its structure or checksum")
    table = {name: header[name] for name, _ in sorted(entries, key=lambda e: e[1][2])}
    digest = _digest(table, structure, [arrays[name] for name in table]).hexdigest()
    if digest != expected:
        fail(
            f"checksum mismatch: the file is corrupted (sha256 of its contents is {digest[:16]}..., "
            f"the header records {expected[:16]}...); restore it from a backup or re-save it"
        )
    try:
        return Decoder(arrays, fail).decode(json.loads(structure, parse_constant=_reject_constant))
    except ValueError as error:  # JSONDecodeError, NaN, over-long integers
        fail(f"corrupted structure: {error}")
    except RecursionError:
        fail("the saved structure is nested too deeply to rebuild")


class _TooManyObjects(Exception):
    pass


class _ObjectCounter:
    """A json object_pairs_hook that stops parsing once the header holds more objects than it may."""

    def __init__(self):
        self.left = _MAX_ENTRIES + 2  # every tensor entry, __metadata__ and the header itself

    def __call__(self, pairs):
        self.left -= 1
        if self.left < 0:
            raise _TooManyObjects
        return dict(pairs)


def _reject_constant(name):
    raise ValueError(f"the JSON literal {name} is not allowed")


def _reject_foreign(head, fail):
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        fail(
            "this is a Python pickle, not a glassgrad checkpoint; glassgrad.load never unpickles "
            "(a pickle can run arbitrary code). Convert it with PyTorch, in a process you trust, to "
            "safetensors (safetensors.torch.save_file) and load that"
        )
    if head[:4] == b"PK\x03\x04":
        fail(
            "this is a zip archive without a torch data.pkl (a NumPy .npz?), not a glassgrad checkpoint; "
            "load .npz files with numpy.load(allow_pickle=False)"
        )
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        fail("this is an HDF5 file (Keras/h5py), not a glassgrad checkpoint")


def _check_table(header, data_len, fail):
    """Validate the tensor table; returns [(name, (dtype, shape, begin, end))] in offset order."""
    entries = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            fail(f"corrupted header: the entry for tensor {name!r} is not {{dtype, shape, data_offsets}}")
        code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(code, str) or code not in _CODES:
            fail(
                f"tensor {name!r} has dtype {str(code)[:40]!r}, which glassgrad cannot load (supported: {', '.join(_CODES)})"
            )
        if (
            not isinstance(shape, list)
            or len(shape) > _MAX_NDIM
            or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= _MAX_DIM for d in shape)
        ):
            fail(f"corrupted header: tensor {name!r} has shape {str(shape)[:80]}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        ):
            fail(f"corrupted header: tensor {name!r} has data_offsets {str(offsets)[:80]}")
        nbytes = math.prod(shape) * np.dtype(_CODES[code]).itemsize  # exact: no int64 wrap-around
        if offsets[1] - offsets[0] != nbytes:
            fail(
                f"corrupted header: tensor {name!r} of shape {shape} and dtype {code} spans {offsets}, not {nbytes} bytes"
            )
        entries.append((name, (_CODES[code], tuple(shape), offsets[0], offsets[1])))
    entries.sort(key=lambda e: (e[1][2], e[1][3]))
    position = 0
    for name, (_, _, begin, end) in entries:
        if begin != position:
            fail(f"corrupted header: tensor {name!r} starts at byte {begin} of the data, expected {position}")
        position = end
    if position > data_len:
        fail(
            f"truncated: the header describes {position} bytes of tensor data but the file holds only "
            f"{data_len} after the header (expected a file of {position - data_len} more bytes)"
        )
    if position < data_len:
        fail(f"corrupted: {data_len - position} unexpected bytes follow the tensor data")
    return entries
