"""Whole networks, one module each; their layers and functions live flat in ``dlref``.

Explained on the page [A feedforward network in PyTorch](../projects/feedforward-network.md).
"""
