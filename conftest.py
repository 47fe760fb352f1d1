"""Every page under docs/ is a test of its code: see tests/site/page_harness.py.

README.md and CONTRIBUTING.md are plain Markdown outside the site: pytest-codeblocks runs each of
their ``python`` blocks as a test of its own (and their ``sh``/``bash`` blocks as shell commands,
so commands that are not meant to run are fenced ``shell`` or ``text``).
"""

import os
from pathlib import Path

import pytest
import torch
from _pytest.doctest import DoctestItem
from pytest_codeblocks.plugin import MarkdownFile

pytest_plugins = ["tests.site.page_harness"]

ROOT = Path(__file__).resolve().parent
PLAIN_MARKDOWN = {ROOT / "README.md", ROOT / "CONTRIBUTING.md"}


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path: Path, parent):
    """Collect README.md and CONTRIBUTING.md once, block by block, and never as site pages.

    The page harness also takes a Markdown file named on the command line as a page (one test
    running all its blocks together), and pytest-codeblocks takes every ``.md`` file when
    ``--codeblocks`` is given: for these two files, one collector of pytest-codeblocks replaces
    whatever the other hooks returned.
    """
    collectors = yield
    if file_path.resolve() not in PLAIN_MARKDOWN:
        return collectors
    return [MarkdownFile.from_parent(parent, path=file_path)]


def pytest_configure(config):
    """Give each pytest-xdist worker its share of the CPUs, in its own threads and its children's.

    PyTorch starts as many threads as the machine has CPUs. With one worker per CPU, each
    worker's threads wait on CPUs the other workers hold: on 2 CPUs, a small network's training
    steps then take over 30 times as long as on one thread (measured: 15.6 s against 0.46 s).
    """
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        threads = max(1, (os.cpu_count() or 1) // int(workers))
        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)  # for the processes tests start


def pytest_collection_modifyitems(items):
    """Run docstring examples without their module's globals, as a reader who copies one does.

    An example that uses a name must import it, so it runs as copied from the API reference.
    """
    for item in items:
        if isinstance(item, DoctestItem):
            item.dtest.globs = {"__name__": "__main__"}
