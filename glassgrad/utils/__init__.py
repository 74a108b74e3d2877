"""Utilities with PyTorch's names: ``glassgrad.utils.data`` holds datasets, samplers and the DataLoader;
``glassgrad.utils.checkpoint`` recomputes activations in backward instead of keeping them."""

from glassgrad.utils import checkpoint, data
