"""A reader for the numeric arrays of MATLAB level 5 MAT-files (what SVHN's ``*_32x32.mat`` are).

Layout: a 128-byte header (text, subsystem offset, version 0x0100, endian mark ``IM``/``MI``),
then data elements, each a tag (type, byte count; or both packed in 4 bytes for payloads up to 4
bytes) and its payload padded to 8 bytes. An array (``miMATRIX``) holds sub-elements: flags
(class, complex), dimensions, name, real part, optional imaginary part, column-major. Elements
may be zlib-compressed (``miCOMPRESSED``); they are inflated up to the size their inner tag
announces, never further. Cells, structs, objects, sparse and char arrays are skipped: no code
and no pickle is involved at any point.
"""

import zlib

import numpy as np

_MI_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8"}
_MI_MATRIX, _MI_COMPRESSED = 14, 15
_CLASSES = {6: "f8", 7: "f4", 8: "i1", 9: "u1", 10: "i2", 11: "u2", 12: "i4", 13: "u4", 14: "i8", 15: "u8"}
_MAX_INFLATED = 16 << 30


class MatFileError(ValueError):
    """A file that is not a readable MATLAB 5 MAT-file."""


def _tag(buf, pos, end, order, path):
    if pos + 8 > end:
        raise MatFileError(f"loadmat: {path} is truncated (a data element's tag at byte {pos} runs past the end)")
    word = int.from_bytes(buf[pos : pos + 4], order)
    if word >> 16:  # small element: byte count in the high half, payload in the next 4 bytes
        return word & 0xFFFF, word >> 16, pos + 4, pos + 8
    nbytes = int.from_bytes(buf[pos + 4 : pos + 8], order)
    start = pos + 8
    if start + nbytes > end:
        raise MatFileError(
            f"loadmat: {path} is truncated: an element at byte {pos} announces {nbytes} bytes, "
            f"{end - start} remain; delete it and fetch it again"
        )
    following = start + nbytes if word == _MI_COMPRESSED else start + ((nbytes + 7) // 8) * 8
    return word, nbytes, start, following


def _numbers(buf, mi_type, start, nbytes, endian, path):
    if mi_type not in _MI_TYPES:
        raise MatFileError(f"loadmat: {path} stores numbers as element type {mi_type}, which is not numeric")
    dtype = np.dtype(endian + _MI_TYPES[mi_type])
    if nbytes % dtype.itemsize:
        raise MatFileError(f"loadmat: {path} has {nbytes} bytes of {dtype} data, not a whole number of values")
    return np.frombuffer(buf, dtype, nbytes // dtype.itemsize, start)


def _matrix(buf, start, end, endian, order, path):
    """``(name, array)`` of a miMATRIX payload, or ``(name, None)`` for a kind of array skipped here."""
    parts = []
    pos = start
    while pos < end and len(parts) < 5:
        mi_type, nbytes, data, pos = _tag(buf, pos, end, order, path)
        parts.append((mi_type, nbytes, data))
    if len(parts) < 3:
        raise MatFileError(f"loadmat: {path} has an array element with {len(parts)} parts (flags, dims, name...)")
    flags = _numbers(buf, parts[0][0], parts[0][2], parts[0][1], endian, path)
    mx_class, is_complex = int(flags[0]) & 0xFF, bool(int(flags[0]) & 0x800)
    dims = tuple(int(d) for d in _numbers(buf, parts[1][0], parts[1][2], parts[1][1], endian, path))
    name = bytes(buf[parts[2][2] : parts[2][2] + parts[2][1]]).decode("ascii", "replace")
    if mx_class not in _CLASSES:
        return name, None
    if len(parts) < 4 or (is_complex and len(parts) < 5):
        raise MatFileError(f"loadmat: {path}: the array {name!r} has no data part")
    if any(d < 0 for d in dims):
        raise MatFileError(f"loadmat: {path}: the array {name!r} has negative dimensions {dims}")
    real = _numbers(buf, parts[3][0], parts[3][2], parts[3][1], endian, path)
    count = int(np.prod(dims, dtype=object))
    if real.size != count:
        raise MatFileError(f"loadmat: {path}: the array {name!r} of shape {dims} holds {real.size} values")
    out = real.astype(_CLASSES[mx_class])
    if is_complex:
        imag = _numbers(buf, parts[4][0], parts[4][2], parts[4][1], endian, path)
        out = out + 1j * imag.astype(_CLASSES[mx_class])
    return name, out.reshape(dims, order="F")


def _inflate(buf, start, nbytes, order, path):
    """The one element a miCOMPRESSED payload holds, inflated no further than its tag announces."""
    inflater = zlib.decompressobj()
    src = memoryview(buf)[start : start + nbytes]
    try:
        head = inflater.decompress(src, 8)
        if len(head) < 8:
            raise MatFileError(f"loadmat: {path}: a compressed element is too short to hold a tag")
        word = int.from_bytes(head[:4], order)
        wanted = 0 if word >> 16 else int.from_bytes(head[4:8], order)
        if wanted > _MAX_INFLATED:
            raise MatFileError(f"loadmat: {path}: a compressed element announces {wanted} bytes; refusing")
        body = inflater.decompress(inflater.unconsumed_tail, wanted)
    except zlib.error as error:
        raise MatFileError(f"loadmat: {path} has a corrupted compressed element ({error}); fetch it again") from error
    if len(body) < wanted:
        raise MatFileError(f"loadmat: {path}: a compressed element inflates to {len(body)} of {wanted} bytes")
    return head + body


def loadmat(path, variable_names=None):
    """``{name: ndarray}`` of the numeric arrays in the MAT-file ``path`` (level 5, MATLAB up to v7).

    ``variable_names`` limits the result (and errors if one is missing). Arrays keep MATLAB's
    shape (at least 2-d) and class (double -> float64, uint8 -> uint8, ...).
    """
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 128:
        raise MatFileError(f"loadmat: {path} is {len(buf)} bytes, shorter than a MAT-file header")
    if buf[:10] == b"MATLAB 7.3" or buf[124:126] in (b"\x00\x02", b"\x02\x00"):
        raise MatFileError(
            f"loadmat: {path} is a MATLAB 7.3 (HDF5) file; read it with h5py, or re-save it with save -v7"
        )
    mark = buf[126:128]
    if mark not in (b"IM", b"MI"):
        raise MatFileError(f"loadmat: {path} is not a MATLAB 5 MAT-file (endian mark {mark!r}, expected IM or MI)")
    endian, order = ("<", "little") if mark == b"IM" else (">", "big")
    wanted = None if variable_names is None else set(variable_names)
    found = {}
    pos = 128
    while pos < len(buf):
        mi_type, nbytes, data, pos = _tag(buf, pos, len(buf), order, path)
        elem_buf, elem_start, elem_end = buf, data, data + nbytes
        if mi_type == _MI_COMPRESSED:
            elem_buf = _inflate(buf, data, nbytes, order, path)
            mi_type, nbytes, elem_start, _ = _tag(elem_buf, 0, len(elem_buf), order, path)
            elem_end = elem_start + nbytes
        if mi_type != _MI_MATRIX:
            continue
        name, array = _matrix(elem_buf, elem_start, elem_end, endian, order, path)
        if array is not None and (wanted is None or name in wanted):
            found[name] = array
    if wanted is not None and wanted - set(found):
        raise MatFileError(
            f"loadmat: {path} has no numeric variable {sorted(wanted - set(found))}; it holds {sorted(found) or 'none'}"
        )
    return found
