"""Checks for the exercises of the train page."""

__all__: list[str] = []
