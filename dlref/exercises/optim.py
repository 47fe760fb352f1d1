"""Checks for the exercises of the optim page."""

__all__: list[str] = []
