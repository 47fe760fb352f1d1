"""Checks for the exercises of the activations page."""

__all__: list[str] = []
