"""Every page under docs/ is a test of its code: see tests/site/page_harness.py."""

from _pytest.doctest import DoctestItem

pytest_plugins = ["tests.site.page_harness"]


def pytest_collection_modifyitems(items):
    """Run docstring examples without their module's globals, as a reader who copies one does.

    An example that uses a name must import it, so it runs as copied from the API reference.
    """
    for item in items:
        if isinstance(item, DoctestItem):
            item.dtest.globs = {"__name__": "__main__"}
