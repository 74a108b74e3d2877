"""Checkpoints without pickle: ``save``/``load`` in a safetensors-compatible format."""

from glassgrad.io.checkpoint import CheckpointError, load, save

__all__ = ["CheckpointError", "load", "save"]
