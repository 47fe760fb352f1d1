"""Fixtures shared by the site tests."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from tests.site.site_build import BuiltSite, build_site


def made_once(
    name: str,
    tmp_path_factory,
    worker_id: str,
    make: Callable[[Path], object],
    record: Callable[[object], dict],
    restore: Callable[[dict, Path], object],
):
    """What ``make`` returns, made once per test run, whichever pytest-xdist worker asks first.

    The first worker to ask makes it (``make`` gets a folder every worker shares) and stores
    ``record`` of it as JSON; a worker that asks while it is being made waits for it, then
    rebuilds it from the record with ``restore``.
    """
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # the folder every worker of this test run shares
    with FileLock(root / f"{name}.lock"):
        stored = root / f"{name}.json"
        if stored.exists():
            return restore(json.loads(stored.read_text(encoding="utf-8")), root)
        value = make(root)
        stored.write_text(json.dumps(record(value)), encoding="utf-8")
        return value


@pytest.fixture(scope="session")
def built_site(page_runs, tmp_path_factory, worker_id) -> BuiltSite:
    """The site built with ``mkdocs build --strict`` after every page's code ran in this session,
    once for all the workers (``made_once``)."""
    return made_once(
        "site",
        tmp_path_factory,
        worker_id,
        make=lambda root: build_site(root / "site"),
        record=lambda site: {"seconds": site.seconds, "log": site.log},
        restore=lambda built, root: BuiltSite(root / "site", built["seconds"], built["log"]),
    )
