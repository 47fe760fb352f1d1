"""Checks for the exercises of the backprop page."""

__all__: list[str] = []
