"""Checks for the exercises of the norm page."""

__all__: list[str] = []
