"""Pytest configuration for the whole repository: every page of docs/ is a test (see tests/page_harness.py)."""

pytest_plugins = ["tests.page_harness"]
