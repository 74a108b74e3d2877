"""Checkpoints of a training run: model, optimizer, scheduler, epoch, random states and metrics.

Stored with ``glassgrad.save`` (an open tensor format, never pickle), so a checkpoint from a stranger
cannot run code when loaded. Writes are atomic: an interrupted save leaves the previous file intact.
"""

import json
import random as _pyrandom
import zlib

import numpy as np

import glassgrad

FORMAT = "glassgrad-train-checkpoint"
VERSION = 1


def rng_states(loader=None):
    """Every random stream a training step can draw from: glassgrad's global generator, NumPy's
    and Python's global streams, and the loader's own generator when it has one."""
    states = {
        "glassgrad": glassgrad.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": _pyrandom.getstate(),
    }
    generator = getattr(loader, "generator", None)
    if generator is not None:
        states["loader"] = generator.get_state()
    return states


def set_rng_states(states, loader=None):
    """Put back the streams saved by ``rng_states``."""
    glassgrad.set_rng_state(states["glassgrad"])
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached)))
    version, internal, gauss = states["python"]
    _pyrandom.setstate((int(version), tuple(int(v) for v in internal), gauss))
    generator = getattr(loader, "generator", None)
    if generator is not None and "loader" in states:
        generator.set_state(states["loader"])


def _plain(states):
    """``rng_states``' streams as JSON values (the generators' states are JSON text already)."""
    plain = {}
    for key, value in states.items():
        if key in ("glassgrad", "loader"):
            plain[key] = bytes(value.numpy().astype(np.uint8)).decode()
        elif key == "numpy":
            kind, keys, pos, has_gauss, cached = value
            plain[key] = [str(kind), np.asarray(keys).tolist(), int(pos), int(has_gauss), float(cached)]
        else:  # python: (version, internal, gauss)
            version, internal, gauss = value
            plain[key] = [int(version), [int(v) for v in internal], gauss]
    return plain


def _unplain(plain):
    from glassgrad.tensor import Tensor

    states = {}
    for key, value in plain.items():
        if key in ("glassgrad", "loader"):
            states[key] = Tensor(np.frombuffer(value.encode(), dtype=np.uint8).copy())
        elif key == "numpy":
            kind, keys, pos, has_gauss, cached = value
            states[key] = (kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached)
        else:
            version, internal, gauss = value
            states[key] = (version, tuple(internal), gauss)
    return states


def gather_rng_states(states):
    """Every rank's ``{name: rng_states(...) or None}``, in rank order, on rank 0 (None on the others).

    A collective: every rank of the process group calls it at the same point. Alone, ``[states]``.
    The states travel as JSON bytes, padded to the longest rank's, through ``glassgrad.distributed.gather``.
    """
    from glassgrad import distributed as dist

    if not dist.is_initialized() or dist.get_world_size() == 1:
        return [states]
    rank, size = dist.get_rank(), dist.get_world_size()
    text = json.dumps({name: None if s is None else _plain(s) for name, s in states.items()}).encode()
    lengths = [glassgrad.zeros(1, dtype=glassgrad.int64) for _ in range(size)]
    dist.all_gather(lengths, glassgrad.tensor(np.array([len(text)], dtype=np.int64)))
    longest = max(int(n.item()) for n in lengths)
    mine = np.zeros(longest, dtype=np.uint8)
    mine[: len(text)] = np.frombuffer(text, dtype=np.uint8)
    gathered = [glassgrad.zeros(longest, dtype=glassgrad.uint8) for _ in range(size)] if rank == 0 else None
    dist.gather(glassgrad.tensor(mine), gathered, dst=0)
    if rank != 0:
        return None
    out = []
    for blob, n in zip(gathered, lengths):
        plain = json.loads(bytes(blob.numpy()[: int(n.item())]).decode())
        out.append({name: None if s is None else _unplain(s) for name, s in plain.items()})
    return out


def derived_rng_states(seed, rank, epoch, step, loader=None):
    """Fresh streams for ``rank`` when a checkpoint has none of its own (another world size wrote it).

    Every stream ``rng_states`` covers is seeded from ``numpy.random.SeedSequence([seed, rank, epoch,
    step])``: deterministic for a given checkpoint and rank, and different for every rank, so that no
    two ranks share a dropout or augmentation stream (``seed``: the run's seed, see ``Trainer``).
    """
    sequence = np.random.SeedSequence([int(seed) % 2**63, int(rank), int(epoch), int(step)])
    words = sequence.generate_state(4, np.uint64)
    states = {
        "glassgrad": glassgrad.Generator().manual_seed(int(words[0] >> np.uint64(1))).get_state(),
        "numpy": np.random.RandomState(sequence.generate_state(8)).get_state(),
        "python": _pyrandom.Random(int(words[1])).getstate(),
    }
    if getattr(loader, "generator", None) is not None:
        states["loader"] = glassgrad.Generator().manual_seed(int(words[2] >> np.uint64(1))).get_state()
    return states


def state_seed(state):
    """The seed a checkpoint's run started from: its config's ``seed``, else a digest of its first rank's
    glassgrad stream (deterministic for the checkpoint, different between runs)."""
    seed = (state.get("config") or {}).get("seed")
    if isinstance(seed, int):
        return seed
    return zlib.crc32(bytes(np.asarray(state["rng"]["glassgrad"].numpy(), dtype=np.uint8)))


def save_checkpoint(state, path):
    """Write a trainer's state dict (see ``Trainer.state_dict``) to ``path`` atomically."""
    payload = dict(state)
    payload["format"] = FORMAT
    payload["version"] = VERSION
    glassgrad.save(payload, str(path))
    return path


def load_checkpoint(path):
    """Read a checkpoint written by ``save_checkpoint``; raise ``ValueError`` naming the file if it is not one."""
    state = glassgrad.load(str(path))
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a glassgrad training checkpoint (no '{FORMAT}' marker); "
            "give the checkpoint.pt that `glassgrad train` wrote in its --out folder"
        )
    if state.get("version", 0) > VERSION:
        raise ValueError(
            f"{path} was written by a newer glassgrad (checkpoint version {state['version']}); upgrade glassgrad"
        )
    return state


def model_from_checkpoint(state):
    """Rebuild the registered model a checkpoint was trained with, with its weights, in eval mode."""
    from glassgrad.vision.models import MODELS, get_model

    info = state.get("model_info")
    if not info:
        raise ValueError(
            "the checkpoint does not say which model it holds (no model_info); it was not written by `glassgrad train`"
        )
    name, kwargs = info["name"], info.get("kwargs", {})
    if "input_size" in kwargs and f"cifar_{name}" in MODELS:
        # Written before the CIFAR networks took names of their own (resnet18 is now torchvision's).
        name = f"cifar_{name}"
    model = get_model(name, **kwargs)
    model.load_state_dict(state["model"])
    model.eval()
    return model
