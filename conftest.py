"""Every page under docs/ is a test of its code: see tests/page_harness.py."""

pytest_plugins = ["tests.page_harness"]
