"""Checkpoints of a training run: model, optimizer, scheduler, epoch, random states and metrics.

Stored with ``glassgrad.save`` (an open tensor format, never pickle), so a checkpoint from a stranger
cannot run code when loaded. Writes are atomic: an interrupted save leaves the previous file intact.
"""

import random as _pyrandom

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
