"""Weights prepared for an algorithm (Winograd's transform, the direct kernel's packing), kept
between forward passes that want no gradient, and reused while the weight's values are unchanged.

Why: a batch-1 forward pass is short, and preparing each weight again on every call was a fifth
of ResNet-20's batch-1 inference under ``glassgrad.compile`` (benchmarks/README.md, "Round 2,
seventh session").

A kept preparation is reused only if the weight's values equal a copy taken when it was made
(``np.array_equal``), never on the array's identity or a tensor's version alone: a weight
written through a NumPy view changes neither. Only weights of ``MAX_ELEMENTS`` or fewer are
kept (for larger ones the preparation is small next to the convolution, and the copies large),
``MAX_BYTES`` of copies and preparations in all, the least recently used dropped first.
"""

import threading
from collections import OrderedDict

import numpy as np

MAX_ELEMENTS = 1 << 18
MAX_BYTES = 64 << 20

_entries: OrderedDict = OrderedDict()  # key -> (copy of the weight, preparation, bytes)
_lock = threading.Lock()
_held = [0]  # bytes held by the entries


def prepared(tag, weight, prepare):
    """``prepare(weight)``, or the array it gave for the same values before; ``tag`` names the
    preparation (the algorithm's name). The result is shared: callers only read it."""
    if weight.size > MAX_ELEMENTS:
        return prepare(weight)
    key = (tag, id(weight), weight.shape, weight.dtype.str)
    with _lock:
        entry = _entries.get(key)
    if entry is not None and np.array_equal(entry[0], weight):
        with _lock:
            if key in _entries:
                _entries.move_to_end(key)
        return entry[1]
    value = prepare(weight)
    size = weight.nbytes + value.nbytes
    with _lock:
        old = _entries.pop(key, None)
        if old is not None:
            _held[0] -= old[2]
        _entries[key] = (weight.copy(), value, size)
        _held[0] += size
        while _held[0] > MAX_BYTES and len(_entries) > 1:
            _held[0] -= _entries.popitem(last=False)[1][2]
    return value


def clear():
    """Drop every kept preparation."""
    with _lock:
        _entries.clear()
        _held[0] = 0
