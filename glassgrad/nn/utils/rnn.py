"""Variable-length sequences for the recurrent layers: padding and packing, as ``torch.nn.utils.rnn``.

A PackedSequence keeps only the valid steps: ``data`` (sum(lengths), *) holds time step 0 of
every sequence, then time step 1 of those still running, and so on, with the sequences in
decreasing order of length; ``batch_sizes[t]`` says how many run at step t. Packing and
unpacking are each one gather (an index into the data), so gradients flow through both.
"""

from typing import NamedTuple

import numpy as np

from glassgrad import creation, ops
from glassgrad.tensor import Tensor

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]


class PackedSequence(NamedTuple):
    """data (sum(lengths), *), batch_sizes (max_length,) int64, and the permutations that sort the
    batch by decreasing length (``sorted_indices``) and undo it (``unsorted_indices``), or None."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._replace(data=data)

    def float(self):
        return self._replace(data=self.data.float())

    def double(self):
        return self._replace(data=self.data.double())

    def cpu(self):
        return self

    @property
    def is_cuda(self):
        return False

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    """The permutation that undoes ``permutation`` (a 1-D int64 tensor), or None for None."""
    if permutation is None:
        return None
    p = np.asarray(permutation)
    inverse = np.empty_like(p)
    inverse[p] = np.arange(p.size, dtype=p.dtype)
    return creation.tensor(inverse)


def _lengths_array(lengths):
    array = np.asarray(lengths.numpy() if isinstance(lengths, Tensor) else lengths).astype(np.int64).reshape(-1)
    return array


def _rows(lengths, order):
    """(time, batch) index pairs of every valid step, time-major, the batch in ``order``."""
    steps = int(lengths.max()) if lengths.size else 0
    valid = np.arange(steps)[:, None] < lengths[order][None, :]
    t_index, b_index = np.nonzero(valid)
    return t_index, order[b_index], valid.sum(axis=1)


def pack_sorted(padded, lengths, sorted_indices):
    """padded (T, B, *) in the caller's batch order -> PackedSequence sorted by ``sorted_indices``."""
    order = np.arange(lengths.size) if sorted_indices is None else np.asarray(sorted_indices.numpy())
    t_index, b_index, batch_sizes = _rows(lengths, order)
    data = padded[t_index, b_index]
    unsorted = None if sorted_indices is None else invert_permutation(sorted_indices)
    return PackedSequence(data, creation.tensor(batch_sizes.astype(np.int64)), sorted_indices, unsorted)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch: input (T, B, *) or (B, T, *) with batch_first, lengths (B,) on the CPU.

    With ``enforce_sorted`` the lengths must decrease; otherwise the batch is sorted here and the
    permutation kept in the result, so that ``pad_packed_sequence`` restores the original order."""
    lengths = _lengths_array(lengths)
    if batch_first:
        input = input.transpose(0, 1)
    if lengths.size != input.shape[1]:
        raise ValueError(
            f"pack_padded_sequence: got {lengths.size} lengths for a batch of {input.shape[1]} sequences "
            f"(input of shape {tuple(input.shape)}, batch_first={batch_first}); pass one length per sequence"
        )
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError(
            "Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0"
        )
    if lengths.size and lengths.max() > input.shape[0]:
        raise RuntimeError(
            f"pack_padded_sequence: a length of {int(lengths.max())} exceeds the {input.shape[0]} time steps "
            f"of the input of shape {tuple(input.shape)}"
        )
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You can pass "
                "`enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this requirement "
                "if you do not need ONNX exportability."
            )
        sorted_indices = None
    else:
        sorted_indices = creation.tensor(np.argsort(-lengths, kind="stable").astype(np.int64))
    return pack_sorted(input, lengths, sorted_indices)


def _packed_lengths(sequence):
    """The lengths of a PackedSequence's sequences, in the caller's (unsorted) order."""
    batch_sizes = np.asarray(sequence.batch_sizes.numpy()).astype(np.int64)
    n = int(batch_sizes[0]) if batch_sizes.size else 0
    sorted_lengths = (batch_sizes[None, :] > np.arange(n)[:, None]).sum(axis=1)
    if sequence.unsorted_indices is None:
        return sorted_lengths
    return sorted_lengths[np.asarray(sequence.unsorted_indices.numpy())]


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo ``pack_padded_sequence``: (padded (T, B, *) or (B, T, *), lengths (B,) int64), in the
    batch order the sequences had before packing; padded steps hold ``padding_value``."""
    lengths = _packed_lengths(sequence)
    steps = int(lengths.max()) if lengths.size else 0
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in input, but got "
                f"total_length={total_length} and max sequence length being {steps}"
            )
        steps = total_length
    order = np.arange(lengths.size) if sequence.sorted_indices is None else np.asarray(sequence.sorted_indices.numpy())
    t_index, b_index, _ = _rows(lengths, order)
    data = sequence.data
    # Each padded cell names its row of the data; padded cells name one extra row of padding_value.
    where = np.full((steps, lengths.size), t_index.size, dtype=np.int64)
    where[t_index, b_index] = np.arange(t_index.size)
    fill = creation.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype)
    padded = ops.cat([data, fill], 0)[where]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, creation.tensor(lengths.astype(np.int64))


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shapes (L_i, *) into (max L, B, *), or (B, max L, *) with batch_first,
    padding each at its end (``padding_side="right"``) or start ("left") with ``padding_value``."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side should be either 'right' or 'left', but got {padding_side}")
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences; pass at least one tensor")
    trailing = tuple(sequences[0].shape[1:])
    for s in sequences:
        if tuple(s.shape[1:]) != trailing:
            raise RuntimeError(
                f"pad_sequence: all sequences must share their trailing dimensions; got {trailing} "
                f"and {tuple(s.shape[1:])}"
            )
    steps = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        missing = steps - s.shape[0]
        if missing:
            fill = creation.full((missing,) + trailing, padding_value, dtype=s.dtype)
            s = ops.cat([s, fill] if padding_side == "right" else [fill, s], 0)
        rows.append(s)
    return ops.stack(rows, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch back into its sequences: a list of (L_i, *) tensors."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, : int(n)] for i, n in enumerate(_lengths_array(lengths))]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of (L_i, *) tensors: ``pack_padded_sequence(pad_sequence(sequences), lengths)``."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of (L_i, *) tensors that ``pack_sequence`` packed."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
