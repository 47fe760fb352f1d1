"""Checks for the exercises of the gradients page."""

__all__: list[str] = []
