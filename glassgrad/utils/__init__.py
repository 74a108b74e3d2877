"""Utilities with PyTorch's names: ``glassgrad.utils.data`` holds datasets, samplers and the DataLoader."""

from glassgrad.utils import data
